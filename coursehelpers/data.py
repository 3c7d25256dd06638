"""The course's datasets and pretrained weights: ``get_data`` and ``get_weights`` turn a name into a path.

What each name is (URL, size, checksums, layout) lives in ``coursehelpers.registry``.
You say which mode you want:

- ``get_data(name, "sample")``: the offline sample in ``<data folder>/sample/<root>``,
  in the real dataset's layout, made on first use by ``coursesamples.<module>``.
- ``get_data(name, "full")``: the real archive, downloaded once, checked (size, the
  published digests, or the SHA-256 recorded at the first download), tested to be a
  whole archive, and unpacked safely into ``<data folder>/<root>``. Datasets behind
  a Kaggle account raise an error that says where to get the files and where to
  put them; a folder placed there by hand is checked and used.
- ``get_weights(name)``: each name is one thing. ``resnet18/34/50`` and ``wt103_fwd``/``_bwd``
  are downloaded; ``tiny_resnet`` and ``awd_lstm_small``/``_bwd`` are the small pretrained
  weights bundled in the repository's ``data/weights/`` for sample mode. A weights
  file is checked against its digest every time it is returned.

A folder counts as finished only when its marker ``.<root>.complete`` sits beside
it: JSON with where it came from, the archive's size and digests, and a manifest of
every file and its size. Each call compares the folder with that manifest (one
``stat`` a file, no network), so a deleted or truncated file is reported by name.
The marker is written last, and everything runs under a lock, so a stopped run never
leaves something that looks finished and two processes fetch a dataset once.
A mirror (``$COURSE_MIRROR`` or ``base_url``) may serve the files instead of the
original sources, with its own checksums: see ``coursehelpers.registry``.

Example:
    >>> path = get_data("mnist_sample", "sample")
    >>> sorted(p.name for p in path.iterdir())
    ['labels.csv', 'train', 'valid']
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Mapping

from coursehelpers import core
from coursehelpers.download import DownloadError, download, locked, remove_leftovers, staging_folder
from coursehelpers.extract import check_archive, missing_paths, unpack_into_place
from coursehelpers.registry import DATASETS, WEIGHTS, Entry, from_mirror
from coursehelpers.verify import VerificationError, damaged_files, file_hashes, manifest

BUNDLED_WEIGHTS = core.REPO_ROOT / "data" / "weights"


class ManualDownloadError(FileNotFoundError):
    """The data needs an account (Kaggle): the message says where to get it and where to put it."""


def get_data(name: str, size: str, folder: str | os.PathLike | None = None,
             base_url: str | None = None, registry: Mapping[str, Entry] = DATASETS,
             progress: bool = True) -> Path:
    """Return the root folder of dataset ``name`` in its real layout, fetching it if needed.

    ``size``: "sample" (the offline sample) or "full" (the real data); a lesson
    resolves it once with ``core.course_size`` and passes it on. ``folder``: the
    data folder (None: ``core.data_dir()``). ``base_url``: a mirror, a URL or a
    folder serving the archives under their file names (None: ``core.mirror()``,
    and without one the original sources).

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
    return _fetch(entry, folder, base_url if base_url is not None else core.mirror(), progress)


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
    ``bundled`` (the repository's ``data/weights/``). ``base_url``: as in ``get_data``.

    Example:
        >>> get_weights("tiny_resnet").name
        'tiny_resnet.pth'
        >>> sorted(p.name for p in get_weights("awd_lstm_small").iterdir())
        ['itos_wt103.pkl', 'lstm_fwd.pth']
    """
    entry = _lookup(registry, name)
    if entry.made_by is not None:
        return _bundled(entry, Path(bundled))
    mirror = base_url if base_url is not None else core.mirror()
    if entry.root is not None:
        return _fetch(entry, Path(folder) if folder is not None else core.data_dir(), mirror, progress)
    return _fetch_file(entry, hub_dir, mirror, progress)


# ---------------------------------------------------------------- registry and markers

def _lookup(registry: Mapping[str, Entry], name: str) -> Entry:
    if name not in registry:
        raise KeyError(f"Unknown name {name!r}. Known: {', '.join(sorted(registry))}.")
    return registry[name]


def _marker(root: Path) -> Path:
    return root.parent / f".{root.name}.complete"


def _lock_path(root: Path) -> Path:
    return root.parent / f".{root.name}.lock"


def _read_marker(root: Path) -> dict:
    """The marker's contents, or {} when there is none (or it is not a JSON object)."""
    try:
        info = json.loads(_marker(root).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _write_marker(root: Path, info: dict[str, object]) -> None:
    tmp = _marker(root).with_name(_marker(root).name + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, sort_keys=True))
    os.replace(tmp, _marker(root))  # atomic: the marker is there whole, or not at all


def _is_complete(entry: Entry, root: Path) -> bool:
    """Whether ``root`` is finished; a finished folder whose files changed since is an error."""
    info = _read_marker(root)
    if not root.is_dir() or not isinstance(info.get("files"), dict):
        return False
    problems = damaged_files(root, info["files"])
    if problems:
        listed = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise VerificationError(f"The {entry.name!r} data in {root} has changed since it was checked: "
                                f"{listed}. {_repair_advice(root, str(info.get('source')))}")
    return True


def _repair_advice(root: Path, source: str) -> str:
    if source.startswith("sample:"):
        return f"Delete the folder {root} and run again: the sample is made again in a few seconds."
    if source == "found in place":
        return (f"Put those files back, or delete {_marker(root)} to have the folder checked "
                "afresh as it is now.")
    return f"Delete the folder {root} and run again: it is downloaded and checked afresh."


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
    """Return ``<sample_dir>/<root>``, generating it first if it is missing or was made by other generators."""
    root = sample_dir / entry.root
    if _is_current_sample(entry, root):
        return root
    if entry.sample is None:
        raise ValueError(f"Dataset {entry.name!r} has no offline sample; use size='full'.")
    module = _sample_module(entry)
    with locked(_lock_path(root)):
        if _is_current_sample(entry, root):  # another process made it while we waited
            return root
        remove_leftovers(root)
        if root.exists():  # unfinished, or made by generators that have changed since: make it afresh
            shutil.rmtree(root)
        with staging_folder(root) as tmp:
            module.make_sample(tmp)
            files = manifest(tmp)
            if not files:
                raise RuntimeError(f"{module.__name__}.make_sample wrote no files into {tmp}.")
            os.replace(tmp, root)
        _write_marker(root, {"name": entry.name, "source": f"sample:{module.__name__}", "files": files,
                             "made_by": generators_digest()})
    return root


def _is_current_sample(entry: Entry, root: Path) -> bool:
    return _is_complete(entry, root) and _read_marker(root).get("made_by") == generators_digest()


@functools.lru_cache(maxsize=1)  # once per process: the generators do not change while it runs
def generators_digest() -> str:
    """SHA-256 of the sample generators' files (coursesamples/): a sample made by other code is made again.

    Example:
        >>> len(generators_digest())
        64
    """
    import coursesamples

    folder, digest = Path(coursesamples.__file__).parent, hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".pyc"):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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

def _fetch(entry: Entry, folder: Path, mirror: str | None, progress: bool) -> Path:
    """Full mode: return ``<folder>/<root>``, downloading and unpacking it if needed."""
    root = folder / entry.root
    if _is_complete(entry, root):
        return root
    with locked(_lock_path(root)):
        if _is_complete(entry, root):  # another process finished it while we waited
            return root
        remove_leftovers(root)
        old = _read_marker(root)  # an earlier download's record: its SHA-256 is pinned
        if root.exists():
            return _adopt(entry, root, old)
        source = from_mirror(entry, mirror)
        if source.url is None:
            raise ManualDownloadError(_help(entry, root, None))
        archive = folder / "archives" / source.file
        remove_leftovers(archive)
        _download_archive(source, archive, root, old, progress)
        record = {"name": entry.name, "source": source.url, **file_hashes(archive)}
        unpack_into_place(archive, root, entry.expected)
        _write_marker(root, {**record, "files": manifest(root)})
        archive.unlink()  # the marker keeps its digests; the unpacked folder is what we use
    return root


def _checks(entry: Entry, old: dict) -> dict:
    """Size and digests to check: the entry's, and where it has no whole-file digest, the
    SHA-256 that an earlier download from the same URL recorded (``old``, its marker)."""
    checks = {"size": entry.size, "md5": entry.md5, "md5_first_mib": entry.md5_first_mib,
              "sha256": entry.sha256}
    if entry.sha256 is None and entry.md5 is None and old.get("source") == entry.url:
        checks["sha256"] = old.get("sha256")
    return checks


def _download_archive(entry: Entry, archive: Path, root: Path, old: dict, progress: bool) -> None:
    """Download and check ``entry``'s archive (a whole archive, not cut), with errors that say what to do."""
    checks = _checks(entry, old)
    try:
        download(entry.url, archive, **checks, check=check_archive, progress=progress)
    except DownloadError as e:
        if entry.needs_account:
            raise ManualDownloadError(f"{e}\n\n{_help(entry, root, entry.url)}") from e
        raise
    except VerificationError as e:
        if e.check == "sha256" and checks["sha256"] != entry.sha256:  # the pinned one failed
            raise VerificationError(f"{e}\nThe SHA-256 expected is the one recorded at the first "
                                    f"download, in {_marker(root)}; if the file really changed "
                                    "upstream, delete that marker and run again.") from None
        raise


def _fetch_file(entry: Entry, hub_dir: str | os.PathLike | None, mirror: str | None,
                progress: bool) -> Path:
    """A single weights file in ``<hub_dir>/checkpoints/`` as torchvision keeps it, checked every time."""
    source = from_mirror(entry, mirror)
    if hub_dir is None:
        import torch  # torch owns this cache folder (it reads TORCH_HOME)

        hub_dir = torch.hub.get_dir()
    dest = Path(hub_dir) / "checkpoints" / source.file
    with locked(dest.parent / f".{dest.name}.lock"):
        remove_leftovers(dest)
        return download(source.url, dest, **_checks(source, {}), progress=progress)


def _adopt(entry: Entry, root: Path, old: dict) -> Path:
    """Use a folder placed by hand (Kaggle) if it holds the expected files; record its manifest."""
    missing = missing_paths(root, entry.expected)
    if missing and entry.needs_account:
        raise ManualDownloadError(
            f"{root} is missing {', '.join(missing)}.\n\n{_help(entry, root, entry.url)}")
    if missing:
        raise VerificationError(
            f"{root} exists but is missing {', '.join(missing)}, so it is not a finished "
            "download. Delete that folder and run again to download it afresh.")
    kept = {k: old[k] for k in ("size", "md5", "md5_first_mib", "sha256") if k in old}
    _write_marker(root, {"name": entry.name, "source": old.get("source", "found in place"), **kept,
                         "files": manifest(root)})
    return root


def _help(entry: Entry, root: Path, url: str | None) -> str:
    return entry.instructions.format(folder=root, url=url or entry.url)
