"""Text for ULMFiT: tokenizer, vocabulary, language-model and classifier batches, AWD-LSTM.

The pieces, in the order a lesson uses them:

- `tokenize`: a rule-based English tokenizer written here (no spaCy: the course
  does not take that dependency). Words and punctuation are split with regular
  expressions in the spirit of spaCy's blank English tokenizer ("don't" -> "do",
  "n't"; "it's" -> "it", "'s"), then special tokens record what lowercasing and
  compression would lose: ``xxbos`` (beginning of a text), ``xxmaj`` (the next
  word was Capitalised), ``xxup`` (the next word was ALL CAPS), ``xxrep n c``
  (a character repeated n >= 3 times: "!!!!" -> ``xxrep 4 !``), ``xxwrep n w`` (a word
  repeated n times). ``xxunk`` (unknown) and ``xxpad`` (padding) come from `Vocab`.
- `Vocab`: tokens <-> integer ids, specials first, rare tokens become ``xxunk``.
- `lm_loader`: language-model batches. All texts are joined into one stream, cut
  into ``bs`` parallel streams, and read in windows of (randomly varying) length;
  the target is the input shifted by one token.
- `classifier_loader`: labelled texts in batches of similar length, padded at the end.
- `AWDLSTM`, `LanguageModel`, `TextClassifier`: the model of Merity et al. (2017)
  with the dropouts of AWD-LSTM, tied weights, and a concat-pooling head.
- `load_pretrained_lm` / `save_fastai_lm`: read and write fastai's WT103 file
  format, copying rows of tokens the new vocabulary shares with the old one.

Example:
    >>> toks = tokenize("I LOVED it!!!! Don't miss it.")
    >>> " ".join(toks)
    "xxbos xxmaj i xxup loved it xxrep 4 ! xxmaj do n't miss it ."
    >>> vocab = Vocab.build([toks], min_freq=1)
    >>> vocab.decode(vocab.encode(toks)) == toks
    True
"""
from __future__ import annotations

import html
import math
import pickle
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

# ----------------------------------------------------------------------------- tokenizer

UNK, PAD, BOS, MAJ, UP, REP, WREP = "xxunk", "xxpad", "xxbos", "xxmaj", "xxup", "xxrep", "xxwrep"
# Specials come first in every vocabulary, so their ids never change: xxunk is 0 and xxpad is 1,
# as in fastai's vocabularies (WT103 included).
SPECIALS = (UNK, PAD, BOS, MAJ, UP, REP, WREP)
UNK_IDX, PAD_IDX = 0, 1

_TAG = re.compile(r"<[^<>]{0,40}>")            # html tags such as <br /> and <i>, as found in IMDB reviews
_CHAR_REP = re.compile(r"([^\s\d])\1{2,}")      # a non-digit character 3+ times in a row ("1000" is kept)
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"""
      \d+(?:[.,:]\d+)*              # numbers: 7, 7.5, 1,000, 10:30
    | [^\W\d_]+?(?=n't\b)           # the "do" of "don't" (spaCy splits the negation off)
    | n't\b
    | '(?:s|re|ve|ll|d|m)\b         # clitics: it's -> it 's
    | \w+                           # other words
    | [^\w\s]                       # any other character on its own: punctuation, symbols
""", re.VERBOSE | re.IGNORECASE)


def clean_text(text: str) -> str:
    """Undo html escapes, turn tags such as ``<br />`` into spaces, straighten quotes.

    Example:
        >>> clean_text("Great!<br /><br />Loved it &amp; more")
        'Great! Loved it & more'
    """
    text = html.unescape(text).replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    return _SPACES.sub(" ", _TAG.sub(" ", text)).strip()


def _mark_char_repeats(text: str) -> str:
    return _CHAR_REP.sub(lambda m: f" {REP} {len(m.group(0))} {m.group(1)} ", text)


def _mark_word_repeats(words: list[str]) -> list[str]:
    """Runs of 3+ equal words (ignoring case) become ``xxwrep n word``."""
    out, i = [], 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and words[j + 1].lower() == words[i].lower():
            j += 1
        n = j - i + 1
        out += [WREP, str(n), words[i]] if n >= 3 else words[i:j + 1]
        i = j + 1
    return out


def _mark_case(words: list[str]) -> list[str]:
    """Lowercase every word, after an ``xxup`` or ``xxmaj`` marker where the case carried meaning."""
    out = []
    for w in words:
        if w in SPECIALS:
            out.append(w)
        elif len(w) > 1 and w.isupper():
            out += [UP, w.lower()]
        elif w[:1].isupper():
            out += [MAJ, w.lower()]
        else:
            out.append(w.lower())
    return out


def tokenize(text: str) -> list[str]:
    """Split one text into lowercase tokens with special markers; starts with ``xxbos``.

    Example:
        >>> tokenize("It's NOT good... not good not good")
        ['xxbos', 'xxmaj', 'it', "'s", 'xxup', 'not', 'good', 'xxrep', '3', '.', 'not', 'good', 'not', 'good']
        >>> tokenize("very very very bad")
        ['xxbos', 'xxwrep', '3', 'very', 'bad']
    """
    words = _TOKEN.findall(_mark_char_repeats(clean_text(text)))
    return [BOS] + _mark_case(_mark_word_repeats(words))


def tokenize_texts(texts: Sequence[str], processes: int = 1) -> list[list[str]]:
    """`tokenize` every text, in ``processes`` worker processes when more than 1 (for big corpora).

    Example:
        >>> tokenize_texts(["Hi.", "Bye!"])
        [['xxbos', 'xxmaj', 'hi', '.'], ['xxbos', 'xxmaj', 'bye', '!']]
    """
    if processes <= 1:
        return [tokenize(t) for t in texts]
    with Pool(processes) as pool:
        return pool.map(tokenize, texts, chunksize=256)


_NO_SPACE_BEFORE = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m|[.,!?;:)])")


def untokenize(tokens: Iterable[str]) -> str:
    """Turn tokens back into readable text (undo the markers; approximate spacing).

    Example:
        >>> untokenize(tokenize("I LOVED it!!!! Don't miss it."))
        "I LOVED it!!!! Don't miss it."
    """
    words, toks = [], list(tokens)
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in (REP, WREP) and i + 2 < len(toks) and toks[i + 1].isdigit():
            n, w = int(toks[i + 1]), toks[i + 2]
            words.append(w * n if t == REP else " ".join([w] * n))
            i += 3
            continue
        if t in (MAJ, UP) and i + 1 < len(toks) and toks[i + 1] not in SPECIALS:
            nxt = toks[i + 1]
            words.append(nxt.capitalize() if t == MAJ else nxt.upper())
            i += 2
            continue
        if t not in SPECIALS or t == UNK:
            words.append(t)
        i += 1
    return _NO_SPACE_BEFORE.sub(r"\1", " ".join(words))


def texts_from_folders(root: str | Path, classes: Sequence[str] = ("neg", "pos")) -> tuple[list[str], list[int]]:
    """Read ``root/<class>/*.txt`` (IMDB's layout) in sorted order: texts and class indices.

    Example:
        >>> texts, labels = texts_from_folders(get_data("imdb") / "train")  # doctest: +SKIP
    """
    texts, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(Path(root, name).glob("*.txt"))
        if not files:
            raise FileNotFoundError(f"No .txt files in {Path(root, name)}: expected {root}/<class>/*.txt.")
        texts += [f.read_text(encoding="utf-8") for f in files]
        labels += [label] * len(files)
    return texts, labels


# ----------------------------------------------------------------------------- vocabulary

class Vocab:
    """Tokens to ids and back. Specials first; unknown tokens map to ``xxunk`` (id 0).

    Example:
        >>> v = Vocab.build([["xxbos", "a", "b", "a"]], min_freq=2)
        >>> v.itos[len(SPECIALS):], v.encode(["a", "b"]).tolist()
        (['a'], [7, 0])
    """

    def __init__(self, itos: Sequence[str]):
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if self.itos[UNK_IDX] != UNK or self.itos[PAD_IDX] != PAD:
            raise ValueError(f"A vocabulary must start with {UNK!r}, {PAD!r}; got {self.itos[:2]}.")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 3,
              max_vocab: int = 60000, specials: Sequence[str] = SPECIALS) -> "Vocab":
        """Keep tokens seen at least ``min_freq`` times, most frequent first, ``max_vocab`` in all.

        Ties are broken alphabetically so the same texts always give the same ids.
        """
        counts = Counter(t for toks in token_lists for t in toks)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                        key=lambda t: (-counts[t], t))
        return cls(list(specials) + ranked[: max(max_vocab - len(specials), 0)])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> Tensor:
        """Ids of ``tokens`` as a LongTensor."""
        return torch.tensor([self.stoi.get(t, UNK_IDX) for t in tokens], dtype=torch.long)

    def decode(self, ids: Iterable[int] | Tensor) -> list[str]:
        """Tokens of ``ids``."""
        ids = ids.tolist() if isinstance(ids, Tensor) else ids
        return [self.itos[i] for i in ids]


# ----------------------------------------------------------------------------- language-model batches

class LMStreams(IterableDataset):
    """Language-model batches ``(x, y)`` from numericalised texts.

    The texts (shuffled each pass if ``shuffle``) are joined into one stream and
    cut into ``bs`` rows; batch k holds columns ``[a_k, b_k)`` of every row, so
    row r of batch k+1 continues row r of batch k: the model can carry its hidden
    state from batch to batch. ``x`` is ``(bs, length)`` and ``y`` is the next token
    at every position, flattened to ``(bs * length,)`` so ``nn.CrossEntropyLoss``
    applies as is.

    With ``vary_len``, window lengths follow AWD-LSTM (Merity et al. 2017): seq_len
    with probability 0.95 else seq_len/2, plus normal jitter (std 5), at least 5.
    They are then rescaled to tile the stream exactly, so every pass has the same
    number of batches (`len`), which the one-cycle schedule relies on.
    """

    def __init__(self, docs: Sequence[Tensor], bs: int = 64, seq_len: int = 72,
                 shuffle: bool = False, vary_len: bool | None = None,
                 generator: torch.Generator | None = None):
        self.docs, self.bs, self.seq_len, self.shuffle = list(docs), bs, seq_len, shuffle
        self.vary_len = shuffle if vary_len is None else vary_len
        self.generator = generator
        total = sum(len(d) for d in self.docs)
        self.n_cols = total // bs - 1  # input positions per row; the last token is only a target
        if self.n_cols < 1:
            raise ValueError(f"{total} tokens are too few for {bs} streams: use a smaller bs.")
        self.n_batches = math.ceil(self.n_cols / seq_len)

    def __len__(self) -> int:
        return self.n_batches

    def rows(self) -> Tensor:
        """The ``(bs, n_cols + 1)`` token matrix of one pass (re-shuffled each call if shuffle)."""
        n = len(self.docs)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        stream = torch.cat([self.docs[i] for i in order.tolist()])
        return stream[: self.bs * (self.n_cols + 1)].view(self.bs, self.n_cols + 1)

    def boundaries(self) -> list[int]:
        """Column where each batch starts, plus the end: ``n_batches + 1`` increasing numbers."""
        if not self.vary_len:
            return list(range(0, self.n_cols, self.seq_len)) + [self.n_cols]
        g, lengths = self.generator, []
        for _ in range(self.n_batches):
            base = self.seq_len if torch.rand(1, generator=g).item() < 0.95 else self.seq_len / 2
            lengths.append(max(5.0, base + 5 * torch.randn(1, generator=g).item()))
        ends = torch.tensor(lengths).cumsum(0)
        ends = (ends / ends[-1] * self.n_cols).round().long().tolist()
        return [0] + ends

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        rows, cuts = self.rows(), self.boundaries()
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b > a:
                yield rows[:, a:b].contiguous(), rows[:, a + 1:b + 1].reshape(-1)


def lm_loader(docs: Sequence[Tensor], bs: int = 64, seq_len: int = 72, shuffle: bool = False,
              generator: torch.Generator | None = None) -> DataLoader:
    """A DataLoader of language-model batches (see `LMStreams`); shuffled ones vary their length.

    Example:
        >>> dl = lm_loader([torch.arange(100)], bs=2, seq_len=10)
        >>> x, y = next(iter(dl)); x.shape, y.shape
        (torch.Size([2, 10]), torch.Size([20]))
    """
    # batch_size=None: the dataset already yields whole batches
    return DataLoader(LMStreams(docs, bs, seq_len, shuffle, generator=generator), batch_size=None)


# ----------------------------------------------------------------------------- classifier batches

class TextClassDataset(Dataset):
    """Numericalised texts and their integer labels, truncated to their first ``max_len`` tokens."""

    def __init__(self, docs: Sequence[Tensor], labels: Sequence[int], max_len: int = 1440):
        if len(docs) != len(labels):
            raise ValueError(f"{len(docs)} texts but {len(labels)} labels.")
        self.docs, self.labels, self.max_len = list(docs), list(labels), max_len

    def __len__(self) -> int:
        return len(self.docs)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.docs[i][: self.max_len], self.labels[i]


class SortishBatchSampler(Sampler[list[int]]):
    """Batches of indices whose texts have similar lengths, so little padding is needed.

    Training (``shuffle``): shuffle, cut into chunks of ``bs * chunk_batches`` texts,
    sort each chunk by length, cut it into batches, shuffle the batches. Validation:
    sort everything by length, longest first; ``order`` lists the texts in that order.
    """

    def __init__(self, lengths: Sequence[int], bs: int = 64, shuffle: bool = False,
                 chunk_batches: int = 50, generator: torch.Generator | None = None):
        self.lengths, self.bs, self.shuffle = list(lengths), bs, shuffle
        self.chunk, self.generator = bs * chunk_batches, generator
        self.order = sorted(range(len(self.lengths)), key=lambda i: -self.lengths[i])

    def __len__(self) -> int:
        n, c = len(self.lengths), self.chunk
        return (n // c) * math.ceil(c / self.bs) + math.ceil((n % c) / self.bs)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            yield from (self.order[i:i + self.bs] for i in range(0, len(self.order), self.bs))
            return
        idx = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches = []
        for c in range(0, len(idx), self.chunk):
            chunk = sorted(idx[c:c + self.chunk], key=lambda i: -self.lengths[i])
            batches += [chunk[i:i + self.bs] for i in range(0, len(chunk), self.bs)]
        for k in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[k]


def pad_collate(items: Sequence[tuple[Tensor, int]], pad_idx: int = PAD_IDX) -> tuple[Tensor, Tensor]:
    """Stack texts into ``(bs, longest)`` ids, padding at the END with ``pad_idx``; labels as a tensor.

    Padding last keeps every real token's LSTM output exactly as without padding
    (the LSTM only looks backwards); the pooling in `TextClassifier` skips the pads.

    Example:
        >>> x, y = pad_collate([(torch.tensor([5, 6, 7]), 0), (torch.tensor([8]), 1)])
        >>> x.tolist(), y.tolist()
        ([[5, 6, 7], [8, 1, 1]], [0, 1])
    """
    longest = max(len(t) for t, _ in items)
    x = torch.full((len(items), longest), pad_idx, dtype=torch.long)
    for row, (t, _) in enumerate(items):
        x[row, : len(t)] = t
    return x, torch.tensor([label for _, label in items], dtype=torch.long)


def classifier_loader(docs: Sequence[Tensor], labels: Sequence[int], bs: int = 64,
                      shuffle: bool = False, max_len: int = 1440, pad_idx: int = PAD_IDX,
                      generator: torch.Generator | None = None) -> DataLoader:
    """A DataLoader of ``(ids, label)`` batches of similar-length texts, padded at the end.

    Without shuffle the texts come longest first; ``dl.batch_sampler.order`` maps
    the i-th prediction back to its text.

    Example:
        >>> dl = classifier_loader([torch.tensor([2, 9]), torch.tensor([2, 9, 9])], [0, 1], bs=2)
        >>> next(iter(dl))[0].tolist()
        [[2, 9, 9], [2, 9, 1]]
    """
    ds = TextClassDataset(docs, labels, max_len)
    sampler = SortishBatchSampler([min(len(d), max_len) for d in docs], bs, shuffle, generator=generator)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=partial(pad_collate, pad_idx=pad_idx))


# ----------------------------------------------------------------------------- AWD-LSTM

# fastai's dropout settings for AWD-LSTM (fastai.text.models.awdlstm), multiplied by drop_mult.
LM_DROPOUTS = dict(embed_p=0.02, input_p=0.25, weight_p=0.2, hidden_p=0.15, output_p=0.1)
CLASSIFIER_DROPOUTS = dict(embed_p=0.05, input_p=0.4, weight_p=0.5, hidden_p=0.3, output_p=0.4)


class RNNDropout(nn.Module):
    """Dropout with one mask per sequence, shared by all time steps (x is ``(bs, seq, features)``)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


class EmbeddingDropout(nn.Module):
    """Drop whole words: zero random rows of the embedding matrix (rescaling the others).

    It owns no weights: call it with the embedding layer, ``drop(embed, ids)``.
    """

    def __init__(self, p: float = 0.1):
        super().__init__()
        self.p = p

    def forward(self, embed: nn.Embedding, ids: Tensor) -> Tensor:
        weight = embed.weight
        if self.training and self.p > 0:
            mask = weight.new_empty(weight.size(0), 1).bernoulli_(1 - self.p) / (1 - self.p)
            weight = weight * mask
        return F.embedding(ids, weight, embed.padding_idx)


class _LSTMNoFlatten(nn.LSTM):
    """An nn.LSTM that never compacts its weights for cuDNN.

    WeightDrop hands it a freshly dropped hidden matrix on every call, so
    compacting would copy (and re-point) every weight on every call for nothing.
    """

    def flatten_parameters(self) -> None:
        return None


class WeightDrop(nn.Module):
    """A one-layer LSTM whose hidden-to-hidden matrix gets DropConnect (Wan et al. 2013).

    The trained matrix is ``weight_hh_l0_raw``; each training call drops some of its
    entries (rescaling the rest) and runs the LSTM with that copy. In eval mode the
    raw matrix is used as is. Parameter names match fastai's, so WT103 files load.

    Example:
        >>> rnn = WeightDrop(4, 8, weight_p=0.5)
        >>> out, (h, c) = rnn(torch.randn(2, 3, 4))
        >>> out.shape
        torch.Size([2, 3, 8])
    """

    def __init__(self, n_in: int, n_out: int, weight_p: float = 0.5):
        super().__init__()
        self.weight_p = weight_p
        self.module = _LSTMNoFlatten(n_in, n_out, batch_first=True)
        raw = self.module.weight_hh_l0
        del self.module._parameters["weight_hh_l0"]  # the LSTM now reads the matrix we pass it
        self.weight_hh_l0_raw = nn.Parameter(raw.detach().clone())

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None):
        w = F.dropout(self.weight_hh_l0_raw, self.weight_p, self.training)
        with warnings.catch_warnings():
            # cuDNN warns that non-compacted weights get copied: unavoidable with a new matrix each call
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            return torch.func.functional_call(self.module, {"weight_hh_l0": w}, (x, state))


class AWDLSTM(nn.Module):
    """The AWD-LSTM encoder: embedding -> stacked LSTMs, with all of AWD-LSTM's dropouts.

    Layer sizes: emb -> hidden -> ... -> hidden -> emb (the last layer returns to the
    embedding size so the decoder can share the embedding matrix). WT103's model is
    ``emb_size=400, hidden_size=1152, n_layers=3``. ``forward(ids, state)`` returns the
    last layer's outputs ``(bs, seq, emb_size)`` and the new state (one (h, c) per layer).

    Example:
        >>> enc = AWDLSTM(100, emb_size=8, hidden_size=16, n_layers=2)
        >>> out, state = enc(torch.randint(0, 100, (3, 5)))
        >>> out.shape, len(state)
        (torch.Size([3, 5, 8]), 2)
    """

    def __init__(self, vocab_size: int, emb_size: int = 400, hidden_size: int = 1152,
                 n_layers: int = 3, pad_idx: int = PAD_IDX, embed_p: float = 0.1,
                 input_p: float = 0.6, weight_p: float = 0.5, hidden_p: float = 0.2,
                 embed_init: float = 0.1):
        super().__init__()
        self.emb_size, self.hidden_size, self.n_layers = emb_size, hidden_size, n_layers
        self.embed = nn.Embedding(vocab_size, emb_size, padding_idx=pad_idx)
        # fastai starts its 400-wide embedding in U(-0.1, 0.1); a narrow tied embedding
        # (the sample's 64) leaves the unigram plateau much sooner from a wider start.
        nn.init.uniform_(self.embed.weight, -embed_init, embed_init)
        self.embed_drop = EmbeddingDropout(embed_p)
        self.input_drop = RNNDropout(input_p)
        sizes = [emb_size] + [hidden_size] * (n_layers - 1) + [emb_size]
        self.rnns = nn.ModuleList(WeightDrop(sizes[i], sizes[i + 1], weight_p) for i in range(n_layers))
        self.hidden_drops = nn.ModuleList(RNNDropout(hidden_p) for _ in range(n_layers - 1))

    def forward(self, ids: Tensor, state: list[tuple[Tensor, Tensor]] | None = None):
        x = self.input_drop(self.embed_drop(self.embed, ids))
        new_state = []
        for i, rnn in enumerate(self.rnns):
            x, s = rnn(x, None if state is None else state[i])
            new_state.append(s)
            if i < self.n_layers - 1:
                x = self.hidden_drops[i](x)
        return x, new_state


class LanguageModel(nn.Module):
    """AWD-LSTM encoder + a linear decoder sharing the embedding matrix (tied weights).

    It carries its hidden state from one call to the next (detached, so gradients
    stop at the batch boundary: truncated back-propagation through time), because
    consecutive LM batches continue the same streams. `reset()` forgets it; the
    Learner calls it at the start of every training and validation pass. Outputs
    are logits flattened to ``(bs * seq, vocab)``, matching `LMStreams` targets.

    Example:
        >>> lm = LanguageModel(AWDLSTM(50, 8, 16, 2))
        >>> lm(torch.randint(0, 50, (2, 7))).shape
        torch.Size([14, 50])
    """

    def __init__(self, encoder: AWDLSTM, output_p: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.output_drop = RNNDropout(output_p)
        vocab_size, emb_size = encoder.embed.weight.shape
        self.decoder = nn.Linear(emb_size, vocab_size)
        self.decoder.weight = encoder.embed.weight  # tied: one matrix, shared storage
        nn.init.zeros_(self.decoder.bias)
        self.hidden: list[tuple[Tensor, Tensor]] | None = None

    def reset(self) -> None:
        """Forget the hidden state: the next batch starts new streams."""
        self.hidden = None

    def forward(self, ids: Tensor) -> Tensor:
        if self.hidden is not None and self.hidden[0][0].size(1) != ids.size(0):
            self.hidden = None  # a different batch size cannot continue the old streams
        out, state = self.encoder(ids, self.hidden)
        self.hidden = [(h.detach(), c.detach()) for h, c in state]
        return self.decoder(self.output_drop(out)).reshape(-1, self.decoder.out_features)


def language_model(vocab_size: int, emb_size: int = 400, hidden_size: int = 1152, n_layers: int = 3,
                   drop_mult: float = 1.0, embed_init: float = 0.1) -> LanguageModel:
    """An AWD-LSTM language model with fastai's LM dropouts times ``drop_mult``.

    Example:
        >>> lm = language_model(100, 16, 32, 2, drop_mult=0.3)
    """
    p = {k: v * drop_mult for k, v in LM_DROPOUTS.items()}
    output_p = p.pop("output_p")
    encoder = AWDLSTM(vocab_size, emb_size, hidden_size, n_layers, embed_init=embed_init, **p)
    return LanguageModel(encoder, output_p)


def lm_splitter(model: LanguageModel) -> list[list[nn.Parameter]]:
    """Parameter groups for LM fine-tuning: each LSTM layer, then embedding + decoder bias.

    The embedding comes last so that ``freeze()`` trains it first: rows of tokens
    new to the vocabulary start as the mean embedding and need it most.
    """
    enc = model.encoder
    return [list(r.parameters()) for r in enc.rnns] + [[enc.embed.weight, model.decoder.bias]]


# ----------------------------------------------------------------------------- classifier

class TextClassifier(nn.Module):
    """AWD-LSTM encoder, concat pooling over real tokens, and a small head.

    Pooling joins the output at the last real token, the max and the mean over
    real tokens (pads are ignored: they come last, see `pad_collate`). Head:
    BatchNorm -> dropout -> linear -> ReLU -> BatchNorm -> dropout -> linear.

    Example:
        >>> clf = TextClassifier(AWDLSTM(50, 8, 16, 2), n_classes=2)
        >>> clf(torch.tensor([[2, 5, 6], [2, 7, 1]])).shape
        torch.Size([2, 2])
    """

    def __init__(self, encoder: AWDLSTM, n_classes: int, head_hidden: int = 50,
                 head_ps: tuple[float, float] = (0.4, 0.1), pad_idx: int = PAD_IDX):
        super().__init__()
        self.encoder, self.pad_idx = encoder, pad_idx
        n = 3 * encoder.emb_size
        self.head = nn.Sequential(
            nn.BatchNorm1d(n), nn.Dropout(head_ps[0]), nn.Linear(n, head_hidden), nn.ReLU(inplace=True),
            nn.BatchNorm1d(head_hidden), nn.Dropout(head_ps[1]), nn.Linear(head_hidden, n_classes))

    def pool(self, out: Tensor, ids: Tensor) -> Tensor:
        """``(bs, 3 * emb)``: last real output, max and mean over real positions."""
        mask = (ids != self.pad_idx).unsqueeze(-1)
        lengths = mask.sum(1).clamp(min=1)
        last = out[torch.arange(out.size(0), device=out.device), lengths.squeeze(-1) - 1]
        biggest = out.masked_fill(~mask, float("-inf")).max(1).values
        mean = (out * mask).sum(1) / lengths
        return torch.cat([last, biggest, mean], dim=1)

    def forward(self, ids: Tensor) -> Tensor:
        out, _ = self.encoder(ids)  # every text starts from a zero state
        return self.head(self.pool(out, ids))


def text_classifier(vocab_size: int, n_classes: int, emb_size: int = 400, hidden_size: int = 1152,
                    n_layers: int = 3, drop_mult: float = 1.0, embed_init: float = 0.1) -> TextClassifier:
    """A `TextClassifier` with fastai's classifier dropouts times ``drop_mult``.

    Example:
        >>> clf = text_classifier(100, 2, 16, 32, 2, drop_mult=0.5)
    """
    p = {k: v * drop_mult for k, v in CLASSIFIER_DROPOUTS.items()}
    head_ps = (p.pop("output_p"), 0.1 * drop_mult)
    encoder = AWDLSTM(vocab_size, emb_size, hidden_size, n_layers, embed_init=embed_init, **p)
    return TextClassifier(encoder, n_classes, head_ps=head_ps)


def classifier_splitter(model: TextClassifier) -> list[list[nn.Parameter]]:
    """Groups for gradual unfreezing: embedding, each LSTM layer, head (``freeze_to(-k)``)."""
    enc = model.encoder
    return [[enc.embed.weight]] + [list(r.parameters()) for r in enc.rnns] + [list(model.head.parameters())]


# ----------------------------------------------------------------------------- pretrained weights

# Our parameter name -> fastai's key in lstm_fwd.pth ({i} is the LSTM layer). The decoder
# weight is the embedding (tied), so it needs no entry of its own.
FASTAI_LM_KEYS = {
    "encoder.embed.weight": "0.encoder.weight",
    "encoder.rnns.{i}.weight_hh_l0_raw": "0.rnns.{i}.weight_hh_l0_raw",
    "encoder.rnns.{i}.module.weight_ih_l0": "0.rnns.{i}.module.weight_ih_l0",
    "encoder.rnns.{i}.module.bias_ih_l0": "0.rnns.{i}.module.bias_ih_l0",
    "encoder.rnns.{i}.module.bias_hh_l0": "0.rnns.{i}.module.bias_hh_l0",
    "decoder.bias": "1.decoder.bias",
}
LM_FILE, ITOS_FILE = "lstm_fwd.pth", "itos_wt103.pkl"


class _ListOfStrings(pickle.Unpickler):
    """An unpickler that refuses every class or function: enough for a list of str, and safe."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"{ITOS_FILE} should be a list of strings, but refers to {module}.{name}.")


def read_fastai_lm(folder: str | Path, weights_only: bool = True) -> tuple[dict[str, Tensor], list[str]]:
    """Read ``lstm_fwd.pth`` + ``itos_wt103.pkl`` into (our-named state dict, itos).

    The .pth may be a bare state dict or ``{'model': ..., 'opt': ...}``.
    """
    folder = Path(folder)
    missing = [f for f in (LM_FILE, ITOS_FILE) if not (folder / f).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {missing}: expected fastai's wt103-fwd layout "
                                "(use coursehelpers.data.get_weights('wt103_fwd')).")
    try:
        raw = torch.load(folder / LM_FILE, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as e:
        raise pickle.UnpicklingError(
            f"{folder / LM_FILE} holds more than tensors. If you trust the file (it came from "
            "fast.ai and its checksum was verified), call again with weights_only=False.") from e
    state = raw["model"] if "model" in raw else raw
    n_layers = len({k.split(".")[2] for k in state if k.startswith("0.rnns.")})
    ours = {}
    for name, key in FASTAI_LM_KEYS.items():
        for i in range(n_layers) if "{i}" in name else [None]:
            ours[name.format(i=i)] = state[key.format(i=i)].float()
    with open(folder / ITOS_FILE, "rb") as f:
        itos = _ListOfStrings(f).load()
    return ours, list(itos)


def lm_sizes(state: dict[str, Tensor]) -> dict[str, int]:
    """vocab_size, emb_size, hidden_size, n_layers read from a state dict's shapes."""
    n_layers = sum(1 for k in state if k.endswith("weight_hh_l0_raw"))
    vocab_size, emb_size = state["encoder.embed.weight"].shape
    hidden = state["encoder.rnns.0.weight_hh_l0_raw"].shape[1] if n_layers > 1 else emb_size
    return dict(vocab_size=vocab_size, emb_size=emb_size, hidden_size=hidden, n_layers=n_layers)


def match_vocab(state: dict[str, Tensor], old_itos: Sequence[str], new_itos: Sequence[str]) -> dict[str, Tensor]:
    """Re-order embedding rows and decoder biases from ``old_itos`` to ``new_itos``.

    Tokens in both keep their pretrained row; new tokens get the mean row (and the
    mean bias): a neutral start that fine-tuning moves.
    """
    old_stoi = {t: i for i, t in enumerate(old_itos)}
    new = dict(state)
    for key in ("encoder.embed.weight", "decoder.bias"):
        old = state[key]
        rows = old.mean(0, keepdim=True).repeat(len(new_itos), *[1] * (old.dim() - 1))
        pairs = [(j, old_stoi[t]) for j, t in enumerate(new_itos) if t in old_stoi]
        if pairs:
            dst, src = zip(*pairs)
            rows[list(dst)] = old[list(src)]
        new[key] = rows
    return new


def load_pretrained_lm(folder: str | Path, itos: Sequence[str], drop_mult: float = 1.0,
                       weights_only: bool = True) -> tuple[LanguageModel, float]:
    """A `language_model` for vocabulary ``itos`` with pretrained weights from ``folder``.

    Sizes are read from the file. Returns the model and the share of ``itos`` found in
    the pretrained vocabulary.

    Example:
        >>> lm, shared = load_pretrained_lm(get_weights("wt103_fwd"), vocab.itos)  # doctest: +SKIP
    """
    state, old_itos = read_fastai_lm(folder, weights_only)
    model = language_model(drop_mult=drop_mult, **{**lm_sizes(state), "vocab_size": len(itos)})
    state = match_vocab(state, old_itos, itos)
    state["decoder.weight"] = state["encoder.embed.weight"]  # tied: the same matrix
    model.load_state_dict(state)
    shared = len(set(itos) & set(old_itos)) / len(itos)
    return model, shared


def save_fastai_lm(model: LanguageModel, itos: Sequence[str], folder: str | Path) -> Path:
    """Write ``lstm_fwd.pth`` (fastai's key names, float32, on CPU) and ``itos_wt103.pkl``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ours = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    out = {}
    for name, key in FASTAI_LM_KEYS.items():
        for i in range(model.encoder.n_layers) if "{i}" in name else [None]:
            out[key.format(i=i)] = ours[name.format(i=i)].float().contiguous()
    # fastai's file also names the shared embedding under the dropout wrapper and the decoder
    out["0.encoder_dp.emb.weight"] = out["1.decoder.weight"] = out["0.encoder.weight"]
    torch.save(out, folder / LM_FILE)
    with open(folder / ITOS_FILE, "wb") as f:
        pickle.dump(list(itos), f, protocol=2)
    return folder


# ----------------------------------------------------------------------------- using a language model

@torch.no_grad()
def evaluate_lm(model: LanguageModel, dl: Iterable, device: torch.device | None = None) -> tuple[float, float]:
    """Mean cross-entropy per token and next-token accuracy of ``model`` over ``dl``.

    Perplexity is ``exp(loss)``: the number of equally likely words the model is
    as unsure as.
    """
    device = device if device is not None else next(model.parameters()).device
    model.eval()
    model.reset()
    total, correct, count = 0.0, 0, 0
    for x, y in dl:
        x, y = x.to(device), y.to(device)
        logits = model(x).float()
        total += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(-1) == y).sum().item()
        count += y.numel()
    model.reset()
    return total / count, correct / count


@torch.no_grad()
def generate(model: LanguageModel, vocab: Vocab, prompt: str, n_words: int = 30,
             temperature: float = 0.8, generator: torch.Generator | None = None,
             device: torch.device | None = None) -> str:
    """Continue ``prompt`` by sampling ``n_words`` tokens (never xxunk or xxpad).

    Lower temperatures pick likely words more often. Pass a seeded ``generator``
    for repeatable text.
    """
    device = device if device is not None else next(model.parameters()).device
    model.eval()
    model.reset()
    toks = tokenize(prompt)
    ids = vocab.encode(toks).unsqueeze(0).to(device)
    for _ in range(n_words):
        logits = model(ids)[-1].float().cpu() / max(temperature, 1e-6)
        logits[[UNK_IDX, PAD_IDX, vocab.stoi.get(BOS, UNK_IDX)]] = float("-inf")
        nxt = int(torch.multinomial(logits.softmax(-1), 1, generator=generator))
        toks.append(vocab.itos[nxt])
        ids = torch.tensor([[nxt]], device=device)
    model.reset()
    return untokenize(toks)
