"""The full-mode rehearsal's data: tiny stand-ins for every full dataset and weights file the lessons use.

`build_mirror(folder)` writes, under their real file names, the archives and weights that
`get_data(name, "full")` and `get_weights(name)` download, in the real archives' layouts
(top folder, file names, encodings, CSV columns), and the ``registry.json`` that vouches
for them (size and SHA-256, see data/README.md, Mirrors). `place_kaggle(data)` puts Planet
and Rossmann where a learner puts the Kaggle files by hand. The contents are drawn or
synthetic (MNIST's are real digits from the samples' source) and small, so that each
lesson's own full-mode recipe (resnet34/50 at 460/224 px, the AWD-LSTM at emb 400 / hidden
1152, the full batch sizes) runs end to end under ``COURSE_MAX_BATCHES`` in CI time:

- every validation and test set fits in one validation batch (2 x the lesson's full-mode
  batch size), so a capped pass still predicts all of it and the lessons' row counts agree;
- the image training sets fit in one small batch (pets 15, planet 8 images), so each capped
  epoch costs one step, and a step costs what 8-15 images at 224 px cost, not 64: on two CPU
  cores the image lessons' time is their training steps, and this keeps the rehearsal in CI
  time; the IMDB texts make one language-model batch of 128 short rows.

Left out, as no lesson reads them: Oxford's trimaps/ and xmls/, IMDB's *.feat bag-of-words
files, ml-100k's u1-u5/ua/ub splits and scripts, Planet's test-jpg-additional/.

Usage: ``python tests/make_full_mirror.py MIRROR_FOLDER DATA_FOLDER``.
"""
from __future__ import annotations

import argparse
import re
import tarfile
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchvision
from http_server import write_registry_json
from PIL import Image

from coursehelpers.registry import DATASETS, WEIGHTS
from coursehelpers.text import ulmfit
from coursehelpers.text.tokenize import SPECIALS
from coursesamples import imdb, mnist, pets, planet, rossmann

SEED = 0
PET_BREEDS = sorted(pets.BREEDS, key=str.lower)[::2]  # 19 of the 37 (5 cat), a photo each: 15 train, 4 valid
PET_SIZES = [(500, 375), (375, 500), (500, 333), (500, 400), (334, 500)]  # (width, height), as Oxford's photos
MNIST_SAMPLE = {"train": 150, "valid": 50}   # per digit (3 and 7)
MNIST_PNG = {"training": 30, "testing": 10}  # per digit (0-9)
PLANET = dict(n_train=80, n_test=4, size=256)  # Kaggle's train-jpg tiles are 256 x 256 JPEGs; drawn, then cut to
PLANET_KEPT = 10                                # 10 (8 train, 2 valid) that between them carry every tag drawn
ROSSMANN_STORES = 5                    # 48 test days x 5 stores = 240 test rows: one batch of 2 x 128
IMDB = {"train": 12, "test": 6, "unsup": 24}  # texts per label (train, test) or in all (unsup): 4,400 tokens
MOVIELENS = dict(n_users=45, n_movies=40)    # about 1,100 ratings: 20% valid in two batches of 128
WT103_VOCAB = 3000                     # fastai's has 60,000 tokens; the sizes of the LSTM are the real ones


# ---------------------------------------------------------------- archives

def write_tgz(folder: Path, archive: Path) -> Path:
    """``folder`` as a gzipped tar whose one top folder is ``folder.name`` (as the course's archives are)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz", compresslevel=1) as tf:  # level 1: the weights are random, they do not shrink
        tf.add(folder, arcname=folder.name)
    return archive


def write_zip(folder: Path, archive: Path) -> Path:
    """``folder`` as a zip whose entries start with ``folder.name/`` (as ml-100k.zip's do)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return archive


# ---------------------------------------------------------------- images

def pet_photo(breed: str, index: int) -> Image.Image:
    """A drawn pet at the size of a real photo; the first two are greyscale and CMYK, modes real files come in."""
    img, _ = pets.draw_pet(breed, np.random.default_rng([SEED, index]))
    img = img.resize(PET_SIZES[index % len(PET_SIZES)], Image.Resampling.BICUBIC)
    return img.convert({0: "L", 1: "CMYK"}.get(index, "RGB"))


def write_pets(root: Path) -> Path:
    """``oxford-iiit-pet/``: images/<Breed>_<N>.jpg and annotations/{list,trainval,test}.txt in Oxford's format."""
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    ids, lines = pets.class_ids(), []
    for breed in PET_BREEDS:
        pet_photo(breed, len(lines)).save(root / "images" / f"{breed}_1.jpg", quality=90)
        lines.append(f"{breed}_1 {' '.join(map(str, ids[breed]))}")
    header = "#Image CLASS-ID SPECIES BREED-ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
    (root / "annotations" / "list.txt").write_text(header + "\n".join(lines) + "\n")
    (root / "annotations" / "trainval.txt").write_text("\n".join(lines[0::2]) + "\n")
    (root / "annotations" / "test.txt").write_text("\n".join(lines[1::2]) + "\n")
    return root


def write_mnist(root: Path, splits: dict[str, int], digits: range | tuple) -> list[str]:
    """Real MNIST digits (the samples' source) as ``<split>/<digit>/<row>.png``; returns the names written."""
    images, labels = mnist.digit_images()
    names = []
    for split_index, (split, n) in enumerate(splits.items()):
        for digit in digits:
            rows = np.flatnonzero(labels == digit)[split_index * 200:][:n]  # the splits take different digits
            for row in rows:
                names.append(f"{split}/{digit}/{row}.png")
                mnist.save_png(images[row], root / names[-1])
    return names


def write_mnist_sample(root: Path) -> Path:
    """``mnist_sample/``: train/ and valid/ of 3s and 7s, and labels.csv (``name,label``, 0 = a 3), as fastai's."""
    names = write_mnist(root, MNIST_SAMPLE, (3, 7))
    (root / "labels.csv").write_text("name,label\n" + "".join(f"{n},{int(n.split('/')[1] == '7')}\n" for n in names))
    return root


def write_mnist_png(root: Path) -> Path:
    """``mnist_png/``: training/ and testing/ of the ten digits."""
    write_mnist(root, MNIST_PNG, range(10))
    return root


# ---------------------------------------------------------------- Kaggle, placed by hand

def write_planet(root: Path) -> Path:
    """``planet/``: train_v2.csv, train-jpg/train_N.jpg (256 px), test-jpg/, sample_submission_v2.csv.

    Ten drawn tiles miss rare tags that the lesson reads by name (haze, habitation), as the real
    40,479 never do: draw more, then keep tiles that between them carry every tag that was drawn."""
    planet.make_sample(root, **PLANET)
    table = pd.read_csv(root / "train_v2.csv")
    tags = table.tags.str.split().map(set)
    kept, seen = [], set()
    while len(kept) < PLANET_KEPT:  # greedy cover: the tile with the most tags not yet seen, ties in file order
        gains = [len(t - seen) if i not in kept else -1 for i, t in enumerate(tags)]
        kept.append(int(np.argmax(gains)))
        seen |= tags[kept[-1]]
    kept = sorted(kept)
    for i, name in enumerate(table.image_name):
        if i not in kept:
            (root / "train-jpg" / f"{name}.jpg").unlink()
    table.iloc[kept].to_csv(root / "train_v2.csv", index=False, lineterminator="\n")
    return root


def write_rossmann(root: Path) -> Path:
    """``rossmann/``: the 7 tables, cut to a few stores: the test stores with a blank Open and with a gap in 2014."""
    with tempfile.TemporaryDirectory() as tmp:
        rossmann.make_sample(Path(tmp))
        tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in Path(tmp).glob("*.csv")}
    train, test = tables["train"], tables["test"]
    blank_open = test.Store[test.Open == ""].unique().tolist()
    in_test = set(test.Store)
    gap = [s for s in train.Store.unique() if s in in_test and not (train[train.Store == s].Date.str[:7] == "2014-09").any()]
    stores = list(dict.fromkeys(blank_open + gap[:1] + sorted(in_test, key=int)))[:ROSSMANN_STORES]
    for name in ("train", "test", "store", "store_states"):
        tables[name] = tables[name][tables[name].Store.isin(stores)]
    tables["test"] = tables["test"].assign(Id=[str(i) for i in range(1, len(tables["test"]) + 1)])
    root.mkdir(parents=True)
    for name, table in tables.items():
        table.to_csv(root / f"{name}.csv", index=False, lineterminator="\n")
    return root


def place_kaggle(data: Path) -> dict[str, Path]:
    """Planet and Rossmann in ``data`` (a COURSE_DATA folder), where data/README.md tells learners to put them."""
    return {"planet": write_planet(data / DATASETS["planet"].root),
            "rossmann": write_rossmann(data / DATASETS["rossmann"].root)}


# ---------------------------------------------------------------- text and ratings

def write_imdb(root: Path) -> Path:
    """``imdb/``: {train,test}/{pos,neg}/<id>_<rating>.txt (7-10 pos, 1-4 neg), unsup/<id>_0.txt, urls_*.txt,
    imdb.vocab, README. Each review is two real Rotten Tomatoes snippets (the sample's) joined by ``<br /><br />``."""
    rows = pd.read_csv(imdb.SUBSET)
    for split in ("train", "test"):
        for category, label in imdb.LABELS.items():
            texts = rows[(rows.split == split) & (rows.category == category)].text.tolist()[: 2 * IMDB[split]]
            reviews = [a + "<br /><br />" + b for a, b in zip(texts[0::2], texts[1::2])]
            first = 7 if label == "pos" else 1
            write_reviews(root / split / label, reviews, [first + i % 4 for i in range(len(reviews))],
                          root / split / f"urls_{label}.txt")
    plots = rows[rows.split == "unsup"].text.tolist()[: IMDB["unsup"]]
    write_reviews(root / "unsup", plots, [0] * len(plots), root / "train" / "urls_unsup.txt")
    words = Counter(w for f in sorted(root.rglob("*.txt")) if "urls" not in f.name
                    for w in re.findall(r"[a-z0-9']+", f.read_text(encoding="utf-8").lower()))
    (root / "imdb.vocab").write_text("\n".join(sorted(words, key=lambda w: (-words[w], w))) + "\n", encoding="utf-8")
    (root / "README").write_text("Large Movie Review Dataset v1.0 layout (Maas et al., ACL 2011): a stand-in for the "
                                 "course's full-mode rehearsal, made by tests/make_full_mirror.py.\n")
    return root


def write_reviews(folder: Path, texts: list[str], ratings: list[int], urls: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (text, rating) in enumerate(zip(texts, ratings)):
        (folder / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")
    urls.write_text("".join(f"http://www.imdb.com/title/tt{100000 + i:07d}/usercomments\n" for i in range(len(texts))))


GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
OCCUPATIONS = ["administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
               "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
               "retired", "salesman", "scientist", "student", "technician", "writer"]
TITLE_WORDS = ["Silent", "River", "Night", "Café", "Lumière", "Garden", "Señor", "Storm", "Für", "Elise", "Last",
               "Summer", "Misérables", "Road", "Train", "Crème", "Winter", "Ghost", "Island", "Bête", "Noire"]


def movielens_items(rng: np.random.Generator, n_movies: int) -> list[str]:
    """u.item's lines: id|title|release date|video release date|IMDb URL|19 genre flags (latin-1 titles)."""
    lines = []
    for m in range(1, n_movies + 1):
        words = " ".join(rng.choice(TITLE_WORDS, 2, replace=False))
        year = int(rng.integers(1930, 1998))
        title = f"{words} ({year})" if m != n_movies else lines[0].split("|")[1]  # ml-100k lists a few titles twice
        flags = np.zeros(len(GENRES), int)
        flags[rng.choice(np.arange(1, len(GENRES)), int(rng.integers(1, 4)), replace=False)] = 1
        url = "http://us.imdb.com/M/title-exact?" + title.replace(" ", "%20")
        lines.append(f"{m}|{title}|01-Jan-{year}||{url}|" + "|".join(map(str, flags)))
    return lines


def write_movielens(root: Path) -> Path:
    """``ml-100k/``: u.data (tab), u.item (``|``, latin-1), u.user, u.genre, u.occupation, u.info, README."""
    rng = np.random.default_rng(SEED)
    n_users, n_movies = MOVIELENS["n_users"], MOVIELENS["n_movies"]
    taste, axes = rng.normal(0, 0.7, (n_users, 3)), rng.normal(0, 0.7, (n_movies, 3))
    quality, popularity = rng.normal(0, 0.5, n_movies), 1 / (np.arange(n_movies) + 5.0)
    rows = []
    for u in range(n_users):  # every user rated at least 20 movies, as in ml-100k
        for m in rng.choice(n_movies, int(rng.integers(20, 31)), replace=False, p=popularity / popularity.sum()):
            stars = np.clip(np.round(3.5 + quality[m] + taste[u] @ axes[m] + rng.normal(0, 0.6)), 1, 5)
            rows.append(f"{u + 1}\t{m + 1}\t{int(stars)}\t{874724710 + int(rng.integers(0, 18_500_000))}\n")
    root.mkdir(parents=True)
    (root / "u.data").write_text("".join(rows), encoding="ascii")
    (root / "u.item").write_text("\n".join(movielens_items(rng, n_movies)) + "\n", encoding="latin-1")
    users = [f"{u}|{int(rng.integers(7, 74))}|{rng.choice(['M', 'M', 'F'])}|{rng.choice(OCCUPATIONS)}|"
             f"{int(rng.integers(10000, 99999))}\n" for u in range(1, n_users + 1)]
    (root / "u.user").write_text("".join(users), encoding="ascii")
    (root / "u.genre").write_text("".join(f"{g}|{k}\n" for k, g in enumerate(GENRES)) + "\n", encoding="ascii")
    (root / "u.occupation").write_text("\n".join(OCCUPATIONS) + "\n", encoding="ascii")
    (root / "u.info").write_text(f"{n_users} users\n{n_movies} items\n{len(rows)} ratings\n", encoding="ascii")
    (root / "README").write_text("MovieLens 100K layout: a synthetic stand-in for the course's full-mode "
                                 "rehearsal, made by tests/make_full_mirror.py.\n", encoding="ascii")
    return root


# ---------------------------------------------------------------- weights, random at the real sizes

def write_wt103(root: Path, backward: bool = False) -> Path:
    """``wt103-fwd/``: lstm_fwd.pth (fastai's keys, emb 400, hidden 1152, 3 layers, random) and itos_wt103.pkl;
    ``backward``: ``wt103-bwd/`` with lstm_bwd.pth."""
    texts = pd.read_csv(imdb.SUBSET).text.str.lower()
    counts = Counter(t for text in texts for t in re.findall(r"n't|'\w+|\w+|[^\w\s]", text))
    itos = list(SPECIALS) + [t for t, _ in counts.most_common(WT103_VOCAB - len(SPECIALS))]
    torch.manual_seed(SEED)
    return ulmfit.save_fastai_lm(ulmfit.language_model(len(itos), 400, 1152, 3), itos, root, backward=backward)


def write_resnet(name: str, file: Path) -> Path:
    """torchvision's ``name`` with random weights, saved as torchvision's hub checkpoint (a plain state dict)."""
    torch.manual_seed(SEED)
    file.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.get_model(name, weights=None).state_dict(), file)
    return file


def build_mirror(folder: Path) -> Path:
    """Every archive and weights file under its real name in ``folder``, and its registry.json; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    writers = {"pets": write_pets, "mnist_sample": write_mnist_sample, "mnist": write_mnist_png,
               "imdb": write_imdb, "movielens_100k": write_movielens}
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in writers.items():
            entry = DATASETS[name]
            archive = folder / entry.file
            top = write(Path(tmp) / entry.root)
            (write_zip if entry.file.endswith(".zip") else write_tgz)(top, archive)
            files[name] = entry.file
        for name in ("wt103_fwd", "wt103_bwd"):
            wt103 = WEIGHTS[name]
            write_tgz(write_wt103(Path(tmp) / Path(wt103.root).name, backward=name == "wt103_bwd"), folder / wt103.file)
            files[name] = wt103.file
    for name in ("resnet34", "resnet50"):
        files[name] = write_resnet(name, folder / WEIGHTS[name].file).name
    write_registry_json(folder, files)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mirror", type=Path, help="where the archives, weights and registry.json go")
    parser.add_argument("data", type=Path, help="a COURSE_DATA folder: Planet and Rossmann are placed in it")
    args = parser.parse_args()
    print("mirror:", build_mirror(args.mirror), "| placed by hand:", place_kaggle(args.data))


if __name__ == "__main__":
    main()
