"""Text as numbers, and the batches ULMFiT trains on: language-model streams and labelled texts."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, IterableDataset, Sampler

from coursehelpers.dataloaders import DataLoaders, Prepare
from coursehelpers.text.tokenize import PAD, PAD_IDX, SPECIALS, UNK, UNK_IDX, tokenize


class Vocab:
    """Tokens to ids and back. Specials first; unknown tokens map to ``xxunk`` (id 0)."""

    def __init__(self, itos: Sequence[str]):
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if self.itos[UNK_IDX] != UNK or self.itos[PAD_IDX] != PAD:
            raise ValueError(f"A vocabulary must start with {UNK!r}, {PAD!r}; got {self.itos[:2]}.")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 3, max_vocab: int = 60000) -> "Vocab":
        """Tokens seen ``min_freq`` times or more, most frequent first (ties alphabetical), ``max_vocab`` in all."""
        counts = Counter(t for toks in token_lists for t in toks)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in SPECIALS),
                        key=lambda t: (-counts[t], t))
        return cls(list(SPECIALS) + ranked[: max(max_vocab - len(SPECIALS), 0)])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> Tensor:
        return torch.tensor([self.stoi.get(t, UNK_IDX) for t in tokens], dtype=torch.long)

    def decode(self, ids: Iterable[int] | Tensor) -> list[str]:
        return [self.itos[i] for i in (ids.tolist() if isinstance(ids, Tensor) else ids)]


def texts_from_folders(root: str | Path, classes: Sequence[str] = ("neg", "pos")) -> tuple[list[str], list[int]]:
    """Read ``root/<class>/*.txt`` (IMDB's layout) in sorted order: the texts and their class indices."""
    texts, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(Path(root, name).glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"No .txt files in {Path(root, name)}: expected {root}/<class>/*.txt.")
        texts += [f.read_text(encoding="utf-8") for f in files]
        labels += [label] * len(files)
    return texts, labels


class LMStreams(IterableDataset):
    """Language-model batches ``(x, y)``: all texts joined into one stream, cut into ``bs`` rows.

    Batch k holds columns ``[a_k, b_k)`` of every row, so row r of the next batch continues row r
    of this one (the model carries its state across batches); ``y`` is the next token at each
    position, flattened. With ``shuffle`` each pass reorders the texts and, as in AWD-LSTM, draws
    window lengths (seq_len with probability 0.95, else half, plus N(0, 5), at least 5), rescaled
    to tile the stream in `len` batches, from a generator seeded with ``seed``."""

    def __init__(self, docs: Sequence[Tensor], bs: int = 64, seq_len: int = 72, shuffle: bool = False, seed: int = 0):
        self.docs, self.bs, self.seq_len, self.shuffle = list(docs), bs, seq_len, shuffle
        self.generator = torch.Generator().manual_seed(seed)
        total = sum(len(d) for d in self.docs)
        self.n_cols = total // bs - 1  # input positions per row; the last token is only a target
        if self.n_cols < 1:
            raise ValueError(f"{total} tokens are too few for {bs} streams: use a smaller bs.")

    def __len__(self) -> int:
        return math.ceil(self.n_cols / self.seq_len)

    def boundaries(self) -> list[int]:
        """The column where each batch starts, then the end."""
        if not self.shuffle:
            return list(range(0, self.n_cols, self.seq_len)) + [self.n_cols]
        lengths = []
        for _ in range(len(self)):
            base = self.seq_len if torch.rand(1, generator=self.generator).item() < 0.95 else self.seq_len / 2
            lengths.append(max(5.0, base + 5 * torch.randn(1, generator=self.generator).item()))
        ends = torch.tensor(lengths).cumsum(0)
        return [0] + (ends / ends[-1] * self.n_cols).round().long().tolist()

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = torch.randperm(len(self.docs), generator=self.generator) if self.shuffle else range(len(self.docs))
        rows = torch.cat([self.docs[i] for i in order])[: self.bs * (self.n_cols + 1)].view(self.bs, -1)
        cuts = self.boundaries()
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b > a:
                yield rows[:, a:b].contiguous(), rows[:, a + 1:b + 1].reshape(-1)


def lm_dataloaders(train_docs: Sequence[Tensor], valid_docs: Sequence[Tensor], bs: int = 64, seq_len: int = 72,
                   seed: int = 0, device: torch.device | None = None) -> DataLoaders:
    """Language-model DataLoaders: shuffled `LMStreams` for training, in order for validation (same ``bs``)."""
    return DataLoaders.from_datasets(LMStreams(train_docs, bs, seq_len, shuffle=True, seed=seed),
                                     LMStreams(valid_docs, bs, seq_len), bs, seed=seed, device=device)


class TextClassDataset(Dataset):
    """Numericalised texts (their first ``max_len`` tokens) and integer labels; ``classes`` names them."""

    def __init__(self, docs: Sequence[Tensor], labels: Sequence[int], classes: Sequence[str] | None = None,
                 max_len: int = 1440):
        if len(docs) != len(labels):
            raise ValueError(f"{len(docs)} texts but {len(labels)} labels.")
        self.docs, self.labels, self.max_len = list(docs), list(labels), max_len
        self.classes = list(classes) if classes is not None else None

    def __len__(self) -> int:
        return len(self.docs)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.docs[i][: self.max_len], self.labels[i]


def pad_collate(items: Sequence[tuple[Tensor, int]]) -> tuple[Tensor, Tensor]:
    """Texts as ``(bs, longest)`` ids padded at the END, and their labels. The LSTM reads forwards,
    so the real tokens' outputs do not change, and the classifier's pooling skips the pads."""
    x = torch.full((len(items), max(len(t) for t, _ in items)), PAD_IDX, dtype=torch.long)
    for row, (t, _) in enumerate(items):
        x[row, : len(t)] = t
    return x, torch.tensor([label for _, label in items], dtype=torch.long)


class SortishBatches(Sampler[list[int]]):
    """Batches of texts of similar lengths (little padding): the ``batches`` of `DataLoaders.from_datasets`.

    Training: shuffle, sort each chunk of ``50 * bs`` texts by length, cut into batches, shuffle
    those. Validation: longest first, so ``[i for b in dls.valid_dl.batch_sampler for i in b]``
    lists the text of each prediction.

    Example:
        >>> ds = TextClassDataset([torch.ones(n) for n in (1, 4, 2, 3)], [0, 1, 0, 1])
        >>> list(SortishBatches(ds, 2, shuffle=False, generator=torch.Generator(), drop_last=False))
        [[1, 3], [2, 0]]
    """

    def __init__(self, ds: Dataset, bs: int, shuffle: bool, generator: torch.Generator, drop_last: bool):
        self.lengths = [len(ds[i][0]) for i in range(len(ds))]
        self.bs, self.shuffle, self.generator, self.drop_last = bs, shuffle, generator, drop_last

    def __len__(self) -> int:
        return len(self.lengths) // self.bs if self.drop_last else math.ceil(len(self.lengths) / self.bs)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        order = torch.randperm(n, generator=self.generator).tolist() if self.shuffle else list(range(n))
        size = 50 * self.bs if self.shuffle else max(n, 1)  # training sorts within chunks, validation all at once
        order = [i for c in range(0, n, size) for i in sorted(order[c:c + size], key=lambda i: -self.lengths[i])]
        batches = [order[i:i + self.bs] for i in range(0, n, self.bs)][: len(self)]
        if self.shuffle:
            batches = [batches[k] for k in torch.randperm(len(batches), generator=self.generator).tolist()]
        return iter(batches)


class TextPrepare(Prepare):
    """Texts need nothing on the device; `encode` turns ONE raw text into ids like the training data."""

    def __init__(self, vocab: Vocab, max_len: int = 1440):
        self.vocab, self.max_len = vocab, max_len

    def encode(self, text: str) -> tuple[Tensor]:
        return (self.vocab.encode(tokenize(text))[: self.max_len].unsqueeze(0),)

    def config(self) -> dict:
        return {"kind": "text", "itos": list(self.vocab.itos), "max_len": self.max_len}

    @classmethod
    def from_config(cls, config: dict) -> "TextPrepare":
        return cls(Vocab(config["itos"]), config["max_len"])


def text_classifier_dataloaders(train_ds: TextClassDataset, valid_ds: TextClassDataset, vocab: Vocab,
                                bs: int = 64, seed: int = 0, device: torch.device | None = None) -> DataLoaders:
    """Classifier DataLoaders: `SortishBatches` padded by `pad_collate`; `predict` encodes a text with ``vocab``."""
    return DataLoaders.from_datasets(train_ds, valid_ds, bs, seed=seed, device=device,
                                     prepare=TextPrepare(vocab, train_ds.max_len), classes=train_ds.classes,
                                     collate_fn=pad_collate, batches=SortishBatches)
