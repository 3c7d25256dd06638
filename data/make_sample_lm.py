"""Pretrain the small AWD-LSTM language model bundled for sample mode (lesson 5, ULMFiT step 1).

Full mode starts from fastai's WT103 model (emb 400, hidden 1152, 3 layers, pretrained on
Wikipedia). Sample mode cannot download it, so this script trains a miniature of it (emb 64,
hidden 192, 3 layers) on general English that Debian ships: WordNet 3.0's definitions and
example sentences (`coursesamples.english`; `apt-get install wordnet-base`), tokenized by
the course's fastai tokenizer, and saves it in WT103's file format, so both modes go through
the same loading code (fastai's own `language_model_learner(pretrained_fnames=...)` loads it too):

    data/weights/awd_lstm_small/lstm_fwd.pth     (fastai's keys, in fastai's order, float32)
    data/weights/awd_lstm_small/itos_wt103.pkl   (the vocabulary, a pickled list of str)

Its embedding does not start at random: a narrow model trained for minutes sees most words
too rarely to move their rows far from noise (the one-epoch random start this replaced left
"good" with random neighbours, and its encoder's features told the lesson's sentiments apart no
better than a random encoder's: 57% on validation by logistic regression). It starts
from PPMI word vectors of the training glosses (`coursehelpers.text.embeddings.ppmi_svd`, a few
seconds), scaled to the spread of the random start they replace, then the whole model trains.

Run from the repository root (CPU, seeded; one thread so the bytes repeat; nice it on a shared
machine):

    OMP_NUM_THREADS=1 nice -n 10 python data/make_sample_lm.py

The run that made the committed files printed its corpus, vocabulary, time and perplexity;
data/README.md records them.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from torch import nn

from coursehelpers.config import TrainConfig
from coursehelpers.core import set_seed
from coursehelpers.learner import Learner
from coursehelpers.metrics import accuracy, batchwise
from coursehelpers.text.data import Vocab, lm_dataloaders
from coursehelpers.text.embeddings import ppmi_svd
from coursehelpers.text.tokenize import tokenize_texts
from coursehelpers.text.ulmfit import language_model, save_fastai_lm
from coursesamples.english import wordnet_corpus

OUT = Path(__file__).resolve().parent / "weights" / "awd_lstm_small"
SIZES = dict(emb_size=64, hidden_size=192, n_layers=3)


def main(epochs: int = 2, lr: float = 1e-2, bs: int = 64, seq_len: int = 64, min_freq: int = 3,
         max_vocab: int = 16000, drop_mult: float = 0.1, embed_init: float = 0.8, threads: int = 1,
         seed: int = 42, out: Path = OUT) -> None:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    set_seed(seed)
    docs = tokenize_texts(wordnet_corpus())
    vocab = Vocab.build(docs, min_freq=min_freq, max_vocab=max_vocab)
    ids = [vocab.encode(d) for d in docs]
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed)).tolist()
    n_valid = len(ids) // 20
    valid, train = [ids[i] for i in order[:n_valid]], [ids[i] for i in order[n_valid:]]
    print(f"{len(docs):,} documents, {sum(map(len, ids)):,} tokens, vocabulary {len(vocab):,}; "
          f"tokenized in {time.perf_counter() - start:.0f} s", flush=True)

    dls = lm_dataloaders(train, valid, bs, seq_len, seed=seed, device=torch.device("cpu"))
    model = language_model(len(vocab), drop_mult=drop_mult, embed_init=embed_init, **SIZES)
    vectors = ppmi_svd(train, len(vocab), dim=SIZES["emb_size"], seed=seed)  # the held-out glosses stay unseen
    with torch.no_grad():  # the spread of U(-embed_init, embed_init), the random start this replaces
        model.encoder.embed.weight.copy_(vectors / vectors.std() * (embed_init / math.sqrt(3)))
    print(f"PPMI start for the embedding: {time.perf_counter() - start:.0f} s", flush=True)
    learn = Learner(model, dls, nn.CrossEntropyLoss(), metrics=[batchwise(accuracy)],
                    config=TrainConfig(grad_clip=0.25, progress=False))
    learn.fit_one_cycle(epochs, lr)

    ppl = math.exp(learn.history.valid_loss.iloc[-1])
    acc = learn.history.accuracy.iloc[-1]
    save_fastai_lm(model, vocab.itos, out)
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"validation perplexity {ppl:.1f}, next-word accuracy {acc:.3f}; "
          f"{time.perf_counter() - start:.0f} s; wrote {out} ({size:.1f} MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    main(epochs=args.epochs, threads=args.threads, out=args.out)
