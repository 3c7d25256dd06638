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
import shutil
import tarfile
import threading
import time
from pathlib import Path

import http_server
import pytest
from http_server import ERROR_PAGE, LocalServer, local_server  # noqa: F401 (local_server: a fixture)

import coursehelpers.download as download_module
from coursehelpers.download import (USER_AGENT, DownloadError, download, explain_disk_full, fetch_small, locked,
                                    remove_leftovers, staging_folder)
from coursehelpers.extract import check_archive
from coursehelpers.verify import MIB, VerificationError

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
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"took longer than 0.5 s .*too slow or stalled"):
        download(url, dest, progress=False, timeout=2.0, deadline=0.5)
    assert time.monotonic() - start < 1.5  # given up as the blocks arrive, not after the whole 2 s transfer
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


@pytest.mark.parametrize("free, shown", [(len(BODY), "0.00"), (2_500_000_000, "2.50")])
def test_a_disk_with_exactly_the_space_needed_is_enough_and_less_is_said_in_gb(local_server, dest, monkeypatch,
                                                                               free, shown):
    url = local_server.route("/f.bin", BODY)
    real_usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real_usage(path)._replace(free=free))
    assert download(url, dest, len(BODY), progress=False).read_bytes() == BODY
    with pytest.raises(OSError, match=rf"\] 3\.00 GB are needed but the disk holding .* has {shown} GB free"):
        download(url, dest.with_name("big.bin"), 3 * 10**9, progress=False)


def test_a_bad_file_already_there_is_named_not_replaced(local_server, dest):
    url = local_server.route("/f.bin", BODY)
    dest.write_bytes(b"a learner's half-finished manual download")
    with pytest.raises(VerificationError, match=rf"Delete {dest} and run again to download a fresh copy") as err:
        download(url, dest, len(BODY), progress=False)
    assert err.value.check == "size"  # which check failed, for callers that handle one
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


# ---------------------------------------------------------------- issue 15: what the mutants pointed at
def test_a_body_shorter_than_the_expected_size_is_refused_when_no_length_is_announced(local_server, dest):
    url = local_server.route("/f.bin", BODY[:1000], content_length=None)  # only the size given can tell
    with pytest.raises(VerificationError, match=r"expected 256,000 bytes but got 1,000.*Nothing was kept") as err:
        download(url, dest, len(BODY), progress=False)
    assert err.value.check == "size"
    assert_nothing_written(dest.parent)


@pytest.mark.parametrize("digest", ["md5", "md5_first_mib", "sha256"])
def test_a_wrong_digest_is_refused_and_named(local_server, dest, digest):
    url = local_server.route("/f.bin", BODY)
    with pytest.raises(VerificationError, match=rf"{digest} is .* but 0000\.\.\. is expected.*report the URL") as err:
        download(url, dest, len(BODY), progress=False, **{digest: "0000"})
    assert err.value.check == digest
    assert_nothing_written(dest.parent)


def test_the_download_is_written_beside_the_destination_and_checked_before_it_is_renamed(local_server, tmp_path):
    url = local_server.route("/f.bin", BODY)
    dest = tmp_path / "new" / "nested" / "file.bin"  # folders that do not exist yet are made
    seen: list[tuple[Path, bytes, str, bool]] = []
    download(url, dest, progress=False, check=lambda tmp, what: seen.append(
        (tmp, tmp.read_bytes(), what, dest.exists())))
    [(tmp, body, what, dest_there)] = seen
    assert tmp.parent == dest.parent and tmp.name.startswith("file.bin.") and tmp.name.endswith(".part")
    assert body == BODY and what == url and not dest_there  # the whole body, checked before dest appears
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"] and dest.read_bytes() == BODY


def test_an_interrupted_download_leaves_no_partial_file(local_server, dest):
    url = local_server.route("/f.bin", BODY)

    def interrupt(tmp: Path, what: str) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the check runs
    with pytest.raises(KeyboardInterrupt):
        download(url, dest, progress=False, check=interrupt)
    assert_nothing_written(dest.parent)


def test_a_good_file_already_there_is_checked_and_used_without_the_network(local_server, dest):
    url = local_server.route("/f.bin", BODY)
    dest.write_bytes(BODY)
    checked: list[str] = []
    assert download(url, dest, len(BODY), sha256=hashlib.sha256(BODY).hexdigest(), progress=False,
                    check=lambda path, what: checked.append(what)) == dest
    assert checked == [str(dest)] and local_server.log == []


def test_a_file_already_there_that_fails_its_check_is_named(local_server, dest):
    url = local_server.route("/f.bin", BODY)
    dest.write_bytes(b"not an archive")
    with pytest.raises(VerificationError, match=rf"neither a tar nor a zip archive.*\n"
                                                rf"Delete {dest} and run again.*{url}"):
        download(url, dest, check=check_archive, progress=False)
    assert dest.read_bytes() == b"not an archive" and local_server.log == []


def test_a_reply_without_a_content_type_is_downloaded(local_server, dest, monkeypatch):
    real_send_header = http_server._Handler.send_header

    def send_header(handler: http_server._Handler, name: str, value: str) -> None:
        if name != "Content-Type":  # a bare server that does not say what it sends
            real_send_header(handler, name, value)
    monkeypatch.setattr(http_server._Handler, "send_header", send_header)
    url = local_server.route("/f.bin", BODY)
    assert download(url, dest, len(BODY), progress=False).read_bytes() == BODY


def test_requests_say_who_is_asking(local_server, dest, monkeypatch):
    agents: list[str | None] = []
    real_get = http_server._Handler.do_GET

    def do_get(handler: http_server._Handler) -> None:
        agents.append(handler.headers.get("User-Agent"))
        real_get(handler)
    monkeypatch.setattr(http_server._Handler, "do_GET", do_get)  # some servers refuse urllib's default agent
    url = local_server.route("/f.bin", BODY)
    download(url, dest, progress=False)
    fetch_small(url)
    assert agents == [USER_AGENT, USER_AGENT] and USER_AGENT.startswith("coursehelpers/")


def test_the_progress_bar_names_the_file_and_counts_its_bytes(local_server, dest, capsys):
    url = local_server.route("/data/f.bin", bytes(1_000_000))
    download(url, dest)  # shown by default
    shown = capsys.readouterr().err.replace("\r", "\n").splitlines()[-1]
    assert shown.startswith("f.bin: 100%") and "977k/977k" in shown and shown.endswith("B/s]")  # KiB, bytes/s
    download(url, dest.with_name("quiet.bin"), progress=False)
    assert capsys.readouterr().err == ""


class JumpingClock:
    """time.monotonic for download's module: each reading is a day after the one before."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 86_400.0
        return self.now


@pytest.mark.parametrize("announce, seconds", [(True, "603"), (False, "3600")])
def test_the_default_deadline_is_ten_minutes_plus_the_time_at_100_kb_per_second(local_server, dest, monkeypatch,
                                                                                 announce, seconds):
    url = local_server.route("/f.bin", BODY, content_length="auto" if announce else None)
    monkeypatch.setattr(download_module, "time", JumpingClock())
    with pytest.raises(DownloadError, match=rf"took longer than {seconds} s in all"):  # 600 + 256,000 / 100,000
        download(url, dest, progress=False)
    assert_nothing_written(dest.parent)


def test_the_deadline_counts_from_the_size_given_when_none_is_announced(local_server, dest, monkeypatch):
    url = local_server.route("/f.bin", BODY, content_length=None)
    monkeypatch.setattr(download_module, "time", JumpingClock())
    with pytest.raises(DownloadError, match=r"took longer than 603 s in all"):
        download(url, dest, len(BODY), progress=False)


def test_fetch_small_returns_at_most_its_cap(local_server):
    big = bytes(range(256)) * 5000  # 1,280,000 bytes: more than the default cap of 1 MiB
    url = local_server.route("/big.json", big)
    assert fetch_small(url) == big[:MIB]
    assert fetch_small(url, max_bytes=10) == big[:10]


def test_fetch_small_gives_none_for_a_missing_file_or_a_stalled_server(local_server):
    assert fetch_small(local_server.url + "/nothing-here.json") is None  # HTTP 404
    url = local_server.route("/slow.json", b"{}", stall=3.0)
    start = time.monotonic()
    assert fetch_small(url, timeout=0.3) is None
    assert time.monotonic() - start < 2.0  # gave up after its timeout, not when the server answered


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_or_quota_is_explained_naming_the_file(tmp_path, code):
    with pytest.raises(OSError, match=rf"The disk holding {tmp_path} is full \(no space left while writing "
                                      r"/x/f\.part\)") as err:
        with explain_disk_full(tmp_path):
            raise OSError(code, "No space left on device", "/x/f.part")
    assert err.value.errno == code and isinstance(err.value.__cause__, OSError)
    with pytest.raises(OSError, match=r"full \(no space left\)\."):
        with explain_disk_full(tmp_path):
            raise OSError(errno.ENOSPC, "No space left on device")


def test_other_disk_errors_pass_through_unchanged(tmp_path):
    error = OSError(errno.EACCES, "Permission denied", "/x/f.part")
    with pytest.raises(OSError) as err:
        with explain_disk_full(tmp_path):
            raise error
    assert err.value is error


def test_a_lock_is_held_until_its_block_ends(tmp_path):
    path = tmp_path / "new" / "x.lock"  # its folder is made
    order: list[str] = []

    def second() -> None:
        with locked(path):
            order.append("second")
    with locked(path):
        other = threading.Thread(target=second)
        other.start()
        other.join(0.2)
        order.append("first done")
    other.join(5)
    assert order == ["first done", "second"]


def test_a_staging_folder_sits_beside_its_root_readable_and_goes_away(tmp_path):
    root = tmp_path / "new" / "pets"
    with staging_folder(root) as tmp:
        assert tmp.parent == root.parent and tmp.name.startswith(".pets.tmp-") and list(tmp.iterdir()) == []
        assert tmp.stat().st_mode & 0o777 == 0o755
        (tmp / "a.txt").write_text("half-extracted")
    assert list(root.parent.iterdir()) == []
    with staging_folder(root) as tmp:
        (tmp / "a.txt").write_text("complete")
        os.replace(tmp, root)  # renamed away: kept
    assert (root / "a.txt").read_text() == "complete" and [p.name for p in root.parent.iterdir()] == ["pets"]


def test_remove_leftovers_deletes_only_what_killed_runs_left_beside_the_path(tmp_path):
    path = tmp_path / "pets.tgz"
    path.write_bytes(b"kept")
    (tmp_path / "pets.tgz.abc123.part").write_bytes(b"partial")
    (tmp_path / ".pets.tgz.tmp-xyz" / "sub").mkdir(parents=True)
    (tmp_path / ".pets.tgz.tmp-xyz" / "sub" / "a.txt").write_text("half-extracted")
    for kept in ("other.tgz.abc.part", "pets.tgz.part", ".other.tmp-1"):
        (tmp_path / kept).write_bytes(b"someone else's")
    remove_leftovers(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-1", "other.tgz.abc.part", "pets.tgz",
                                                          "pets.tgz.part"]
