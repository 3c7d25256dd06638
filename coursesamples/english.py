"""A general-English corpus for pretraining the sample language model offline: WordNet's glosses.

The real ULMFiT starts from a model pretrained on WikiText-103 (Wikipedia). Sample mode
cannot download it, so ``data/make_sample_lm.py`` pretrains a small model on WordNet 3.0
(Princeton University), as Debian ships it in ``wordnet-base`` (``apt-get install
wordnet-base``; ``/usr/share/wordnet/data.{noun,verb,adj,adv}``): 117,659 definitions of
English words, 48,339 of them with example sentences ("she was able to program her
computer"). Every common English word is defined there, in plain modern prose, so the
model's vocabulary covers most of what reviewers write. WordNet's licence lets anyone use,
copy, modify and distribute the database with its copyright notice (WordNet 3.0 Copyright
2006 by Princeton University; see data/README.md).

Nouns naming animals and plants (the lexicographer files noun.animal and noun.plant, mostly
taxonomy) and proper nouns (people, places) are left out: everyday English is the point.
Each synset becomes one document: its words, a colon, the gloss as WordNet writes it,
e.g. ``able: (usually followed by 'to') having the necessary means or skill ...; "able to
swim"``. The files are read in a fixed order, so the corpus is the same on every machine.

Example:
    >>> line = ("00001740 00 a 01 able 0 005 = 05200169 n 0000 | (usually followed by `to') having "
    ...         'the necessary means or skill to do something; "able to swim"  ')
    >>> synset_document(line)
    'able: (usually followed by \\'to\\') having the necessary means or skill to do something; "able to swim"'
"""
from __future__ import annotations

from pathlib import Path

WORDNET = Path("/usr/share/wordnet")
PARTS = ("noun", "verb", "adj", "adv")
TAXONOMY = ("05", "20")  # the lex_filenum of noun.animal and noun.plant (lexnames(5WN))


def synset_document(line: str) -> str | None:
    """One line of a WordNet ``data.*`` file as text: ``words: gloss``; None for the licence header.

    A line is ``offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt ... | gloss``
    (wndb(5WN)); ``w_cnt`` is hexadecimal; words use ``_`` for spaces and adjectives may carry
    a marker such as ``(a)``.
    """
    if line.startswith("  ") or " | " not in line:
        return None
    fields, gloss = line.split(" | ", 1)
    parts = fields.split()
    n_words = int(parts[3], 16)
    words = [parts[4 + 2 * i].split("(")[0].replace("_", " ") for i in range(n_words)]
    return f"{', '.join(words)}: {gloss.strip().replace('`', chr(39))}"


def everyday_noun(line: str) -> bool:
    """False for a noun synset of an animal or plant, or one whose first word is capitalised (a name)."""
    parts = line.split(maxsplit=5)
    return parts[1] not in TAXONOMY and not parts[4][:1].isupper()


def wordnet_corpus(folder: str | Path = WORDNET) -> list[str]:
    """The synsets of WordNet's four data files in ``folder`` as documents, in file order (nouns: everyday ones).

    Example:
        >>> everyday_noun("02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 | a member of the genus Canis")
        False
    """
    folder = Path(folder)
    missing = [f"data.{p}" for p in PARTS if not (folder / f"data.{p}").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: install WordNet 3.0 "
                                "(Debian/Ubuntu: apt-get install wordnet-base) or pass its folder.")
    docs = []
    for part in PARTS:
        with open(folder / f"data.{part}", encoding="latin-1") as f:  # WordNet 3.0 is ASCII/latin-1
            lines = [ln for ln in f if part != "noun" or ln.startswith("  ") or everyday_noun(ln)]
        docs += [d for d in map(synset_document, lines) if d]
    return docs
