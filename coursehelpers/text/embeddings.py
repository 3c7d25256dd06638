"""Word vectors from counts: the start the sample language model's embedding is given before it trains.

A narrow language model trained for minutes on a CPU sees most words too rarely to move their
embedding rows far from a random start, so their neighbours stay random. Counting which words
occur near which (``window`` tokens either side), weighting each pair by its positive pointwise
mutual information (PPMI, with the context counts raised to 0.75: Levy, Goldberg & Dagan, 2015)
and keeping the top ``dim`` singular directions gives every word a vector from all of its
occurrences at once, in seconds. ``data/make_sample_lm.py`` starts its embedding there.

Example:
    >>> docs = [torch.tensor([2, 3, 4, 2, 3, 4]), torch.tensor([5, 6, 5, 6])]
    >>> ppmi_svd(docs, vocab_size=7, dim=2, window=1).shape
    torch.Size([7, 2])
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds
from torch import Tensor


def cooccurrences(docs: Sequence[Tensor], vocab_size: int, window: int = 5) -> sp.csr_matrix:
    """Symmetric counts: entry (i, j) is how often ids i and j occur at most ``window`` apart in one document."""
    pairs = [(d[:-k].numpy(), d[k:].numpy()) for d in docs for k in range(1, window + 1) if len(d) > k]
    if not pairs:
        return sp.csr_matrix((vocab_size, vocab_size))
    rows, cols = np.concatenate([a for a, _ in pairs]), np.concatenate([b for _, b in pairs])
    counts = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(vocab_size, vocab_size)).tocsr()
    return (counts + counts.T).tocsr()


def ppmi(counts: sp.spmatrix, alpha: float = 0.75) -> sp.csr_matrix:
    """max(0, log p(i, j) / (p(i) p_alpha(j))), context frequencies smoothed by ``alpha``; zero counts stay zero."""
    counts = sp.coo_matrix(counts)
    total = counts.sum()
    word = np.asarray(counts.sum(1)).ravel()
    context = word ** alpha
    context = context / context.sum() * total
    pmi = np.log(counts.data * total / (word[counts.row] * context[counts.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (counts.row[keep], counts.col[keep])), shape=counts.shape)


def ppmi_svd(docs: Sequence[Tensor], vocab_size: int, dim: int = 64, window: int = 5, seed: int = 0) -> Tensor:
    """``(vocab_size, dim)`` word vectors: U * sqrt(S) of the PPMI matrix's top ``dim`` singular triples
    (seeded, so a run repeats); a word never seen gets a zero row."""
    matrix = ppmi(cooccurrences(docs, vocab_size, window))
    start = np.random.default_rng(seed).uniform(-1, 1, vocab_size)
    u, s, _ = svds(matrix, k=dim, v0=start)
    order = np.argsort(-s)  # largest first, whatever order ARPACK returns
    return torch.tensor(u[:, order] * np.sqrt(s[order]), dtype=torch.float32)
