"""Getting files onto disk safely: download and verify them, unpack archives, put folders in place.

Every step writes to a temporary name first and renames only what passed its
checks, so a stopped or broken run never leaves something that looks finished:
a download goes to a ``*.part`` file beside its destination; an archive is
unpacked into a hidden staging folder beside its final folder. The lock
(``locked``) keeps two processes from doing the same work at once; it uses
``fcntl.flock``, which is POSIX-only, so on Windows run one process at a time.

``coursehelpers.data`` uses these to fetch the registry's datasets and weights;
they work as well on any URL and file.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import posixpath
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, TypedDict

from tqdm import tqdm

try:  # POSIX only; without it (Windows) downloads are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

MIB = 2**20
CHUNK = MIB
USER_AGENT = "coursehelpers/0.1 (python urllib)"


class DownloadError(RuntimeError):
    """A file could not be fetched: bad URL (HTTP error), no network, or a cut-off transfer."""


class VerificationError(ValueError):
    """A downloaded or extracted file is not what the registry says it should be."""


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the target folder (absolute path, ``..``, link)."""


class ManualDownloadError(FileNotFoundError):
    """The data needs an account (Kaggle): the message says where to get it and where to put it."""


class FileHashes(TypedDict):
    """What ``file_hashes`` measures: the size in bytes and two hex digests."""

    size: int
    md5_first_mib: str  # fastai's check: md5 of the first MiB only
    sha256: str


# ---------------------------------------------------------------- download and verify

def download(url: str, dest: str | os.PathLike, size: int | None = None,
             md5_first_mib: str | None = None, sha256: str | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` and verify it; return ``dest``.

    The bytes go to a temporary file beside ``dest``, renamed only once the size and
    hashes match, so ``dest`` exists only if it is good. A ``dest`` already there that
    passes the checks is used offline (so a file fetched by hand can be dropped in place).

    Example (a ``file://`` URL, so it runs offline):
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "hello.txt").write_bytes(b"hello")
        >>> copy = download((folder / "hello.txt").as_uri(), folder / "copy.txt", size=5, progress=False)
        >>> copy.read_bytes()
        b'hello'
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
           sha256: str | None = None, what: str | None = None) -> FileHashes:
    """Check a file's size and hashes (hash arguments may be prefixes); return what was measured.

    ``what`` names the file in error messages (for example its URL).

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


def file_hashes(path: str | os.PathLike) -> FileHashes:
    """Size, md5 of the first MiB (fastai's check) and full SHA-256 of a file, in one read.

    Example:
        >>> import tempfile; p = Path(tempfile.mkstemp()[1]); _ = p.write_bytes(b"abc")
        >>> file_hashes(p)["sha256"][:16]
        'ba7816bf8f01cfea'
    """
    md5, sha, n = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            if n < MIB:
                md5.update(block[: MIB - n])
            sha.update(block)
            n += len(block)
    return {"size": n, "md5_first_mib": md5.hexdigest(), "sha256": sha.hexdigest()}


def _stream(url: str, out: BinaryIO, dest: Path, size: int | None, progress: bool,
            timeout: float) -> None:
    """Copy ``url``'s body into ``out`` with a progress bar; fail clearly on any network problem."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = response.headers.get("Content-Length")
            if size is not None and announced is not None and int(announced) != size:
                raise VerificationError(
                    f"{url} announces {int(announced):,} bytes but the registry expects {size:,}: "
                    "the file has changed upstream. Nothing was downloaded; report the URL.")
            total = int(announced) if announced is not None else size
            got = _copy_with_bar(response, out, total, dest.name, progress)
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


def _copy_with_bar(source: BinaryIO, out: BinaryIO, total: int | None, label: str,
                   progress: bool) -> int:
    """Copy ``source`` into ``out`` block by block under a progress bar; return the bytes copied."""
    got = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
              desc=label, disable=not progress) as bar:
        while block := source.read(CHUNK):
            out.write(block)
            got += len(block)
            bar.update(len(block))
    return got


# ---------------------------------------------------------------- unpack

def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack a tar (any compression) or zip archive into ``dest``, refusing unsafe members.

    Every member is checked before anything is written: absolute paths, ``..``
    parts, links that point outside ``dest`` and device files raise
    ``UnsafeArchiveError``.

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


def unpack_into_place(archive: Path, root: Path, expected: tuple[str, ...]) -> Path:
    """Unpack ``archive`` beside ``root``, check the ``expected`` paths, rename it to ``root``.

    Most archives hold one top folder (``mnist_sample.tgz`` -> ``mnist_sample/``),
    which becomes ``root``; an archive of loose files becomes ``root`` as a whole.
    On any failure ``root`` does not exist afterwards and ``archive`` is kept.
    """
    with staging_folder(root) as tmp:
        extract(archive, tmp)
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
    """The ``expected`` paths that are absent under ``root``, or are empty folders."""
    return [p for p in expected
            if not (root / p).exists() or ((root / p).is_dir() and not any((root / p).iterdir()))]


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


# ---------------------------------------------------------------- lock and staging

@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` while the block runs (no lock on Windows).

    Example:
        >>> import tempfile
        >>> with locked(Path(tempfile.mkdtemp()) / "demo.lock"):
        ...     print("only one process at a time gets here")
        only one process at a time gets here
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
        yield


@contextmanager
def staging_folder(root: Path) -> Iterator[Path]:
    """A new empty folder beside ``root``, deleted when the block ends unless renamed away.

    It sits in the same folder as ``root`` (so on the same file system), which makes
    ``os.replace(staging, root)`` atomic: ``root`` appears complete or not at all.
    """
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.tmp-"))
    tmp.chmod(0o755)  # mkdtemp makes it private (0700); the data should be readable like any folder
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_leftovers(path: Path) -> None:
    """Delete what killed runs left beside ``path``: partial downloads and staging folders.

    Call it only while holding ``path``'s lock, so that none of them is still in use.
    """
    for part in path.parent.glob(f"{path.name}.*.part"):
        part.unlink(missing_ok=True)
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
