"""Downloading a file safely: it lands whole and checked, or not at all.

The bytes go to a ``*.part`` file beside the destination, which is renamed only
once the size, the digests and an optional ``check`` (is it a complete archive?)
have passed. A download stops at its expected size (a server that sends more is
cut off and refused), gives up when a read stalls (``timeout``) or the whole
takes too long (``deadline``), and refuses a web page sent instead of the file
(a login page or captive portal). A full disk gets a message that says so.

``locked`` keeps two processes from doing the same work at once; it uses
``fcntl.flock``, which is POSIX-only, so on Windows run one process at a time.
``coursehelpers.data`` uses these for the registry's datasets and weights.
"""
from __future__ import annotations

import errno
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from tqdm import tqdm

from coursehelpers.verify import MIB, VerificationError, verify

try:  # POSIX only; without it (Windows) downloads are not locked against each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

USER_AGENT = "coursehelpers/0.1 (python urllib)"
MIN_SPEED = 100_000             # bytes/s: the default deadline allows a transfer this slow
DEADLINE_FLOOR_S = 600.0        # ... plus this long (connection set-up, a slow start)
UNKNOWN_SIZE_DEADLINE_S = 3600.0


class DownloadError(RuntimeError):
    """A file could not be fetched: HTTP error, no network, a stall, a cut or a web page instead."""


def download(url: str, dest: str | os.PathLike, size: int | None = None, *, md5: str | None = None,
             md5_first_mib: str | None = None, sha256: str | None = None,
             check: Callable[[Path, str], None] | None = None, progress: bool = True,
             timeout: float = 30.0, deadline: float | None = None) -> Path:
    """Download ``url`` to ``dest``, verify it (size, digests, ``check``); return ``dest``.

    A ``dest`` already there is verified the same way and used offline (a file fetched
    by hand can be dropped in place); if it fails, the error names it. ``timeout``: seconds
    one read may stall; ``deadline``: for the whole (None: 10 minutes plus the time at 100 kB/s).

    Example (a ``file://`` URL, so it runs offline):
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "hello.txt").write_bytes(b"hello")
        >>> copy = download((folder / "hello.txt").as_uri(), folder / "copy.txt", size=5, progress=False)
        >>> copy.read_bytes()
        b'hello'
    """
    dest, checks = Path(dest), {"md5": md5, "md5_first_mib": md5_first_mib, "sha256": sha256}
    if dest.is_file():
        return _verify_existing(dest, url, size, checks, check)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _need_space(dest.parent, size)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f"{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with explain_disk_full(dest.parent), os.fdopen(fd, "wb") as out:
            _stream(url, out, dest, size, progress, timeout, deadline)
        verify(tmp, size, **checks, what=url)
        if check is not None:
            check(tmp, url)
        os.replace(tmp, dest)
    except VerificationError as e:
        tmp.unlink(missing_ok=True)
        raise VerificationError(f"{e} Nothing was kept. Run again; if it happens again, the registry "
                                "entry needs updating: please report the URL.", e.check) from None
    except BaseException:  # also Ctrl-C: never leave a partial file behind
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _verify_existing(dest: Path, url: str, size: int | None, checks: dict[str, str | None],
                     check: Callable[[Path, str], None] | None) -> Path:
    try:
        verify(dest, size, **checks)
        if check is not None:
            check(dest, str(dest))
    except VerificationError as e:
        raise VerificationError(f"{e}\nDelete {dest} and run again to download a fresh copy "
                                f"from {url}.", e.check) from None
    return dest


def _stream(url: str, out: BinaryIO, dest: Path, size: int | None, progress: bool,
            timeout: float, deadline: float | None) -> None:
    """Copy ``url``'s body into ``out``; fail clearly on any network problem."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            announced = _announced_length(response, url, size)
            limit = size if size is not None else announced
            if deadline is None:
                deadline = UNKNOWN_SIZE_DEADLINE_S if limit is None else round(DEADLINE_FLOOR_S + limit / MIN_SPEED)
            got = _copy(response, out, url, limit, deadline, progress)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"Download failed: HTTP {e.code} {e.reason} for {url}. "
                            "The URL may have moved; check it in a browser.") from e
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException) as e:
        # no network, refused, reset, stalled (disk errors are explained by explain_disk_full)
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"Could not download {url} ({reason}). If this machine is offline or its connection too "
            "slow, fetch that "
            f"URL elsewhere and put the file at {dest} (folder {dest.parent}); it is then "
            "verified and used without network access.") from e
    # http.client returns short reads without an error when a server closes early.
    if announced is not None and got != announced:
        raise DownloadError(f"Download of {url} stopped after {got:,} of {announced:,} bytes. "
                            "Nothing was kept; run again.")


def _announced_length(response: BinaryIO, url: str, size: int | None) -> int | None:
    """The reply's Content-Length as a number (None: not sent); refuse web pages and nonsense."""
    if response.headers.get("Content-Type", "").lower().startswith("text/html"):
        raise DownloadError(
            f"{url} sent a web page instead of the file: usually a sign-in page (hotel, campus or "
            "company Wi-Fi), a proxy, or an error page. Nothing was kept. Open the URL in a browser, "
            "sign in if asked, and run again.")
    announced = response.headers.get("Content-Length")
    if announced is None:
        return None
    if not announced.strip().isdigit():
        raise DownloadError(
            f"{url} sent a broken Content-Length header ({announced!r}, not a number of bytes), so "
            "the download could not be checked. Nothing was kept. A proxy or firewall may be "
            "changing the reply: try another network, or fetch the file in a browser.")
    if size is not None and int(announced) != size:
        raise VerificationError(
            f"{url} announces {int(announced):,} bytes but {size:,} are expected: the file has "
            "changed upstream or the server sent something else. Nothing was downloaded.")
    return int(announced)


def _copy(source: BinaryIO, out: BinaryIO, url: str, limit: int | None, deadline: float,
          progress: bool) -> int:
    """Copy ``source`` into ``out`` under a progress bar, at most ``limit`` bytes; return the count."""
    got, start = 0, time.monotonic()
    read = getattr(source, "read1", source.read)  # read1: what has arrived, so the clock is checked often
    with tqdm(total=limit, unit="B", unit_scale=True, unit_divisor=1024,
              desc=url.rsplit("/", 1)[-1], disable=not progress) as bar:
        while block := read(MIB if limit is None else min(MIB, limit + 1 - got)):
            got += len(block)
            if limit is not None and got > limit:
                raise VerificationError(f"{url} sent more than the {limit:,} bytes expected; the "
                                        "transfer was cut off there and refused.")
            if time.monotonic() - start > deadline:  # _stream explains it, with where to put the file
                raise TimeoutError(f"took longer than {deadline:g} s in all, {got:,} bytes received: "
                                   "the connection is too slow or stalled")
            out.write(block)
            bar.update(len(block))
    return got


def fetch_small(url: str, max_bytes: int = MIB, timeout: float = 30.0) -> bytes | None:
    """The first ``max_bytes`` of a small file at ``url`` (HTTP or ``file://``); None if it cannot be fetched.

    Example:
        >>> import tempfile; p = Path(tempfile.mkstemp()[1]); _ = p.write_bytes(b"{}")
        >>> fetch_small(p.as_uri()), fetch_small(p.with_name("nothing-here").as_uri())
        (b'{}', None)
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(max_bytes)
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException):
        return None  # missing, or no network: the caller goes on without it


# ---------------------------------------------------------------- disk, lock and staging

@contextmanager
def explain_disk_full(folder: Path) -> Iterator[None]:
    """Turn "no space left on device" while writing under ``folder`` into advice a learner can follow."""
    try:
        yield
    except OSError as e:
        if e.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise
        where = f" while writing {e.filename}" if e.filename else ""
        raise OSError(e.errno, f"The disk holding {folder} is full (no space left{where}). Nothing "
                      "half-written was kept. Free some space, or "
                      "set COURSE_DATA (TORCH_HOME for torchvision's weights) to a folder on a bigger "
                      "disk, and run again.") from e


def _need_space(folder: Path, size: int | None) -> None:
    free = shutil.disk_usage(folder).free
    if size is not None and size > free:
        raise OSError(errno.ENOSPC, f"{size / 1e9:.2f} GB are needed but the disk holding {folder} has "
                      f"{free / 1e9:.2f} GB free. Nothing was downloaded: free some space, or set "
                      "COURSE_DATA to a folder on a bigger disk, and run again.")


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
