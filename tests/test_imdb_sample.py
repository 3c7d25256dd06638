"""The bundled IMDB sample: the real layout and naming, and the same bytes on every run."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from coursesamples import imdb


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("imdb")
    imdb.make_sample(dest)
    return dest


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def test_layout_and_counts(sample):
    assert sorted(p.name for p in sample.iterdir()) == ["README", "imdb.vocab", "test", "train", "unsup"]
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            files = list((sample / split / label).glob("*.txt"))
            assert len(files) == imdb.SIZES[split] // 2
    assert len(list((sample / "unsup").glob("*.txt"))) == imdb.SIZES["unsup"]


def test_file_names_carry_ratings(sample):
    name = re.compile(r"^(\d+)_(\d+)\.txt$")
    for split in ("train", "test"):
        for label, allowed in (("pos", range(7, 11)), ("neg", range(1, 5))):
            ratings = {int(name.match(f.name).group(2)) for f in (sample / split / label).iterdir()}
            assert ratings <= set(allowed) and len(ratings) >= 3
    assert all(name.match(f.name).group(2) == "0" for f in (sample / "unsup").iterdir())


def test_reviews_look_like_imdb(sample):
    texts = [f.read_text(encoding="utf-8") for f in sorted((sample / "train" / "pos").iterdir())]
    assert any("<br /><br />" in t for t in texts)  # IMDB's paragraph breaks
    assert all(10 <= len(t.split()) <= 150 for t in texts)
    assert any(" not " in t for t in texts) and any(", but " in t for t in texts)
    vocab = (sample / "imdb.vocab").read_text(encoding="utf-8").split("\n")
    assert vocab[0] == "the" and len(vocab) > 300


def test_same_bytes_every_run(sample, tmp_path):
    imdb.make_sample(tmp_path)
    assert _digest(tmp_path) == _digest(sample)
