"""Datasets and pretrained weights: where they come from, how to check them, where they land.

One registry entry per dataset or weights file records its URL, size and
checksums; ``get_data`` and ``get_weights`` turn a name into a local path:

- ``sample`` mode: the offline sample in ``<data folder>/sample/<root>``, made on
  first use by ``coursehelpers.samples.<module>.make_sample(dest)`` (weights: the
  small files bundled in the repository's ``data/weights/``).
- ``full`` mode: the real archive, downloaded once with a progress bar, checked
  (size, fastai's md5 of the first MiB, SHA-256 where known), unpacked safely into
  ``<data folder>/<root>``. Datasets behind a Kaggle account raise an error that
  says where to get the files and where to put them.

How a dataset gets into place, so that a stopped or broken run never leaves
something that looks finished:

1. the archive is downloaded to a temporary ``*.part`` file in ``<data folder>/archives/``
   and renamed to its real name only after every check passed;
2. it is unpacked into a temporary folder next to ``<root>``, checked for the
   expected files, and that folder is renamed to ``<root>``;
3. a marker ``.<root>.complete`` (JSON: the verified size and hashes) is written
   beside it, and the archive is deleted to save disk space. While the marker and
   the folder exist, ``get_data`` returns at once without touching the network.

All of this runs under a lock file (``fcntl.flock``), so two processes asking for
the same dataset download it once. The lock is POSIX-only: on Windows, where
``fcntl`` does not exist, there is no lock, so run one process at a time there.

Example:
    >>> path = get_data("mnist_sample", size="sample")     # doctest: +SKIP
    >>> sorted(p.name for p in path.iterdir())              # doctest: +SKIP
    ['labels.csv', 'train', 'valid']
"""
from __future__ import annotations

import hashlib
import http.client
import importlib
import json
import os
import posixpath
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from tqdm import tqdm

from coursehelpers import core

try:  # POSIX only; without it (Windows) downloads are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

MIB = 2**20
CHUNK = MIB
USER_AGENT = "coursehelpers/0.1 (python urllib)"
BUNDLED_WEIGHTS = core.REPO_ROOT / "data" / "weights"


class DownloadError(RuntimeError):
    """A file could not be fetched: bad URL (HTTP error), no network, or a cut-off transfer."""


class VerificationError(ValueError):
    """A downloaded or extracted file is not what the registry says it should be."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder (absolute path, ``..``, link)."""


class ManualDownloadError(FileNotFoundError):
    """The data needs an account (Kaggle): the message says where to get it and where to put it."""


@dataclass(frozen=True)
class Entry:
    """One dataset or weights file in the registry.

    ``md5_first_mib`` is fastai's check (md5 of the first MiB); where only its first
    characters are published it holds that prefix, and only the prefix is checked.
    ``sha256`` is a full digest or, for torchvision weights, the prefix that
    torchvision puts in the file name. ``sample`` is, for datasets, the module in
    ``coursehelpers.samples`` that makes the offline sample and, for weights, the
    bundled file or folder under ``data/weights/`` (made by ``sample_script``).
    """

    name: str
    url: str | None             # None: no public download, see ``instructions``
    root: str | None            # folder under the data folder; None: a single weights file
    file: str | None            # archive (or weights file) name as downloaded
    size: int | None            # bytes; None: not published
    md5_first_mib: str | None   # fastai's md5 of the first MiB (or its published prefix)
    sha256: str | None = None   # full digest or torchvision's file-name prefix
    sample: str | None = None
    sample_script: str | None = None
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
# not recorded (torchvision's docs give 44.7 / 83.3 / 97.8 MB).
WEIGHTS: dict[str, Entry] = {e.name: e for e in [
    Entry(f"resnet{n}", f"https://download.pytorch.org/models/resnet{n}-{h}.pth", None,
          f"resnet{n}-{h}.pth", None, None, sha256=h,
          sample="tiny_resnet.pth", sample_script="data/make_tiny_resnet.py")
    for n, h in [(18, "f37072fd"), (34, "b627a593"), (50, "0676ba61")]
] + [
    Entry("wt103_fwd", "https://s3.amazonaws.com/fast-ai-modelzoo/wt103-fwd.tgz",
          "models/wt103-fwd", "wt103-fwd.tgz", 105_067_061, "7d1114cd9684bf9d1ca3c9f6a54da6f9",
          sample="wt103-fwd-sample", sample_script="data/make_sample_lm.py",
          expected=("lstm_fwd.pth", "itos_wt103.pkl")),
]}


# ---------------------------------------------------------------- public API

def get_data(name: str, size: str | None = None, folder: str | os.PathLike | None = None,
             base_url: str | None = None, registry: Mapping[str, Entry] = DATASETS,
             progress: bool = True) -> Path:
    """Return the root folder of dataset ``name`` in its real layout, fetching it if needed.

    ``size``: "sample" or "full" (None reads ``COURSE_SIZE``). ``folder``: the data
    folder (None: ``core.data_dir()``, i.e. ``COURSE_DATA`` or ``data/``).
    ``base_url`` replaces everything before the archive's file name in its URL
    (a mirror, or a local test server).

    Example:
        >>> path = get_data("mnist_sample", size="sample")   # doctest: +SKIP
        >>> (path / "labels.csv").exists()                    # doctest: +SKIP
        True
    """
    entry = _lookup(registry, name)
    folder = Path(folder) if folder is not None else core.data_dir()
    if core.course_size(size) == "sample":
        return _make_sample_once(entry, folder / "sample")
    return _fetch(entry, folder, base_url, progress)


def get_weights(name: str, size: str | None = None, folder: str | os.PathLike | None = None,
                hub_dir: str | os.PathLike | None = None, base_url: str | None = None,
                registry: Mapping[str, Entry] = WEIGHTS, bundled: str | os.PathLike = BUNDLED_WEIGHTS,
                progress: bool = True) -> Path:
    """Return the path of pretrained weights ``name``.

    full: torchvision's ResNet state dicts go to ``<hub_dir>/checkpoints/`` (None:
    ``torch.hub.get_dir()``, where torchvision itself caches them); archives such
    as ``wt103_fwd`` are unpacked into ``<folder>/<root>`` like datasets.
    sample: the small file or folder bundled in ``data/weights/``.

    Example:
        >>> get_weights("resnet34", size="sample").name      # doctest: +SKIP
        'tiny_resnet.pth'
    """
    entry = _lookup(registry, name)
    if core.course_size(size) == "sample":
        path = Path(bundled) / entry.sample
        if not path.exists():
            raise FileNotFoundError(
                f"The bundled sample weights {path} are missing. Make them with "
                f"`python {entry.sample_script}` from the repository root.")
        return path
    if entry.root is not None:
        return _fetch(entry, Path(folder) if folder is not None else core.data_dir(), base_url, progress)
    if hub_dir is None:
        import torch  # torch owns this cache folder (it reads TORCH_HOME)

        hub_dir = torch.hub.get_dir()
    dest = Path(hub_dir) / "checkpoints" / entry.file
    if dest.is_file():  # only ever renamed into place after its hash was checked
        return dest
    with _locked(dest.parent / f".{entry.file}.lock"):
        _remove_partial_downloads(dest)
        return download(_url(entry, base_url), dest, entry.size, entry.md5_first_mib,
                        entry.sha256, progress)


def download(url: str, dest: str | os.PathLike, size: int | None = None,
             md5_first_mib: str | None = None, sha256: str | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` and verify it; return ``dest``.

    The bytes go to a temporary file beside ``dest``, renamed only once the size
    and hashes match, so ``dest`` exists only if it is good. A ``dest`` that already
    exists and passes the checks is used without any network access (so a file
    fetched by hand on another machine can be dropped in place).

    Example:
        >>> download("https://s3.amazonaws.com/fast-ai-sample/mnist_sample.tgz",
        ...          "mnist_sample.tgz", size=3_214_948)      # doctest: +SKIP
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            verify(dest, size, md5_first_mib, sha256)
            return dest
        except VerificationError:
            pass  # a stale or foreign file: fetch a good one over it
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f"{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, dest, size, progress, timeout)
        verify(tmp, size, md5_first_mib, sha256, what=url)
        os.replace(tmp, dest)
    except VerificationError as e:
        tmp.unlink(missing_ok=True)
        raise VerificationError(f"{e} Nothing was kept. Run again; if it happens again, "
                                "the registry entry needs updating: please report the URL.") from None
    except BaseException:  # also Ctrl-C: never leave a partial file behind
        tmp.unlink(missing_ok=True)
        raise
    return dest


def verify(path: str | os.PathLike, size: int | None = None, md5_first_mib: str | None = None,
           sha256: str | None = None, what: str | None = None) -> dict:
    """Check a file's size and hashes (hash arguments may be prefixes); return what was measured.

    Example:
        >>> import tempfile; p = Path(tempfile.mkstemp()[1]); _ = p.write_bytes(b"abc")
        >>> verify(p, size=3, sha256="ba7816bf")["size"]
        3
    """
    path = Path(path)
    found = file_hashes(path)
    what = what or str(path)
    if size is not None and found["size"] != size:
        raise VerificationError(f"{what}: expected {size:,} bytes but got {found['size']:,}: "
                                "the file is incomplete or has changed upstream.")
    for key, want in [("md5_first_mib", md5_first_mib), ("sha256", sha256)]:
        if want is not None and not found[key].startswith(want.lower()):
            raise VerificationError(
                f"{what}: {key} is {found[key]} but the registry expects {want}"
                f"{'...' if len(want) < len(found[key]) else ''}: the file is corrupt or has "
                "changed upstream.")
    return found


def file_hashes(path: str | os.PathLike) -> dict:
    """Size, md5 of the first MiB (fastai's check) and full SHA-256 of a file, in one read."""
    md5, sha, n = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            if n < MIB:
                md5.update(block[: MIB - n])
            sha.update(block)
            n += len(block)
    return {"size": n, "md5_first_mib": md5.hexdigest(), "sha256": sha.hexdigest()}


def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack a tar (any compression) or zip archive into ``dest``, refusing unsafe members.

    Every member is checked before anything is written: absolute paths, ``..``
    parts, links that point outside ``dest`` and device files raise
    ``UnsafeArchiveError``.

    Example:
        >>> extract("mnist_sample.tgz", "tmp")   # doctest: +SKIP
        PosixPath('tmp')
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                _check_member_name(name, archive)
            zf.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _check_tar_member(member, archive)
            # Python's own "data" filter (3.11.4+, 3.10.12+) repeats these checks.
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(dest, **kwargs)
    else:
        raise VerificationError(f"{archive} is neither a tar nor a zip archive.")
    return dest


# ---------------------------------------------------------------- internals

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


def _write_marker(root: Path, info: dict) -> None:
    tmp = _marker(root).with_name(_marker(root).name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True))
    os.replace(tmp, _marker(root))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while the block runs (POSIX flock; no lock on Windows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _temp_dir_beside(root: Path) -> Path:
    """A new empty folder next to ``root`` (same file system, so renaming it is atomic)."""
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.tmp-"))
    tmp.chmod(0o755)  # mkdtemp makes it private (0700); the data should be readable like any folder
    return tmp


def _remove_leftovers(root: Path) -> None:
    """Delete temporary folders of runs that were killed (we hold the lock, so none is live)."""
    for tmp in root.parent.glob(f".{root.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_partial_downloads(dest: Path) -> None:
    for part in dest.parent.glob(f"{dest.name}.*.part"):
        part.unlink(missing_ok=True)


def _missing(root: Path, expected: tuple[str, ...]) -> list[str]:
    """The expected paths that are absent (or empty folders) under ``root``."""
    return [p for p in expected
            if not (root / p).exists() or ((root / p).is_dir() and not any((root / p).iterdir()))]


def _make_sample_once(entry: Entry, sample_dir: Path) -> Path:
    """Return ``<sample_dir>/<root>``, generating it first if it is not complete yet."""
    root = sample_dir / entry.root
    if _is_complete(root):
        return root
    if entry.sample is None:
        raise ValueError(f"Dataset {entry.name!r} has no offline sample; use size='full'.")
    module = _sample_module(entry)
    with _locked(_lock_path(root)):
        if _is_complete(root):  # another process made it while we waited
            return root
        _remove_leftovers(root)
        if root.exists():  # made by a run that stopped before writing its marker
            shutil.rmtree(root)
        tmp = _temp_dir_beside(root)
        try:
            module.make_sample(tmp)
            n_files = sum(1 for p in tmp.rglob("*") if p.is_file())
            if n_files == 0:
                raise RuntimeError(f"{module.__name__}.make_sample wrote no files into {tmp}.")
            os.replace(tmp, root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _write_marker(root, {"name": entry.name, "source": f"sample:{module.__name__}",
                             "files": n_files})
    return root


def _fetch(entry: Entry, folder: Path, base_url: str | None, progress: bool) -> Path:
    """Full mode: return ``<folder>/<root>``, downloading and unpacking it if needed."""
    root = folder / entry.root
    if _is_complete(root):
        return root
    with _locked(_lock_path(root)):
        if _is_complete(root):  # another process finished it while we waited
            return root
        _remove_leftovers(root)
        if root.exists():
            return _adopt(entry, root)
        if entry.url is None:
            raise ManualDownloadError(_help(entry, root, None))
        url = _url(entry, base_url)
        archive = folder / "archives" / entry.file
        _remove_partial_downloads(archive)
        try:
            download(url, archive, entry.size, entry.md5_first_mib, entry.sha256, progress)
        except DownloadError as e:
            if entry.needs_account:
                raise ManualDownloadError(f"{e}\n\n{_help(entry, root, url)}") from e
            raise
        hashes = verify(archive)  # what we actually got, recorded for the unpublished checksums
        _install(archive, root, entry.expected)
        _write_marker(root, {"name": entry.name, "source": url, **hashes})
        archive.unlink()  # the marker keeps its hashes; the unpacked folder is what we use
    return root


def _adopt(entry: Entry, root: Path) -> Path:
    """Use a folder placed by hand (Kaggle) if it holds the expected files."""
    missing = _missing(root, entry.expected)
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


def _install(archive: Path, root: Path, expected: tuple[str, ...]) -> None:
    """Unpack ``archive`` into a temporary folder beside ``root``, check it, rename it to ``root``."""
    tmp = _temp_dir_beside(root)
    try:
        extract(archive, tmp)
        top = [p for p in tmp.iterdir() if p.name != "__MACOSX"]
        # Most archives hold one top folder (mnist_sample.tgz -> mnist_sample/); some hold files.
        inner = top[0] if len(top) == 1 and top[0].is_dir() else tmp
        missing = _missing(inner, expected)
        if missing:
            raise VerificationError(
                f"{archive} unpacked without {', '.join(missing)}. It stays at {archive}: "
                "delete it and run again, or report the URL if it happens again.")
        os.replace(inner, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stream(url: str, out, dest: Path, size: int | None, progress: bool, timeout: float) -> None:
    """Copy ``url``'s body into ``out`` with a progress bar; fail clearly on any network problem."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            total = int(announced) if announced is not None else size
            if size is not None and announced is not None and int(announced) != size:
                raise VerificationError(
                    f"{url} announces {int(announced):,} bytes but the registry expects {size:,}: "
                    "the file has changed upstream. Nothing was downloaded; report the URL.")
            got = 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, disable=not progress) as bar:
                while block := response.read(CHUNK):
                    out.write(block)
                    got += len(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as e:
        raise DownloadError(f"Download failed: HTTP {e.code} {e.reason} for {url}. "
                            "The URL may have moved; check it in a browser.") from e
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as e:
        # no network, refused, reset, timed out (disk errors are left to speak for themselves)
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"Could not download {url} ({reason}). If this machine is offline, fetch that "
            f"URL elsewhere and put the file at {dest} (folder {dest.parent}); it is then "
            "verified and used without network access.") from e
    # http.client returns short reads without an error when a server closes early.
    if announced is not None and got != int(announced):
        raise DownloadError(f"Download of {url} stopped after {got:,} of {int(announced):,} bytes. "
                            "Nothing was kept; run again.")


def _check_member_name(name: str, archive: Path) -> None:
    parts = Path(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise UnsafeArchiveError(
            f"{archive} holds the member {name!r}, which would be written outside the target "
            "folder. Refusing to unpack it; the archive is not trustworthy.")


def _check_tar_member(member: tarfile.TarInfo, archive: Path) -> None:
    _check_member_name(member.name, archive)
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(f"{archive} holds the special file {member.name!r}; refusing it.")
    if member.issym() or member.islnk():
        # symlinks are relative to their own folder, hard links to the archive's root
        base = posixpath.dirname(member.name) if member.issym() else ""
        target = posixpath.normpath(posixpath.join("/root", base, member.linkname))
        if posixpath.isabs(member.linkname) or not (target + "/").startswith("/root/"):
            raise UnsafeArchiveError(
                f"{archive} holds a link {member.name!r} -> {member.linkname!r} pointing outside "
                "the target folder. Refusing to unpack it; the archive is not trustworthy.")


def _sample_module(entry: Entry):
    """Import ``coursehelpers.samples.<entry.sample>``, with a clear error if it is not written."""
    name = f"coursehelpers.samples.{entry.sample}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # the module exists but one of its imports is missing
            raise
        raise ModuleNotFoundError(
            f"No offline sample generator for {entry.name!r}: coursehelpers/samples/"
            f"{entry.sample}.py does not exist yet. Use size='full' or add that module "
            "(it must define make_sample(dest: Path) -> None).", name=name) from e
