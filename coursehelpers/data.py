"""The course's datasets and pretrained weights: ``get_data`` and ``get_weights`` turn a name into a path.

One registry entry per dataset or weights records where it comes from (URL,
size, checksums) and what it must contain. You say which mode you want:

- ``get_data(name, "sample")``: the offline sample in ``<data folder>/sample/<root>``,
  in the real dataset's layout, made on first use by ``coursesamples.<module>``.
- ``get_data(name, "full")``: the real archive, downloaded once, checked (size,
  fastai's md5 of the first MiB, SHA-256 where known) and unpacked into
  ``<data folder>/<root>``. Datasets behind a Kaggle account raise an error that
  says where to get the files and where to put them.
- ``get_weights(name)``: each name is one thing. ``resnet18/34/50`` and ``wt103_fwd``
  are downloaded; ``tiny_resnet`` and ``awd_lstm_small`` are the small pretrained
  weights bundled in the repository's ``data/weights/`` for sample mode.

A folder counts as finished only when its marker ``.<root>.complete`` (JSON: where
it came from, and the verified size and hashes) sits beside it; while both exist,
``get_data`` returns at once without touching the network. The marker is written
last, so a stopped run never leaves something that looks finished, and everything
runs under a lock, so two processes asking for the same dataset fetch it once.
How files are downloaded, checked and unpacked: ``coursehelpers.download``.

Example:
    >>> path = get_data("mnist_sample", "sample")
    >>> sorted(p.name for p in path.iterdir())
    ['labels.csv', 'train', 'valid']
"""
from __future__ import annotations

import importlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Mapping

from coursehelpers import core
from coursehelpers.download import (DownloadError, ManualDownloadError, VerificationError, download,
                                    locked, missing_paths, remove_leftovers, staging_folder,
                                    unpack_into_place, verify)

BUNDLED_WEIGHTS = core.REPO_ROOT / "data" / "weights"


@dataclass(frozen=True)
class Entry:
    """One dataset or weights in the registry.

    ``url`` is None for data with no public download: a Kaggle dataset (see
    ``instructions``) or weights bundled in ``data/weights/`` (made by ``made_by``).
    ``md5_first_mib`` is fastai's check (md5 of the first MiB); where only its first
    characters are published it holds that prefix, and only the prefix is checked.
    ``sha256`` is a full digest or, for torchvision weights, the prefix that
    torchvision puts in the file name.
    """

    name: str
    url: str | None             # None: bundled weights, or no public download (see ``instructions``)
    root: str | None            # the folder it lives in; None: a single weights file
    file: str | None            # the archive or weights file, as downloaded or bundled
    size: int | None            # bytes; None: not published
    md5_first_mib: str | None   # fastai's md5 of the first MiB (or its published prefix)
    sha256: str | None = None   # full digest or torchvision's file-name prefix
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
    # Only the first 8 hex digits of this md5 are published: checked as a prefix.
    Entry("mnist", "https://s3.amazonaws.com/fast-ai-imageclas/mnist_png.tgz",
          "mnist_png", "mnist_png.tgz", 15_683_414, "03639f83",
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
    Entry("tiny_resnet", None, None, "tiny_resnet.pth", None, None,
          made_by="data/make_tiny_resnet.py"),
    Entry("awd_lstm_small", None, "awd_lstm_small", None, None, None,
          made_by="data/make_sample_lm.py", expected=("lstm_fwd.pth", "itos_wt103.pkl")),
]}


# ---------------------------------------------------------------- what lessons call

def get_data(name: str, size: str, folder: str | os.PathLike | None = None,
             base_url: str | None = None, registry: Mapping[str, Entry] = DATASETS,
             progress: bool = True) -> Path:
    """Return the root folder of dataset ``name`` in its real layout, fetching it if needed.

    ``size``: "sample" (the offline sample) or "full" (the real data); a lesson
    resolves it once with ``core.course_size`` and passes it on. ``folder``: the
    data folder (None: ``core.data_dir()``). ``base_url`` replaces everything before
    the archive's file name in its URL (a mirror, or a local test server).

    Example:
        >>> (get_data("mnist_sample", "sample") / "labels.csv").exists()
        True
    """
    if size not in core.SIZES:
        raise ValueError(f"size must be one of {', '.join(map(repr, core.SIZES))}, not {size!r}. "
                         "Resolve it once with core.course_size(size) in the lesson's parameters cell.")
    entry = _lookup(registry, name)
    folder = Path(folder) if folder is not None else core.data_dir()
    if size == "sample":
        return _make_sample_once(entry, folder / "sample")
    return _fetch(entry, folder, base_url, progress)


def get_weights(name: str, *, folder: str | os.PathLike | None = None,
                hub_dir: str | os.PathLike | None = None, base_url: str | None = None,
                registry: Mapping[str, Entry] = WEIGHTS, bundled: str | os.PathLike = BUNDLED_WEIGHTS,
                progress: bool = True) -> Path:
    """Return the path of pretrained weights ``name`` (a file, or a folder of files).

    There is no mode argument: each name is one thing (sample mode asks for
    ``tiny_resnet`` or ``awd_lstm_small`` by name), and the other arguments are
    keyword-only, so an old ``get_weights(arch, size)`` call fails loudly.

    torchvision's ResNets go to ``<hub_dir>/checkpoints/`` (None: ``torch.hub.get_dir()``,
    where torchvision itself caches them); archives such as ``wt103_fwd`` are
    unpacked into ``<folder>/<root>`` like datasets; bundled weights are read from
    ``bundled`` (the repository's ``data/weights/``).

    Example:
        >>> get_weights("tiny_resnet").name
        'tiny_resnet.pth'
        >>> sorted(p.name for p in get_weights("awd_lstm_small").iterdir())
        ['itos_wt103.pkl', 'lstm_fwd.pth']
    """
    entry = _lookup(registry, name)
    if entry.url is None:
        return _bundled(entry, Path(bundled))
    if entry.root is not None:
        return _fetch(entry, Path(folder) if folder is not None else core.data_dir(), base_url, progress)
    return _fetch_file(entry, hub_dir, base_url, progress)


# ---------------------------------------------------------------- registry and markers

def _lookup(registry: Mapping[str, Entry], name: str) -> Entry:
    if name not in registry:
        raise KeyError(f"Unknown name {name!r}. Known: {', '.join(sorted(registry))}.")
    return registry[name]


def _url(entry: Entry, base_url: str | None) -> str:
    return entry.url if base_url is None else f"{base_url.rstrip('/')}/{entry.file}"


def _marker(root: Path) -> Path:
    return root.parent / f".{root.name}.complete"


def _lock_path(root: Path) -> Path:
    return root.parent / f".{root.name}.lock"


def _is_complete(root: Path) -> bool:
    return _marker(root).is_file() and root.is_dir()


def _write_marker(root: Path, info: dict[str, object]) -> None:
    tmp = _marker(root).with_name(_marker(root).name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True))
    os.replace(tmp, _marker(root))  # atomic: the marker is there whole, or not at all


def _bundled(entry: Entry, bundled: Path) -> Path:
    """The weights file or folder in ``bundled``, with an error naming the script that makes it."""
    path = bundled / (entry.root or entry.file)
    missing = missing_paths(path, entry.expected) if path.is_dir() else []
    if not path.exists() or missing:
        what = f"{path} lacks {', '.join(missing)}" if missing else f"{path} does not exist"
        raise FileNotFoundError(f"The bundled weights {entry.name!r} are missing: {what}. "
                                f"Make them with `python {entry.made_by}` from the repository root.")
    return path


# ---------------------------------------------------------------- samples, made once

def _make_sample_once(entry: Entry, sample_dir: Path) -> Path:
    """Return ``<sample_dir>/<root>``, generating it first if it is not complete yet."""
    root = sample_dir / entry.root
    if _is_complete(root):
        return root
    if entry.sample is None:
        raise ValueError(f"Dataset {entry.name!r} has no offline sample; use size='full'.")
    module = _sample_module(entry)
    with locked(_lock_path(root)):
        if _is_complete(root):  # another process made it while we waited
            return root
        remove_leftovers(root)
        if root.exists():  # made by a run that stopped before writing its marker
            shutil.rmtree(root)
        with staging_folder(root) as tmp:
            module.make_sample(tmp)
            n_files = sum(1 for p in tmp.rglob("*") if p.is_file())
            if n_files == 0:
                raise RuntimeError(f"{module.__name__}.make_sample wrote no files into {tmp}.")
            os.replace(tmp, root)
        _write_marker(root, {"name": entry.name, "source": f"sample:{module.__name__}",
                             "files": n_files})
    return root


def _sample_module(entry: Entry) -> ModuleType:
    """Import ``coursesamples.<entry.sample>``, with a clear error if it is not written."""
    name = f"coursesamples.{entry.sample}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # the module exists but one of its imports is missing
            raise
        raise ModuleNotFoundError(
            f"No offline sample generator for {entry.name!r}: coursesamples/{entry.sample}.py "
            "does not exist yet. Use size='full' or add that module "
            "(it must define make_sample(dest: Path) -> None).", name=name) from e


# ---------------------------------------------------------------- full downloads

def _fetch(entry: Entry, folder: Path, base_url: str | None, progress: bool) -> Path:
    """Full mode: return ``<folder>/<root>``, downloading and unpacking it if needed."""
    root = folder / entry.root
    if _is_complete(root):
        return root
    with locked(_lock_path(root)):
        if _is_complete(root):  # another process finished it while we waited
            return root
        remove_leftovers(root)
        if root.exists():
            return _adopt(entry, root)
        if entry.url is None:
            raise ManualDownloadError(_help(entry, root, None))
        url = _url(entry, base_url)
        archive = folder / "archives" / entry.file
        remove_leftovers(archive)
        try:
            download(url, archive, entry.size, entry.md5_first_mib, entry.sha256, progress)
        except DownloadError as e:
            if entry.needs_account:
                raise ManualDownloadError(f"{e}\n\n{_help(entry, root, url)}") from e
            raise
        hashes = verify(archive)  # what we actually got, recorded for the unpublished checksums
        unpack_into_place(archive, root, entry.expected)
        _write_marker(root, {"name": entry.name, "source": url, **hashes})
        archive.unlink()  # the marker keeps its hashes; the unpacked folder is what we use
    return root


def _fetch_file(entry: Entry, hub_dir: str | os.PathLike | None, base_url: str | None,
                progress: bool) -> Path:
    """A single weights file, downloaded once into ``<hub_dir>/checkpoints/`` as torchvision does."""
    if hub_dir is None:
        import torch  # torch owns this cache folder (it reads TORCH_HOME)

        hub_dir = torch.hub.get_dir()
    dest = Path(hub_dir) / "checkpoints" / entry.file
    if dest.is_file():  # only ever renamed into place after its hash was checked
        return dest
    with locked(dest.parent / f".{entry.file}.lock"):
        remove_leftovers(dest)
        return download(_url(entry, base_url), dest, entry.size, entry.md5_first_mib,
                        entry.sha256, progress)


def _adopt(entry: Entry, root: Path) -> Path:
    """Use a folder placed by hand (Kaggle) if it holds the expected files."""
    missing = missing_paths(root, entry.expected)
    if missing and entry.needs_account:
        raise ManualDownloadError(
            f"{root} is missing {', '.join(missing)}.\n\n{_help(entry, root, entry.url)}")
    if missing:
        raise VerificationError(
            f"{root} exists but is missing {', '.join(missing)}, so it is not a finished "
            "download. Delete that folder and run again to download it afresh.")
    _write_marker(root, {"name": entry.name, "source": "found in place"})
    return root


def _help(entry: Entry, root: Path, url: str | None) -> str:
    return entry.instructions.format(folder=root, url=url or entry.url)
