"""A rule-based English tokenizer in the spirit of spaCy's, with markers for what lowercasing and
compression lose: ``xxbos`` (a text begins), ``xxmaj`` (Capitalised), ``xxup`` (ALL CAPS),
``xxrep n c`` (a character n >= 3 times), ``xxwrep n w`` (a word n >= 3 times).

Example:
    >>> " ".join(tokenize("I LOVED it!!!! Don't miss it, it's very very very good."))
    "xxbos xxmaj i xxup loved it xxrep 4 ! xxmaj do n't miss it , it 's xxwrep 3 very good ."
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from itertools import groupby
from multiprocessing import Pool

UNK, PAD, BOS, MAJ, UP, REP, WREP = "xxunk", "xxpad", "xxbos", "xxmaj", "xxup", "xxrep", "xxwrep"
# Specials come first in every vocabulary, so xxunk is 0 and xxpad is 1, as in fastai's (WT103 included).
SPECIALS = (UNK, PAD, BOS, MAJ, UP, REP, WREP)
UNK_IDX, PAD_IDX = 0, 1

_QUOTES = str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")
_TAG = re.compile(r"<[^<>]{0,40}>")            # html tags such as <br /> and <i>, as found in IMDB reviews
_CHAR_REP = re.compile(r"([^\s\d])\1{2,}")      # a non-digit character 3+ times in a row ("1000" is kept)
_TOKEN = re.compile(r"""
      \d+(?:[.,:]\d+)*              # numbers: 7, 7.5, 1,000, 10:30
    | [^\W\d_]+?(?=n't\b)           # the "do" of "don't" (spaCy splits the negation off)
    | n't\b
    | '(?:s|re|ve|ll|d|m)\b         # clitics: it's -> it 's
    | \w+                           # other words
    | [^\w\s]                       # any other character on its own: punctuation, symbols
""", re.VERBOSE | re.IGNORECASE)
_NO_SPACE_BEFORE = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m|[.,!?;:)])")
_UNDO = [(re.compile(r"\bxxrep (\d+) (\S+)"), lambda m: m[2] * int(m[1])),
         (re.compile(r"\bxxwrep (\d+) (\S+)"), lambda m: " ".join([m[2]] * int(m[1]))),
         (re.compile(r"\bxxup (?!xx)(\S+)"), lambda m: m[1].upper()),  # (?!xx): not before another marker
         (re.compile(r"\bxxmaj (?!xx)(\S+)"), lambda m: m[1][:1].upper() + m[1][1:])]


def mark_word_repeats(words: list[str]) -> list[str]:
    """Runs of 3+ equal words (ignoring case) become ``xxwrep n word``."""
    out = []
    for _, run in groupby(words, key=str.lower):
        run = list(run)
        out += [WREP, str(len(run)), run[0]] if len(run) >= 3 else run
    return out


def mark_case(word: str) -> list[str]:
    """One word lowercased, after ``xxup`` or ``xxmaj`` where its case carried meaning."""
    if len(word) > 1 and word.isupper():
        return [UP, word.lower()]
    return [MAJ, word.lower()] if word[:1].isupper() else [word.lower()]


def tokenize(text: str) -> list[str]:
    """One text as lowercase tokens with markers, starting with ``xxbos``; html escapes and tags
    (``<br />``) are undone first, and curly quotes straightened."""
    text = " ".join(_TAG.sub(" ", html.unescape(text).translate(_QUOTES)).split())
    text = _CHAR_REP.sub(lambda m: f" {REP} {len(m.group(0))} {m.group(1)} ", text)
    return [BOS] + [t for word in mark_word_repeats(_TOKEN.findall(text)) for t in mark_case(word)]


def tokenize_texts(texts: Sequence[str], processes: int = 1) -> list[list[str]]:
    """`tokenize` every text, in ``processes`` worker processes when more than 1 (for big corpora)."""
    if processes <= 1:
        return [tokenize(t) for t in texts]
    with Pool(processes) as pool:
        return pool.map(tokenize, texts, chunksize=256)


def untokenize(tokens: Iterable[str]) -> str:
    """Readable text from tokens (for generated text): markers undone, spacing approximated."""
    text = " ".join(tokens)
    for pattern, undo in _UNDO:
        text = pattern.sub(undo, text)
    return _NO_SPACE_BEFORE.sub(r"\1", " ".join(w for w in text.split() if w not in SPECIALS or w == UNK))
