"""Tests of coursehelpers.download against a real HTTP server on 127.0.0.1 (tests/http_server.py).

Each fault a network can produce is served for real: a server that sends more than
expected, stalls, drips, hangs up, sends a sign-in page or a nonsense
Content-Length; and a disk that fills up. In every case the error says what
happened and what to do, and no file (not even a ``*.part``) is left behind.
"""
from __future__ import annotations

import errno
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from http_server import ERROR_PAGE, LocalServer, local_server  # noqa: F401 (local_server: a fixture)

from coursehelpers.download import DownloadError, download
from coursehelpers.extract import check_archive
from coursehelpers.verify import VerificationError

BODY = bytes(range(256)) * 1000  # 256,000 bytes


def assert_nothing_written(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [], list(folder.iterdir())


@pytest.fixture
def dest(tmp_path) -> Path:
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache" / "file.bin"


def test_good_download_is_verified(local_server, dest):
    url = local_server.route("/f.bin", BODY)
    sha = hashlib.sha256(BODY).hexdigest()
    assert download(url, dest, len(BODY), sha256=sha, md5=hashlib.md5(BODY).hexdigest(),
                    progress=False).read_bytes() == BODY


def test_a_server_sending_more_is_cut_off_and_refused(local_server, dest):
    url = local_server.route("/f.bin", BODY, content_length=None, extra=b"x" * 5_000_000)
    with pytest.raises(VerificationError, match=r"sent more than the 256,000 bytes expected; the transfer "
                                                r"was cut off there and refused.*Nothing was kept"):
        download(url, dest, len(BODY), progress=False)
    assert_nothing_written(dest.parent)


def test_a_server_announcing_another_size_is_refused_before_downloading(local_server, dest):
    url = local_server.route("/f.bin", BODY)
    with pytest.raises(VerificationError, match=r"announces 256,000 bytes but 1,000 are expected"):
        download(url, dest, 1000, progress=False)
    assert_nothing_written(dest.parent)


def test_a_cut_transfer_keeps_nothing(local_server, dest):
    url = local_server.route("/f.bin", BODY, cut_after=1000)
    with pytest.raises(DownloadError, match=r"stopped after 1,000 of 256,000 bytes.*Nothing was kept"):
        download(url, dest, progress=False)
    assert_nothing_written(dest.parent)


def test_a_stalled_read_times_out(local_server, dest):
    url = local_server.route("/f.bin", BODY, stall=3.0)
    with pytest.raises(DownloadError, match=r"Could not download .*f\.bin \(.*timed out\).*put the file at"):
        download(url, dest, progress=False, timeout=0.3)
    assert_nothing_written(dest.parent)


def test_a_slow_transfer_meets_the_overall_deadline(local_server, dest):
    url = local_server.route("/f.bin", BODY, seconds=2.0)  # every read arrives in time, the whole does not
    with pytest.raises(DownloadError, match=r"took longer than 0.5 s .*too slow or stalled"):
        download(url, dest, progress=False, timeout=2.0, deadline=0.5)
    assert_nothing_written(dest.parent)


@pytest.mark.parametrize("status", [200, 404])
def test_a_web_page_instead_of_the_file_is_never_kept(local_server, dest, status):
    url = local_server.route("/f.bin", ERROR_PAGE, status=status, content_type="text/html; charset=utf-8")
    expected = "sent a web page instead of the file" if status == 200 else "HTTP 404"
    with pytest.raises(DownloadError, match=expected):
        download(url, dest, progress=False)
    assert_nothing_written(dest.parent)


@pytest.mark.parametrize("header", ["12abc", "-5", "256000, 256000"])
def test_a_nonsense_content_length_is_explained(local_server, dest, header):
    url = local_server.route("/f.bin", BODY, content_length=header)
    with pytest.raises(DownloadError, match=r"broken Content-Length header .*not a number of bytes"):
        download(url, dest, progress=False)
    assert_nothing_written(dest.parent)


def test_a_full_disk_is_explained_and_leaves_nothing(local_server, dest, monkeypatch):
    url = local_server.route("/f.bin", BODY)
    real_fdopen = os.fdopen

    class FillsUp(io.RawIOBase):  # a file that takes 100 kB, then reports a full disk
        def __init__(self, fd: int) -> None:
            self.inner, self.written = real_fdopen(fd, "wb"), 0

        def write(self, block: bytes) -> int:
            if self.written + len(block) > 100_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(block)
            return self.inner.write(block)

        def close(self) -> None:
            self.inner.close()
    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: FillsUp(fd) if mode == "wb"
                        else real_fdopen(fd, mode, *a, **k))
    with pytest.raises(OSError, match=r"The disk holding .*cache is full .*Free some space, or set "
                                      r"COURSE_DATA") as err:
        download(url, dest, progress=False)
    assert err.value.errno == errno.ENOSPC
    assert_nothing_written(dest.parent)


def test_not_enough_space_is_said_before_downloading(local_server, dest):
    url = local_server.route("/f.bin", BODY)
    with pytest.raises(OSError, match=r"1000\.00 GB are needed but the disk holding .* has") as err:
        download(url, dest, 10**12, progress=False)
    assert err.value.errno == errno.ENOSPC and local_server.log == []


def test_a_bad_file_already_there_is_named_not_replaced(local_server, dest):
    url = local_server.route("/f.bin", BODY)
    dest.write_bytes(b"a learner's half-finished manual download")
    with pytest.raises(VerificationError, match=rf"Delete {dest} and run again to download a fresh copy"):
        download(url, dest, len(BODY), progress=False)
    assert dest.read_bytes() == b"a learner's half-finished manual download" and local_server.log == []


def test_check_refuses_an_incomplete_archive_with_no_size_to_compare(local_server, dest):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("train.csv")
        info.size = len(BODY)
        tf.addfile(info, io.BytesIO(BODY))
    cut = buf.getvalue()[: len(buf.getvalue()) // 2]
    url = local_server.route("/f.tgz", cut, content_length=None)  # a cut no header reveals
    with pytest.raises(VerificationError, match=r"is damaged or incomplete.*Nothing was kept"):
        download(url, dest, check=check_archive, progress=False)
    assert_nothing_written(dest.parent)


def test_the_server_serves_a_folder_and_logs(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_bytes(b"hello")
    (tmp_path / "secret.txt").write_bytes(b"no")
    with LocalServer(tmp_path / "sub") as server:
        assert download(f"{server.url}/a.txt", tmp_path / "a", 5, progress=False).read_bytes() == b"hello"
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(f"{server.url}/../secret.txt", tmp_path / "s", progress=False)
    assert server.log[0] == "/a.txt"
