"""The synthetic ml-100k sample: the real files' formats, planted roles, and identical bytes every run."""
from pathlib import Path

import pandas as pd
import pytest

from coursesamples.movielens_100k import GENRES, make_sample

FILES = ["README", "sample_truth.csv", "u.data", "u.genre", "u.item", "u.user"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("ml-100k")
    make_sample(dest)
    return dest


def test_files(sample):
    assert sorted(p.name for p in sample.iterdir()) == FILES


def test_same_bytes_every_run(sample, tmp_path):
    make_sample(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (sample / name).read_bytes(), name


def test_u_data_is_tab_separated_ratings(sample):
    lines = (sample / "u.data").read_text("ascii").splitlines()
    assert all(len(line.split("\t")) == 4 for line in lines)
    ratings = pd.read_csv(sample / "u.data", sep="\t", header=None, names=["user", "item", "rating", "ts"])
    assert 20_000 <= len(ratings) <= 30_000
    assert set(ratings.rating) == {1, 2, 3, 4, 5}
    assert not ratings.duplicated(["user", "item"]).any()
    assert ratings.groupby("user").size().min() >= 20  # as in the real data
    assert ratings.ts.between(874_000_000, 894_000_000).all()  # 1997-98, like the real file


def test_u_item_is_latin1_with_19_genre_flags(sample):
    raw = (sample / "u.item").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # accented titles: the reader must say encoding="latin-1"
    items = pd.read_csv(sample / "u.item", sep="|", encoding="latin-1", header=None)
    assert items.shape[1] == 5 + 19
    flags = items.iloc[:, 5:]
    assert set(flags.stack().unique()) <= {0, 1}
    assert (flags.sum(axis=1) >= 1).all()
    assert items[0].tolist() == list(range(1, len(items) + 1))
    titled = items[items[1] != "unknown"]
    assert titled[1].str.match(r".+ \(\d{4}\)$").all()
    assert titled[2].str.match(r"\d\d-[A-Z][a-z]{2}-\d{4}$").all()
    assert titled[1].is_unique


def test_u_user_and_u_genre(sample):
    users = pd.read_csv(sample / "u.user", sep="|", header=None, dtype={4: str})
    assert users.shape == (300, 5) and set(users[2]) == {"M", "F"}
    genres = pd.read_csv(sample / "u.genre", sep="|", header=None)
    assert genres[0].tolist() == GENRES and genres[1].tolist() == list(range(19))


def test_planted_classics_and_flops_show_in_mean_ratings(sample):
    ratings = pd.read_csv(sample / "u.data", sep="\t", header=None, names=["user", "item", "rating", "ts"])
    truth = pd.read_csv(sample / "sample_truth.csv").set_index("movie_id")
    mean = ratings.groupby("item").rating.mean()
    assert mean[truth.index[truth.role == "classic"]].min() > 4.0
    assert mean[truth.index[truth.role == "flop"]].max() < 2.5
