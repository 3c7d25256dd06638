"""Checking that files are what they should be: a file's size and digests, a folder's manifest.

``verify`` compares one file with its expected size and digests (a digest may be
a prefix, as torchvision puts one in its file names). ``manifest`` records every
file of a folder with its size; ``damaged_files`` compares a folder with one,
cheaply (one ``stat`` a file, no reading), so a cached dataset can be checked
every time it is used.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Mapping, TypedDict

MIB = 2**20


class VerificationError(ValueError):
    """A file or folder is not what it should be (size, digest, layout, or an unsafe archive)."""

    def __init__(self, message: str, check: str | None = None) -> None:
        super().__init__(message)
        self.check = check  # the check that failed ("size", "sha256", ...), where it was one of verify's


class FileHashes(TypedDict):
    """What ``file_hashes`` measures: the size in bytes and three hex digests."""

    size: int
    md5: str            # the whole file
    md5_first_mib: str  # fastai's check: md5 of the first MiB only
    sha256: str         # the whole file


def file_hashes(path: str | os.PathLike) -> FileHashes:
    """Size, md5, md5 of the first MiB and SHA-256 of a file, in one read.

    Example:
        >>> import tempfile; p = Path(tempfile.mkstemp()[1]); _ = p.write_bytes(b"abc")
        >>> file_hashes(p)["sha256"][:16]
        'ba7816bf8f01cfea'
    """
    md5, md5_head, sha, n = hashlib.md5(), hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(MIB):
            if n < MIB:
                md5_head.update(block[: MIB - n])
            md5.update(block)
            sha.update(block)
            n += len(block)
    return {"size": n, "md5": md5.hexdigest(), "md5_first_mib": md5_head.hexdigest(),
            "sha256": sha.hexdigest()}


def verify(path: str | os.PathLike, size: int | None = None, *, md5: str | None = None,
           md5_first_mib: str | None = None, sha256: str | None = None,
           what: str | None = None) -> FileHashes:
    """Check a file's size and digests (None: not checked); return what was measured.

    A digest shorter than the real one is checked as a prefix. ``what`` names the
    file in error messages (for example its URL).

    Example:
        >>> import tempfile; p = Path(tempfile.mkstemp()[1]); _ = p.write_bytes(b"abc")
        >>> verify(p, size=3, sha256="ba7816bf")["size"]
        3
    """
    found = file_hashes(path)
    what = what or str(path)
    if size is not None and found["size"] != size:
        raise VerificationError(f"{what}: expected {size:,} bytes but got {found['size']:,}: "
                                "the file is incomplete or not the right one.", "size")
    for key, want in [("md5", md5), ("md5_first_mib", md5_first_mib), ("sha256", sha256)]:
        if want is not None and not found[key].startswith(want.lower()):
            prefix = "..." if len(want) < len(found[key]) else ""
            raise VerificationError(f"{what}: {key} is {found[key]} but {want}{prefix} is expected: "
                                    "the file is corrupt or not the right one.", key)
    return found


def manifest(root: Path) -> dict[str, int]:
    """Every file under ``root`` (relative path with ``/``) and its size in bytes.

    Example:
        >>> import tempfile; root = Path(tempfile.mkdtemp()); _ = (root / "a.txt").write_text("hi")
        >>> manifest(root)
        {'a.txt': 2}
    """
    return {p.relative_to(root).as_posix(): p.stat().st_size
            for p in sorted(root.rglob("*")) if p.is_file()}


def damaged_files(root: Path, files: Mapping[str, int]) -> list[str]:
    """What differs from the manifest ``files``: one line per missing or resized file.

    Files added since are not counted: a lesson may write its own files beside the data.

    Example:
        >>> import tempfile; root = Path(tempfile.mkdtemp()); _ = (root / "a.txt").write_text("h")
        >>> damaged_files(root, {"a.txt": 2, "b.txt": 1})
        ['a.txt has 1 bytes, not 2', 'b.txt is missing']
    """
    problems = []
    for name, size in files.items():
        try:
            found = os.stat(root / name).st_size
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        if found != size:
            problems.append(f"{name} has {found:,} bytes, not {size:,}")
    return problems
