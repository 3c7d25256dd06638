"""A small synthetic MovieLens 100k in GroupLens's ``ml-100k`` layout, with planted structure.

``make_sample(dest)`` writes the files lesson 6 reads, in the real formats:

- ``u.data``:  ``user id <TAB> item id <TAB> rating (1-5) <TAB> unix timestamp``, no header.
- ``u.item``:  ``|``-separated, latin-1: ``movie id|title (year)|release date|video release
  date|IMDb URL|`` then 19 genre flags (unknown, Action, ..., Western). Titles with a leading
  article are written the GroupLens way, ``"Silent River, The (1994)"``.
- ``u.user``:  ``user id|age|gender|occupation|zip code``.
- ``u.genre``: ``genre name|index``.
- ``README``:  says the data are synthetic.
- ``sample_truth.csv``: SAMPLE-ONLY (the real dataset has no such file): each movie's planted
  quality and role (``classic``, ``flop`` or empty), so the lesson can check that the learned
  biases recover it. The planted genres are not repeated there: read them from u.item's flags,
  exactly as with the real data.

How the ratings are made (the structure a model should find):

    rating = clip(round(3.45 + user_bias + movie_quality + taste_u . axes(genres_i) + noise), 1, 5)

Each movie gets a primary genre (drawn with the real dataset's genre frequencies) and a few
related ones. Three hidden taste axes (thrills, family fun, serious cinema) give each genre a
position; a movie's position is the mean over its genres, and each user has a taste vector on
the axes. A dozen movies are planted "classics" (very high quality) and "flops" (very low).
Each user rates at least 20 movies, chosen with probability proportional to a popularity that
grows with quality, as in the real data where good films are seen more.

Example:
    >>> import tempfile, pathlib
    >>> dest = pathlib.Path(tempfile.mkdtemp())
    >>> make_sample(dest)
    >>> sorted(p.name for p in dest.iterdir())
    ['README', 'sample_truth.csv', 'u.data', 'u.genre', 'u.item', 'u.user']
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]

# How often each genre is a movie's primary genre: roughly the real ml-100k genre counts.
PRIMARY_WEIGHTS = {"Action": 251, "Adventure": 135, "Animation": 42, "Children's": 122,
                   "Comedy": 505, "Crime": 109, "Documentary": 50, "Drama": 725, "Fantasy": 22,
                   "Film-Noir": 24, "Horror": 92, "Musical": 56, "Mystery": 61, "Romance": 247,
                   "Sci-Fi": 101, "Thriller": 251, "War": 71, "Western": 27}

# Given a primary genre, the chance of each related genre being flagged too.
RELATED = {
    "Action": {"Adventure": .35, "Thriller": .35, "Sci-Fi": .2, "Crime": .15, "Comedy": .15, "War": .1},
    "Adventure": {"Action": .4, "Children's": .2, "Fantasy": .15, "Sci-Fi": .15, "Romance": .1},
    "Animation": {"Children's": .8, "Comedy": .4, "Musical": .3, "Fantasy": .15},
    "Children's": {"Comedy": .5, "Adventure": .2, "Animation": .2, "Musical": .15, "Fantasy": .15},
    "Comedy": {"Romance": .3, "Drama": .15, "Children's": .1, "Crime": .05, "Musical": .05},
    "Crime": {"Drama": .4, "Thriller": .4, "Action": .2, "Film-Noir": .15, "Mystery": .15},
    "Documentary": {"War": .05},
    "Drama": {"Romance": .3, "Thriller": .1, "War": .1, "Crime": .1, "Comedy": .1, "Mystery": .05},
    "Fantasy": {"Adventure": .4, "Children's": .3, "Comedy": .3},
    "Film-Noir": {"Crime": .6, "Mystery": .4, "Thriller": .4},
    "Horror": {"Thriller": .35, "Sci-Fi": .2, "Comedy": .1, "Mystery": .1},
    "Musical": {"Comedy": .4, "Romance": .35, "Children's": .2, "Animation": .15},
    "Mystery": {"Thriller": .5, "Crime": .3, "Drama": .2, "Film-Noir": .1},
    "Romance": {"Drama": .5, "Comedy": .4, "Musical": .05},
    "Sci-Fi": {"Action": .5, "Adventure": .35, "Thriller": .25, "Horror": .1},
    "Thriller": {"Action": .3, "Crime": .3, "Mystery": .2, "Drama": .2, "Horror": .1},
    "War": {"Drama": .6, "Action": .3, "Adventure": .1},
    "Western": {"Action": .2, "Adventure": .2, "Drama": .2, "Comedy": .1},
}

# Each genre's position on three hidden taste axes: (thrills, family fun, serious cinema).
AXES = {
    "Action": (1.0, 0.0, -0.4), "Adventure": (0.6, 0.4, -0.2), "Animation": (0.0, 1.0, -0.2),
    "Children's": (-0.2, 1.0, -0.3), "Comedy": (0.0, 0.6, -0.6), "Crime": (0.4, -0.6, 0.3),
    "Documentary": (-0.4, 0.0, 1.0), "Drama": (-0.5, 0.0, 0.8), "Fantasy": (0.2, 0.7, 0.0),
    "Film-Noir": (0.1, -0.7, 0.9), "Horror": (0.4, -1.0, -0.2), "Musical": (-0.6, 0.7, 0.0),
    "Mystery": (0.3, -0.3, 0.5), "Romance": (-0.9, 0.2, 0.2), "Sci-Fi": (0.9, 0.0, 0.0),
    "Thriller": (0.8, -0.5, 0.1), "War": (0.6, -0.3, 0.6), "Western": (0.6, 0.0, 0.2),
}

ADJECTIVES = ["Silent", "Broken", "Golden", "Last", "Secret", "Lonely", "Burning", "Wild",
              "Hidden", "Crimson", "Forgotten", "Endless", "Little", "Midnight", "Distant",
              "Savage", "Gentle", "Frozen", "Electric", "Restless", "Naïve", "Lucky", "Iron",
              "Velvet", "Hollow", "Bright", "Dark", "Final", "Sweet", "Bitter"]

NOUNS = {
    "Action": ["Strike", "Fury", "Bullet", "Target", "Mission", "Rampage", "Fist", "Chase"],
    "Adventure": ["Island", "Quest", "Treasure", "Voyage", "Jungle", "Expedition", "Map", "Temple"],
    "Animation": ["Kingdom", "Toybox", "Cartoon", "Bunny", "Fairy", "Penguin", "Balloon", "Kitten"],
    "Children's": ["Puppy", "Birthday", "Treehouse", "Noël", "Pony", "Carousel", "Snowman", "Goose"],
    "Comedy": ["Wedding", "Roommate", "Vacation", "Café", "Weekend", "Neighbors", "Uncle", "Party"],
    "Crime": ["Heist", "Alibi", "Mob", "Witness", "Racket", "Hustle", "Getaway", "Ransom"],
    "Documentary": ["Portrait", "Journey", "Voices", "Archive", "Coast", "Harvest", "Factory", "Choir"],
    "Drama": ["Letters", "River", "Daughter", "Winter", "Promise", "Orchard", "Widow", "Harbor"],
    "Fantasy": ["Wizard", "Sorceress", "Unicorn", "Spell", "Dragon", "Enchantment", "Giant", "Crown"],
    "Film-Noir": ["Dame", "Rain", "Detective", "Cigarette", "Shadows", "Docks", "Stranger", "Dossier"],
    "Horror": ["Crypt", "Scream", "Haunting", "Curse", "Ghoul", "Asylum", "Possession", "Skull"],
    "Musical": ["Melody", "Serenade", "Chorus", "Tango", "Ballroom", "Rhapsody", "Encore", "Waltz"],
    "Mystery": ["Clue", "Déjà Vu", "Riddle", "Manor", "Disappearance", "Key", "Portrait", "Cipher"],
    "Romance": ["Kiss", "Heart", "Fiancée", "Summer", "Señorita", "Valentine", "Rose", "Honeymoon"],
    "Sci-Fi": ["Galaxy", "Robot", "Orbit", "Android", "Nebula", "Clone", "Starship", "Mars"],
    "Thriller": ["Stalker", "Deadline", "Trap", "Conspiracy", "Hostage", "Pursuit", "Signal", "Verdict"],
    "War": ["Battalion", "Trenches", "Bomber", "Front", "Platoon", "Convoy", "Armistice", "Beachhead"],
    "Western": ["Outlaw", "Saloon", "Frontier", "Rider", "Canyon", "Sheriff", "Stagecoach", "Ranch"],
}

OCCUPATIONS = ["administrator", "artist", "doctor", "educator", "engineer", "entertainment",
               "executive", "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none",
               "other", "programmer", "retired", "salesman", "scientist", "student", "technician",
               "writer"]

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

UNKNOWN_ITEM = 267  # as in the real data, one movie whose title and dates are "unknown"/empty
FIRST_TIME, LAST_TIME = 874_724_710, 893_286_638  # the real u.data's timestamp range (1997-98)


def make_sample(dest: Path, n_users: int = 300, n_movies: int = 400, n_classics: int = 6,
                n_flops: int = 6, seed: int = 100) -> None:
    """Write the synthetic ml-100k files into the folder ``dest`` (same bytes on every call).

    Example:
        >>> import tempfile; dest = Path(tempfile.mkdtemp())
        >>> make_sample(dest); sorted(p.name for p in dest.iterdir())[:4]
        ['README', 'sample_truth.csv', 'u.data', 'u.genre']
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    movies = _make_movies(rng, n_movies, n_classics, n_flops)
    users = _make_users(rng, n_users)
    ratings = _make_ratings(rng, users, movies)
    _write_text(dest / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in ratings), "ascii")
    _write_text(dest / "u.item", "".join(_item_line(m) for m in movies), "latin-1")
    _write_text(dest / "u.user", "".join(
        f"{u['id']}|{u['age']}|{u['gender']}|{u['occupation']}|{u['zip']}\n" for u in users), "ascii")
    _write_text(dest / "u.genre", "".join(f"{g}|{k}\n" for k, g in enumerate(GENRES)), "ascii")
    truth = "movie_id,quality,role\n" + "".join(
        f"{m['id']},{m['quality']:.4f},{m['role']}\n" for m in movies)
    _write_text(dest / "sample_truth.csv", truth, "ascii")
    _write_text(dest / "README", _readme(len(users), len(movies), len(ratings)), "ascii")


def _write_text(path: Path, text: str, encoding: str) -> None:
    # newline="" so the bytes are "\n" on every platform, like the real files
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


def _make_movies(rng: np.random.Generator, n_movies: int, n_classics: int, n_flops: int) -> list[dict]:
    names = list(PRIMARY_WEIGHTS)
    weights = np.array([PRIMARY_WEIGHTS[g] for g in names], dtype=float)
    roles = [""] * n_movies
    special = rng.permutation([i for i in range(n_movies) if i + 1 != UNKNOWN_ITEM])
    for k in special[:n_classics]:
        roles[k] = "classic"
    for k in special[n_classics:n_classics + n_flops]:
        roles[k] = "flop"
    movies, used_titles = [], set()
    for k in range(n_movies):
        primary = names[rng.choice(len(names), p=weights / weights.sum())]
        genres = [primary] + [g for g, p in RELATED[primary].items() if rng.random() < p]
        quality = float(np.clip(rng.normal(0.0, 0.45), -1.1, 1.1))
        log_pop = rng.normal(0.0, 1.0) + 0.8 * quality
        if roles[k] == "classic":
            quality, log_pop = float(rng.uniform(1.5, 1.8)), float(rng.uniform(1.0, 2.0))
        elif roles[k] == "flop":
            quality, log_pop = float(rng.uniform(-1.9, -1.6)), float(rng.uniform(0.0, 0.8))
        year = int(rng.integers(1935, 1970)) if roles[k] == "classic" else _recent_year(rng)
        title = _unique_title(rng, primary, year, used_titles)
        movie = dict(id=k + 1, genres=genres, quality=quality, popularity=float(np.exp(log_pop)),
                     role=roles[k], year=year, title=title, day=int(rng.integers(1, 29)),
                     month=MONTHS[int(rng.integers(0, 12))])
        if k + 1 == UNKNOWN_ITEM:
            movie.update(genres=["unknown"], quality=0.0, popularity=0.05, title="unknown")
        movies.append(movie)
    return movies


def _recent_year(rng: np.random.Generator) -> int:
    # like the real catalogue: mostly the 1990s, a tail back to the 1930s
    return int(min(1998, 1998 - np.floor(rng.exponential(6.0))))


def _unique_title(rng: np.random.Generator, primary: str, year: int, used: set[str]) -> str:
    while True:
        adjective = ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]
        noun = NOUNS[primary][int(rng.integers(len(NOUNS[primary])))]
        others = [w for w in NOUNS[primary] if w != noun]
        other = others[int(rng.integers(len(others)))]
        form = int(rng.integers(4))
        name = {0: f"{adjective} {noun}", 1: f"{adjective} {noun}, The",
                2: f"{noun} and the {adjective} {other}", 3: f"{adjective} {noun} II"}[form]
        title = f"{name} ({year})"
        if title not in used:
            used.add(title)
            return title


def _item_line(movie: dict) -> str:
    flags = "|".join("1" if g in movie["genres"] else "0" for g in GENRES)
    if movie["title"] == "unknown":
        return f"{movie['id']}|unknown||||{flags}\n"
    date = f"{movie['day']:02d}-{movie['month']}-{movie['year']}"
    url = "http://us.imdb.com/M/title-exact?" + quote(movie["title"], safe=",()", encoding="latin-1")
    return f"{movie['id']}|{movie['title']}|{date}||{url}|{flags}\n"


def _make_users(rng: np.random.Generator, n_users: int) -> list[dict]:
    users = []
    for k in range(n_users):
        users.append(dict(
            id=k + 1, age=int(np.clip(rng.normal(33, 11), 7, 73)),
            gender="M" if rng.random() < 0.71 else "F",
            occupation=OCCUPATIONS[int(rng.integers(len(OCCUPATIONS)))],
            zip=f"{int(rng.integers(1000, 99999)):05d}",
            bias=float(rng.normal(0.0, 0.45)), taste=rng.normal(0.0, 0.8, size=3),
            n_rated=int(min(250, 20 + round(float(np.exp(rng.normal(3.8, 0.8)))))),
            start=int(rng.integers(FIRST_TIME, LAST_TIME - 3_000_000))))
    return users


def _movie_position(movie: dict) -> np.ndarray:
    axes = [AXES[g] for g in movie["genres"] if g in AXES]
    return np.mean(axes, axis=0) if axes else np.zeros(3)


def _make_ratings(rng: np.random.Generator, users: list[dict], movies: list[dict]) -> list[tuple]:
    popularity = np.array([m["popularity"] for m in movies])
    chance = popularity / popularity.sum()
    positions = np.stack([_movie_position(m) for m in movies])
    quality = np.array([m["quality"] for m in movies])
    rows = []
    for user in users:
        seen = rng.choice(len(movies), size=min(user["n_rated"], len(movies)), replace=False, p=chance)
        seen.sort()
        score = 3.45 + user["bias"] + quality[seen] + positions[seen] @ user["taste"]
        score = score + rng.normal(0.0, 0.8, size=len(seen))
        stars = np.clip(np.rint(score), 1, 5).astype(int)
        times = user["start"] + np.sort(rng.integers(0, 3_000_000, size=len(seen)))
        rows += [(user["id"], movies[i]["id"], int(s), int(t)) for i, s, t in zip(seen, stars, times)]
    order = rng.permutation(len(rows))  # the real u.data is not sorted either
    return [rows[k] for k in order]


def _readme(n_users: int, n_movies: int, n_ratings: int) -> str:
    return (
        "SYNTHETIC SAMPLE in the layout of the MovieLens 100K dataset (ml-100k).\n\n"
        "Generated by coursesamples/movielens_100k.py for offline lessons. It is NOT\n"
        "GroupLens data: users, titles and ratings are made up from planted structure.\n"
        f"{n_ratings} ratings (1-5) from {n_users} users on {n_movies} movies; each user rated at\n"
        "least 20 movies. Files: u.data, u.item (latin-1), u.user, u.genre, as in ml-100k;\n"
        "sample_truth.csv (sample only) holds each movie's planted quality and role.\n"
        "The real dataset: https://grouplens.org/datasets/movielens/100k/\n"
    )
