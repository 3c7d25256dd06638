"""Unpacking archives safely: only plain files and folders, each written where it really lands.

Python's own ``extractall`` trusts the names and links inside an archive, and its
``filter="data"`` safeguard exists only on recent releases. So ``extract`` does
the work itself, the same way on every Python from 3.10 on, with or without
``tarfile.data_filter``:

- it refuses links (symbolic and hard), devices and fifos: no course dataset
  holds any, and links are how archives escape (link chains, the long-path trick
  of CVE-2025-4517);
- it refuses names that are absolute, carry ``..``, a drive letter or a backslash;
- it writes only into a new, empty folder and checks where each file would really
  land (``os.path.realpath``), never following a link when it opens a file;
- it refuses an archive that would unpack to more than ``max_bytes`` (a "zip
  bomb") or to more than the disk has free; tarfile and zipfile never return more
  than a member declares (zipfile then fails its CRC check).

Everything is checked before the first byte is written.
"""
from __future__ import annotations

import errno
import gzip
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator

from coursehelpers.download import explain_disk_full, staging_folder
from coursehelpers.verify import MIB, VerificationError

MAX_UNPACKED_BYTES = 16 * 2**30  # the largest course archive (pets) unpacks to under 1 GiB
MAX_NAME, MAX_PATH = 255, 4000   # Linux's limits on one name and a whole path (bytes)


class UnsafeArchiveError(VerificationError):
    """An archive holds something that could write outside its folder, or is far too big."""


@dataclass(frozen=True)
class Member:
    """One entry of a tar or zip archive, described the same way for both."""

    name: str
    kind: str    # "file", "dir", or what else it is ("symbolic link to 'x'", "device", ...)
    size: int    # bytes, as the archive declares them
    ref: object  # the TarInfo or ZipInfo, to open it


def extract(archive: str | os.PathLike, dest: str | os.PathLike,
            max_bytes: int = MAX_UNPACKED_BYTES) -> Path:
    """Unpack a tar (any compression) or zip archive into ``dest``, a new or empty folder.

    Raises ``UnsafeArchiveError`` (and writes nothing) for any member that is not a
    plain file or folder, or would land outside ``dest``, or when the whole would
    exceed ``max_bytes``; a failure while writing (a full disk) leaves ``dest`` empty.

    Example:
        >>> import io, tarfile, tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with tarfile.open(folder / "a.tgz", "w:gz") as tf:
        ...     tf.addfile(tarfile.TarInfo("top/empty.txt"), io.BytesIO(b""))
        >>> [p.name for p in (extract(folder / "a.tgz", folder / "out") / "top").iterdir()]
        ['empty.txt']
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty: extract unpacks only into a new, empty folder.")
    real_dest = Path(os.path.realpath(dest))
    with _open_archive(archive) as (members, open_member):
        targets = [_landing_path(real_dest, m, archive) for m in members]
        _check_total(members, archive, real_dest, max_bytes)
        with explain_disk_full(dest):
            try:
                for member, target in zip(members, targets):
                    _write(member, target, real_dest, open_member, archive)
            except BaseException:  # also Ctrl-C: dest was empty, so leave it empty, not half-written
                for path in dest.iterdir():
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                raise
    return dest


def check_archive(archive: str | os.PathLike, what: str | None = None) -> None:
    """Read a whole archive, raising ``VerificationError`` if it is cut short or corrupt.

    ``what`` names it in the message (for example its URL; None: its path).

    Example:
        >>> import io, tarfile, tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.tgz"
        >>> with tarfile.open(path, "w:gz") as tf:
        ...     tf.addfile(tarfile.TarInfo("empty.txt"), io.BytesIO(b""))
        >>> check_archive(path)
        >>> _ = path.write_bytes(path.read_bytes()[:20])
        >>> check_archive(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        coursehelpers.verify.VerificationError: ...a.tgz is damaged or incomplete...
    """
    with _open_archive(Path(archive), what) as (members, open_member):
        for member in members:  # a tar was read whole to list it (gzip checks its CRC); a zip's
            if member.kind == "file" and isinstance(member.ref, zipfile.ZipInfo):  # CRCs are per file
                with open_member(member) as source:
                    while source.read(MIB):
                        pass


@contextmanager
def _open_archive(archive: Path, what: str | None = None
                  ) -> Iterator[tuple[list[Member], Callable[[Member], IO[bytes]]]]:
    """The members of a tar or zip archive and a function that opens one; damage is a clear error."""
    what = what or str(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                yield [_zip_member(i) for i in zf.infolist()], lambda m: zf.open(m.ref)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                yield [_tar_member(i) for i in tf.getmembers()], lambda m: tf.extractfile(m.ref)
                while tf.fileobj.read(MIB):  # on to the end, where gzip checks its CRC
                    pass
        else:
            raise VerificationError(f"{what} is neither a tar nor a zip archive (a web page, or a "
                                    "cut download?).")
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise VerificationError(f"{what} is damaged or incomplete ({e}).") from e


def _tar_member(info: tarfile.TarInfo) -> Member:
    kinds = [(info.isreg(), "file"), (info.isdir(), "dir"),
             (info.issym(), f"symbolic link to {info.linkname!r}"),
             (info.islnk(), f"hard link to {info.linkname!r}"),
             (info.ischr() or info.isblk(), "device"), (info.isfifo(), "fifo")]
    return Member(info.name, next((k for is_kind, k in kinds if is_kind), "special file"), info.size, info)


def _zip_member(info: zipfile.ZipInfo) -> Member:
    mode = info.external_attr >> 16  # Unix mode bits, when made on Unix; 0 otherwise
    if stat.S_ISLNK(mode):
        kind = "symbolic link"
    elif info.is_dir() or stat.S_ISDIR(mode):
        kind = "dir"
    elif stat.S_IFMT(mode) in (0, stat.S_IFREG):
        kind = "file"
    else:
        kind = "special file"
    return Member(info.filename, kind, info.file_size, info)


def _landing_path(real_dest: Path, member: Member, archive: Path) -> Path:
    """Where ``member`` would be written under ``real_dest``; refuse it unless a file or folder inside."""
    if member.kind not in ("file", "dir"):
        raise _refusal(archive, member, f"a {member.kind} (course archives hold only files and folders)")
    parts = [p for p in member.name.split("/") if p not in ("", ".")]
    if (member.name.startswith("/") or "\\" in member.name or "\0" in member.name
            or re.match(r"[A-Za-z]:", member.name) or ".." in parts):
        raise _refusal(archive, member, "a name that would be written outside the target folder")
    target = real_dest.joinpath(*parts)
    if len(os.fsencode(target)) > MAX_PATH or any(len(os.fsencode(p)) > MAX_NAME for p in parts):
        raise _refusal(archive, member, "a name too long for the file system")
    _must_land_inside(target, real_dest, archive, member)
    return target


def _must_land_inside(target: Path, real_dest: Path, archive: Path, member: Member) -> None:
    """Refuse ``target`` unless its real path, after any links, is inside ``real_dest``."""
    real = os.path.realpath(target)
    if os.path.commonpath([real, real_dest]) != str(real_dest):
        raise _refusal(archive, member, f"which would really land at {real}, outside the target folder")


def _refusal(archive: Path, member: Member, why: str) -> UnsafeArchiveError:
    name = member.name if len(member.name) < 200 else f"{member.name[:80]}...{member.name[-40:]}"
    return UnsafeArchiveError(f"{archive} holds {name!r}, {why}. Nothing was unpacked: the "
                              "archive is not safe to open. Delete it; if it came from the course's "
                              "own source, please report the URL.")


def _check_total(members: list[Member], archive: Path, dest: Path, max_bytes: int) -> None:
    """Refuse an archive larger, unpacked, than ``max_bytes`` or than the disk's free space."""
    total = sum(m.size for m in members if m.kind == "file")
    if total > max_bytes:
        raise UnsafeArchiveError(
            f"{archive} would unpack to {total:,} bytes, more than the limit of {max_bytes:,} "
            "(an archive built to fill the disk, or the wrong file). Nothing was unpacked; delete it.")
    free = shutil.disk_usage(dest).free
    if total > free:
        raise OSError(errno.ENOSPC, f"{archive} unpacks to {total / 1e9:.2f} GB but the disk holding "
                      f"{dest} has only {free / 1e9:.2f} GB free. Nothing was unpacked: free some "
                      "space, or use a data folder on a bigger disk, and run again.")


def _write(member: Member, target: Path, real_dest: Path, open_member: Callable[[Member], IO[bytes]],
           archive: Path) -> None:
    """Write one checked member: a folder, or a file opened without following links."""
    if member.kind == "dir":
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _must_land_inside(target, real_dest, archive, member)  # again, now that its folders exist
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(target, flags, 0o644), "wb") as out, open_member(member) as source:
        shutil.copyfileobj(source, out, MIB)  # tarfile and zipfile stop at the declared size


def unpack_into_place(archive: Path, root: Path, expected: tuple[str, ...],
                      max_bytes: int = MAX_UNPACKED_BYTES) -> Path:
    """Unpack ``archive`` beside ``root``, check the ``expected`` paths, rename it to ``root``.

    Most archives hold one top folder (``mnist_sample.tgz`` -> ``mnist_sample/``),
    which becomes ``root``; an archive of loose files becomes ``root`` as a whole.
    On any failure ``root`` does not exist afterwards and ``archive`` is kept.
    """
    with staging_folder(root) as tmp:
        extract(archive, tmp, max_bytes)
        top = [p for p in tmp.iterdir() if p.name != "__MACOSX"]
        inner = top[0] if len(top) == 1 and top[0].is_dir() else tmp
        missing = missing_paths(inner, expected)
        if missing:
            raise VerificationError(
                f"{archive} unpacked without {', '.join(missing)}. It stays at {archive}: "
                "delete it and run again, or report the URL if it happens again.")
        os.replace(inner, root)
    return root


def missing_paths(root: Path, expected: tuple[str, ...]) -> list[str]:
    """The ``expected`` paths that are absent under ``root``, or are empty files or folders.

    Example:
        >>> import tempfile; root = Path(tempfile.mkdtemp()); _ = (root / "a.csv").write_text("")
        >>> missing_paths(root, ("a.csv", "images"))
        ['a.csv', 'images']
    """
    def present(path: Path) -> bool:
        return any(path.iterdir()) if path.is_dir() else path.is_file() and path.stat().st_size > 0
    return [p for p in expected if not present(root / p)]
