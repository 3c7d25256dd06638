"""fastai's default tokenizer, written for the course: fastai's text rules (as in fastai 2.8.12) on the
raw string, then spaCy's English tokenizer (``spacy.blank("en")``: rules only, nothing to download).
WT103's vocabulary was made this way, so the pretrained model knows these tokens.

The rules, in order: `fix_html` (entities, ``<br />`` becomes a newline), `replace_rep` (a character
n >= 3 times: ``xxrep n c``), `replace_wrep` (a word n >= 3 times: ``xxwrep n w``), `spec_add_spaces`
(around ``/ # \\``), `rm_useless_spaces`, `replace_all_caps` (``xxup``), `replace_maj` (``xxmaj``:
Capitalised words of two letters or more, so "I" and "A" get none), `lowercase` (adds ``xxbos``).

Example:
    >>> " ".join(tokenize("I LOVED it!!!! Don't miss it, it's very very very good."))
    "xxbos i xxup loved it xxrep 4 ! xxmaj do n't miss it , it 's xxwrep 3 very good ."
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from multiprocessing import Pool

UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ = "xxunk xxpad xxbos xxeos xxfld xxrep xxwrep xxup xxmaj".split()
# fastai's special tokens, in fastai's order: every vocabulary starts with them (xxunk 0, xxpad 1, as in WT103).
SPECIALS = (UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ)
UNK_IDX, PAD_IDX = 0, 1

# Literal repairs for text scraped from the web (IMDB's reviews have them all), applied in this order.
HTML_FIXES = (("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"), ("\\n", "\n"),
              ("quot;", "'"), ("<br />", "\n"), ('\\"', '"'), ("<unk>", UNK), (" @.@ ", "."), (" @-@ ", "-"),
              ("...", " …"))
_CHAR_RUN = re.compile(r"(\S)\1{2,}")                      # any non-space character 3+ times: "!!!!", "000"
_WORD_RUN = re.compile(r"(?:^|\s)(\w+)((?:\s+\1){2,})(\W|$)")  # a word, then 2+ more copies of it
_SPEC = re.compile(r"([/#\\])")
_SPACES = re.compile(" {2,}")                              # spaces only: newlines stay tokens
_ALL_CAPS = re.compile(r"[A-Z]+[^a-z]*")                    # a whole space-free chunk: "GREAT", "U.S.", "I"
_CAPITALISED = re.compile(r"[A-Z][^A-Z]*")                  # "Great", "Don't", "A"
_WHITESPACE = re.compile(r"(\s+)")


def fix_html(text: str) -> str:
    """Undo html escapes and IMDB's ``<br />`` line breaks; ``...`` becomes `` …``."""
    for old, new in HTML_FIXES:
        text = text.replace(old, new)
    return html.unescape(text)


def replace_rep(text: str) -> str:
    """``cccc`` -> `` xxrep 4 c ``: a run of 3+ equal characters, digits too ("1000" -> "1 xxrep 3 0")."""
    return _CHAR_RUN.sub(lambda m: f" {REP} {len(m[0])} {m[1]} ", text)


def replace_wrep(text: str) -> str:
    """``w w w w`` -> `` xxwrep 4 w``: a word 3+ times in a row, separated by whitespace only."""
    return _WORD_RUN.sub(lambda m: f" {WREP} {len(m[2].split()) + 1} {m[1]} {m[3]}", text)


def spec_add_spaces(text: str) -> str:
    """Spaces around ``/``, ``#`` and ``\\``, so "7/10" is three tokens."""
    return _SPEC.sub(r" \1 ", text)


def rm_useless_spaces(text: str) -> str:
    """Runs of spaces become one."""
    return _SPACES.sub(" ", text)


def _case_rule(text: str, pattern: re.Pattern, marker: str) -> str:
    """Each whitespace-delimited chunk that ``pattern`` matches whole is lowercased, after ``marker``
    if it is two characters or more."""
    chunks = _WHITESPACE.split(text)
    for i in range(0, len(chunks), 2):  # even positions are the chunks, odd ones the whitespace between
        if pattern.fullmatch(chunks[i]):
            chunks[i] = (f"{marker} " if len(chunks[i]) > 1 else "") + chunks[i].lower()
    return "".join(chunks)


def replace_all_caps(text: str) -> str:
    """``GREAT`` -> ``xxup great`` (a chunk of capitals with no lowercase letter)."""
    return _case_rule(text, _ALL_CAPS, UP)


def replace_maj(text: str) -> str:
    """``Great`` -> ``xxmaj great`` (one capital, then no other)."""
    return _case_rule(text, _CAPITALISED, MAJ)


def lowercase(text: str) -> str:
    """Everything lowercased and stripped, after ``xxbos``."""
    return f"{BOS} {text.lower().strip()}"


RULES = (fix_html, replace_rep, replace_wrep, spec_add_spaces, rm_useless_spaces, replace_all_caps,
         replace_maj, lowercase)


@lru_cache(maxsize=1)
def spacy_tokenizer():
    """spaCy's English tokenizer (no model: its punctuation and exception rules), specials kept whole."""
    import spacy  # imported here: only tokenizing needs it
    from spacy.symbols import ORTH

    nlp = spacy.blank("en")
    for special in SPECIALS:
        nlp.tokenizer.add_special_case(special, [{ORTH: special}])
    return nlp.tokenizer


def apply_rules(text: str) -> str:
    """``text`` after every rule of `RULES`, in order: what spaCy then splits."""
    for rule in RULES:
        text = rule(text)
    return text


def _tokens(doc) -> list[str]:
    return [t.text.replace(" ", "▁") for t in doc]  # fastai shows a space inside a token as ▁


def tokenize(text: str) -> list[str]:
    """One text as fastai tokenizes it: the `RULES`, then spaCy's tokens."""
    return _tokens(spacy_tokenizer()(apply_rules(text)))


def _tokenize_chunk(texts: Sequence[str]) -> list[list[str]]:
    return [_tokens(doc) for doc in spacy_tokenizer().pipe(map(apply_rules, texts), batch_size=1000)]


def tokenize_texts(texts: Sequence[str], processes: int = 1) -> list[list[str]]:
    """`tokenize` every text (spaCy's batched pipe), in ``processes`` worker processes when more than 1."""
    if processes <= 1:
        return _tokenize_chunk(texts)
    chunks = [texts[i:i + 2000] for i in range(0, len(texts), 2000)]
    with Pool(processes) as pool:
        return [toks for chunk in pool.map(_tokenize_chunk, chunks) for toks in chunk]


_NO_SPACE_BEFORE = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m|[.,!?;:)])")
_UNDO = [(re.compile(r"\bxxrep (\d+) (\S+)"), lambda m: m[2] * int(m[1])),
         (re.compile(r"\bxxwrep (\d+) (\S+)"), lambda m: " ".join([m[2]] * int(m[1]))),
         (re.compile(r"\bxxup (?!xx)(\S+)"), lambda m: m[1].upper()),  # (?!xx): not before another marker
         (re.compile(r"\bxxmaj (?!xx)(\S+)"), lambda m: m[1][:1].upper() + m[1][1:])]


def untokenize(tokens: Iterable[str]) -> str:
    """Readable text from tokens (for generated text): markers undone, spacing approximated."""
    text = " ".join(t for t in tokens if t.strip())  # newline tokens: one space
    for pattern, undo in _UNDO:
        text = pattern.sub(undo, text)
    return _NO_SPACE_BEFORE.sub(r"\1", " ".join(w for w in text.split() if w not in SPECIALS or w == UNK))
