"""The registry: what each course dataset and weights file is, where it comes from, how to check it.

``DATASETS`` and ``WEIGHTS`` hold one ``Entry`` each (URL, size, checksums, the
layout it must have). ``from_mirror`` gives the entry as a mirror serves it: a
mirror is a URL or a folder holding the same files; if it has a ``registry.json``
at its root, that file's sizes and SHA-256s replace the registry's for the names
it lists (a mirror may serve different bytes, such as the rehearsal's random-weight
ResNets, and vouches for them itself)::

    {"resnet34": {"file": "resnet34-b627a593.pth", "size": 87319819, "sha256": "<64 hex digits>"},
     "planet": {"file": "planet.tgz", "size": 2900000, "sha256": "..."}}
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from coursehelpers.download import fetch_small
from coursehelpers.verify import VerificationError


@dataclass(frozen=True)
class Entry:
    """One dataset or weights in the registry.

    ``url`` is None for data with no public download: a Kaggle dataset (see
    ``instructions``) or weights bundled in ``data/weights/`` (made by ``made_by``).
    ``md5_first_mib`` is fastai's check (md5 of the first MiB); ``md5`` a whole-file
    md5 where one is published. ``sha256`` is a full digest or, for torchvision
    weights, the prefix that torchvision puts in the file name. Where no whole-file
    digest is known, the SHA-256 of the first download is recorded and checked after.
    """

    name: str
    url: str | None             # None: bundled weights, or no public download (see ``instructions``)
    root: str | None            # the folder it lives in; None: a single weights file
    file: str | None            # the archive or weights file, as downloaded or bundled
    size: int | None            # bytes; None: not published
    md5_first_mib: str | None   # fastai's md5 of the first MiB (or its published prefix)
    sha256: str | None = None   # full digest or torchvision's file-name prefix
    md5: str | None = None      # whole-file md5, where published
    sample: str | None = None   # datasets: the module of ``coursesamples`` that makes the sample
    made_by: str | None = None  # bundled weights: the script that makes them
    expected: tuple[str, ...] = ()  # paths that must exist under the root when complete
    needs_account: bool = False
    instructions: str = ""      # a template with {folder} and {url}, shown when files are missing


PLANET_HELP = """\
Planet comes from a Kaggle competition, so it needs a free Kaggle account:
  1. Sign in at https://www.kaggle.com, open
     https://www.kaggle.com/c/planet-understanding-the-amazon-from-space/data
     and accept the competition's rules.
  2. Download train_v2.csv (it may come as train_v2.csv.zip) and train-jpg.tar.7z, from
     that page or with the Kaggle command line tool:
         kaggle competitions download -c planet-understanding-the-amazon-from-space
  3. Unpack them (unzip train_v2.csv.zip; 7z x train-jpg.tar.7z; tar xf train-jpg.tar) so
     that this folder holds:
         {folder}/train_v2.csv
         {folder}/train-jpg/train_0.jpg, train_1.jpg, ...
     (test-jpg/ is optional.) Then run again: the files are checked and used in place.
Without an account, use size="sample" (the offline sample)."""

ROSSMANN_HELP = """\
Rossmann comes from the Kaggle competition rossmann-store-sales (free account needed)
plus four external tables that fast.ai bundles with it in {url}.
Put these 7 files in {folder}/ and run again (they are checked and used in place):
    train.csv, test.csv, store.csv
        from https://www.kaggle.com/c/rossmann-store-sales/data (sign in, accept the rules;
        or: kaggle competitions download -c rossmann-store-sales)
    store_states.csv, state_names.csv, googletrend.csv, weather.csv
        from fast.ai's rossmann.tgz (the external data shared on the competition's forum)
Without them, use size="sample" (the offline sample)."""

# Sizes and md5s: fastai's dataset list (fastai/data/external.py, "checks"). Roots and
# layouts: the archives' own top folders.
DATASETS: dict[str, Entry] = {e.name: e for e in [
    Entry("pets", "https://s3.amazonaws.com/fast-ai-imageclas/oxford-iiit-pet.tgz",
          "oxford-iiit-pet", "oxford-iiit-pet.tgz", 811_706_944, "e4db5c768afd933bb91f5f594d7417a4",
          sample="pets", expected=("images", "annotations")),
    Entry("mnist_sample", "https://s3.amazonaws.com/fast-ai-sample/mnist_sample.tgz",
          "mnist_sample", "mnist_sample.tgz", 3_214_948, "2dbc7ec6f9259b583af0072c55816a88",
          sample="mnist_sample", expected=("train/3", "train/7", "valid/3", "valid/7", "labels.csv")),
    Entry("mnist", "https://s3.amazonaws.com/fast-ai-imageclas/mnist_png.tgz",
          "mnist_png", "mnist_png.tgz", 15_683_414, "03639f83c4e3d19e0a3a53a8a997c487",
          sample="mnist", expected=("training", "testing")),
    Entry("planet", None, "planet", None, None, None, sample="planet",
          expected=("train_v2.csv", "train-jpg"), needs_account=True, instructions=PLANET_HELP),
    # fast.ai publishes no size or checksum for this archive: the SHA-256 is recorded
    # in the marker on first download, and the 7 tables are checked after unpacking.
    Entry("rossmann", "http://files.fast.ai/part2/lesson14/rossmann.tgz",
          "rossmann", "rossmann.tgz", None, None, sample="rossmann",
          expected=("train.csv", "test.csv", "store.csv", "store_states.csv", "state_names.csv",
                    "googletrend.csv", "weather.csv"),
          needs_account=True, instructions=ROSSMANN_HELP),
    Entry("imdb", "https://s3.amazonaws.com/fast-ai-nlp/imdb.tgz",
          "imdb", "imdb.tgz", 144_440_600, "90f9b1c4ff43a90d67553c9240dc0249",
          sample="imdb", expected=("train/pos", "train/neg", "test/pos", "test/neg")),
    Entry("movielens_100k", "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
          "ml-100k", "ml-100k.zip", 4_924_029, "39f6af2d7ea4e117f8838e4a302fec70",
          md5="0e33842e24a9c977be4e0107933c0723",  # GroupLens' whole-file md5, as other projects quote it
          sample="movielens_100k", expected=("u.data", "u.item", "u.user", "u.genre")),
]}

# torchvision's IMAGENET1K_V1 weights: torchvision checks that the file's SHA-256
# starts with the 8 hex digits in its name; we do the same. Exact byte sizes are
# not recorded (torchvision's docs give 44.7 / 83.3 / 97.8 MB). The two bundled
# entries are sample mode's small stand-ins, in the same formats.
WEIGHTS: dict[str, Entry] = {e.name: e for e in [
    Entry(f"resnet{n}", f"https://download.pytorch.org/models/resnet{n}-{h}.pth", None,
          f"resnet{n}-{h}.pth", None, None, sha256=h)
    for n, h in [(18, "f37072fd"), (34, "b627a593"), (50, "0676ba61")]
] + [
    Entry("wt103_fwd", "https://s3.amazonaws.com/fast-ai-modelzoo/wt103-fwd.tgz",
          "models/wt103-fwd", "wt103-fwd.tgz", 105_067_061, "7d1114cd9684bf9d1ca3c9f6a54da6f9",
          expected=("lstm_fwd.pth", "itos_wt103.pkl")),
    Entry("wt103_bwd", "https://s3.amazonaws.com/fast-ai-modelzoo/wt103-bwd.tgz",  # size and md5: fastai's checks
          "models/wt103-bwd", "wt103-bwd.tgz", 105_205_312, "20b06f5830fd5a891d21044c28d3097f",
          expected=("lstm_bwd.pth", "itos_wt103.pkl")),
    Entry("tiny_resnet", None, None, "tiny_resnet.pth", None, None,
          made_by="data/make_tiny_resnet.py"),
    Entry("awd_lstm_small", None, "awd_lstm_small", None, None, None,
          made_by="data/make_sample_lm.py", expected=("lstm_fwd.pth", "itos_wt103.pkl")),
    Entry("awd_lstm_small_bwd", None, "awd_lstm_small_bwd", None, None, None,
          made_by="data/make_sample_lm.py --backward", expected=("lstm_bwd.pth", "itos_wt103.pkl")),
]}


def from_mirror(entry: Entry, mirror: str | None) -> Entry:
    """``entry`` as ``mirror`` (a URL or a folder; None: the original source) serves it.

    Example:
        >>> import tempfile; folder = tempfile.mkdtemp()
        >>> from_mirror(DATASETS["imdb"], folder).url == Path(folder).resolve().as_uri() + "/imdb.tgz"
        True
    """
    if mirror is None:
        return entry
    base = mirror.rstrip("/") if "://" in mirror else _folder_url(mirror)
    listed = _mirror_listing(base).get(entry.name)
    if listed is not None:
        return replace(entry, url=f"{base}/{listed['file']}", file=listed["file"].rsplit("/", 1)[-1],
                       size=listed["size"], sha256=listed["sha256"], md5=None, md5_first_mib=None)
    return entry if entry.url is None else replace(entry, url=f"{base}/{entry.file}")


def _folder_url(folder: str) -> str:
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"The mirror folder {path} does not exist (check COURSE_MIRROR or base_url).")
    return path.as_uri()


def _mirror_listing(base: str) -> dict[str, dict]:
    """The mirror's ``registry.json`` (name -> file, size, sha256), checked; {} if it has none."""
    url = f"{base}/registry.json"
    raw = fetch_small(url)
    if raw is None:
        return {}
    try:
        listing = json.loads(raw)
    except ValueError as e:
        raise VerificationError(f"{url} is not valid JSON ({e}); fix the mirror's registry.json.") from e
    if not isinstance(listing, dict):
        raise VerificationError(f"{url} must hold one JSON object: name -> {{file, size, sha256}}.")
    for name, item in listing.items():
        if not _is_mirror_item(item):
            raise VerificationError(
                f"{url}: the entry {name!r} must be {{\"file\": a relative path, \"size\": bytes, "
                f"\"sha256\": 64 lowercase hex digits}}, not {item!r}. Fix the mirror's registry.json.")
    return listing


def _is_mirror_item(item: object) -> bool:
    return (isinstance(item, dict) and isinstance(item.get("file"), str)
            and re.fullmatch(r"[\w.\-]+(/[\w.\-]+)*", item["file"]) is not None
            and ".." not in item["file"].split("/")
            and type(item.get("size")) is int and item["size"] >= 0
            and isinstance(item.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", item["sha256"]) is not None)
