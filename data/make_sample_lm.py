"""Pretrain the small AWD-LSTM language model bundled for sample mode (lesson 5, ULMFiT step 1).

Full mode starts from fastai's WT103 model (emb 400, hidden 1152, 3 layers,
pretrained on Wikipedia). Sample mode cannot download it, so this script trains a
miniature of it (emb 64, hidden 192, 3 layers) on the general English that ships
with Python (`coursesamples.english`: the language reference and
standard-library docstrings) and saves it in WT103's file format, so both modes
go through the same loading code:

    data/weights/awd_lstm_small/lstm_fwd.pth     (fastai's key names, float32)
    data/weights/awd_lstm_small/itos_wt103.pkl   (the vocabulary, a pickled list of str)

Run from the repository root (CPU, seeded, one thread so the bytes repeat):

    python data/make_sample_lm.py

Measured when the committed files were made (Python 3.11.7, torch 2.x, one thread
of a 2-core Xeon shared with other jobs): 4,232 documents, 225,878 tokens, vocabulary
3,663; 12 epochs in 503 s (21-55 s an epoch depending on the load; about 5 minutes
on an idle core); validation perplexity 58.8, next-word accuracy 0.298; 3.3 MB.
A different Python version collects slightly different docstrings, so its bytes differ; and the
committed files predate the seeded language-model loaders (they shuffled from torch's global
generator), so a fresh run gives other bytes.
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
from coursehelpers.text.tokenize import tokenize_texts
from coursehelpers.text.ulmfit import language_model, save_fastai_lm
from coursesamples.english import english_corpus

OUT = Path(__file__).resolve().parent / "weights" / "awd_lstm_small"
SIZES = dict(emb_size=64, hidden_size=192, n_layers=3)


def main(epochs: int = 12, lr: float = 5e-3, bs: int = 32, seq_len: int = 64, min_freq: int = 3,
         drop_mult: float = 0.3, embed_init: float = 0.8, threads: int = 1, seed: int = 42, out: Path = OUT) -> None:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    set_seed(seed)
    docs = tokenize_texts(english_corpus())
    vocab = Vocab.build(docs, min_freq=min_freq)
    ids = [vocab.encode(d) for d in docs]
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed)).tolist()
    n_valid = len(ids) // 10
    valid, train = [ids[i] for i in order[:n_valid]], [ids[i] for i in order[n_valid:]]
    print(f"{len(docs)} documents, {sum(map(len, ids)):,} tokens, vocabulary {len(vocab):,}")

    dls = lm_dataloaders(train, valid, bs, seq_len, seed=seed, device=torch.device("cpu"))
    model = language_model(len(vocab), drop_mult=drop_mult, embed_init=embed_init, **SIZES)
    learn = Learner(model, dls, nn.CrossEntropyLoss(), metrics=[batchwise(accuracy)],
                    config=TrainConfig(grad_clip=0.25))
    learn.fit_one_cycle(epochs, lr)

    ppl = math.exp(learn.history.valid_loss.iloc[-1])
    acc = learn.history.accuracy.iloc[-1]
    save_fastai_lm(model, vocab.itos, out)
    size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"validation perplexity {ppl:.1f}, next-word accuracy {acc:.3f}; "
          f"{time.perf_counter() - start:.0f} s; wrote {out} ({size:.1f} MB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    main(epochs=args.epochs, threads=args.threads, out=args.out)
