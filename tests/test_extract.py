"""Tests of coursehelpers.extract: hostile archives change nothing outside their folder.

Each hostile archive is unpacked into ``tmp/target`` beside a file ``tmp/outside.txt``;
afterwards that file must be byte-identical, nothing new may exist outside the
target, and nothing may have been written inside it either (everything is
checked before the first byte is written). Every case runs with and without
``tarfile.data_filter``, as on a Python older than 3.10.12 / 3.11.4.
"""
from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from coursehelpers.extract import (UnsafeArchiveError, check_archive, extract, missing_paths,
                                   unpack_into_place)
from coursehelpers.verify import VerificationError

OUTSIDE = b"the learner's own file, which no archive may touch\n"


def tar_bytes(members: list[tuple[str, str, bytes | str]], mode: str = "w:gz") -> bytes:
    """A tar of (name, type, body-or-linkname) with type "file", "dir", "sym", "hard", "fifo" or "dev"."""
    types = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
             "hard": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "dev": tarfile.CHRTYPE}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = types[kind]
            if kind == "file":
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                info.linkname = payload if kind in ("sym", "hard") else ""
                tf.addfile(info)
    return buf.getvalue()


def zip_bytes(members: list[tuple[str, bytes]], mode: int | None = None) -> bytes:
    """A zip of (name, body); ``mode`` sets the Unix mode bits of the last member."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, body) in enumerate(members):
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None and i == len(members) - 1:
                info.external_attr = mode << 16
            zf.writestr(info, body)
    return buf.getvalue()


def stored_zip(data: bytes) -> bytes:
    """A zip holding ``data`` uncompressed as a.csv (so its bytes can be changed in place)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.csv", data)
    return buf.getvalue()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(params=["with data_filter", "without data_filter"])
def python_filter(request, monkeypatch):
    if request.param == "without data_filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def absolute_name(tmp: Path) -> str:
    return str(tmp / "outside.txt")


HOSTILE_TARS = {
    "dotdot": lambda tmp: [("ok.txt", "file", b"ok"), ("../outside.txt", "file", b"evil")],
    "absolute": lambda tmp: [("ok.txt", "file", b"ok"), (absolute_name(tmp), "file", b"evil")],
    # Each link looks inside on its own; together they reach the parent of the target.
    "link chain": lambda tmp: [("sub/", "dir", b""), ("sub/up", "sym", ".."), ("sub/up/up2", "sym", ".."),
                               ("sub/up/up2/outside.txt", "file", b"evil")],
    "symlink out": lambda tmp: [("link", "sym", str(tmp)), ("link/outside.txt", "file", b"evil")],
    "symlink inside": lambda tmp: [("a.txt", "file", b"hi"), ("b.txt", "sym", "a.txt")],
    "hard link out": lambda tmp: [("hl", "hard", absolute_name(tmp))],
    "hard link inside": lambda tmp: [("a.txt", "file", b"hi"), ("b.txt", "hard", "a.txt")],
    "fifo": lambda tmp: [("pipe", "fifo", b"")],
    "device": lambda tmp: [("dev", "dev", b"")],
    "backslash": lambda tmp: [("sub\\..\\..\\outside.txt", "file", b"evil")],
    "long name": lambda tmp: [("a/" * 2100 + "f.txt", "file", b"evil")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tar_changes_nothing(tmp_path, python_filter, case):
    (tmp_path / "outside.txt").write_bytes(OUTSIDE)
    archive = tmp_path / "hostile.tgz"
    archive.write_bytes(tar_bytes(HOSTILE_TARS[case](tmp_path)))
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=r"hostile\.tgz holds .*Nothing was unpacked"):
        extract(archive, tmp_path / "target")
    assert (tmp_path / "outside.txt").read_bytes() == OUTSIDE
    assert snapshot(tmp_path) == {**before, "target": b"<dir>"}  # the target stays empty


HOSTILE_ZIPS = {
    "dotdot": ([("ok.txt", b"ok"), ("../outside.txt", b"evil")], None),
    "absolute": ([("/outside.txt", b"evil")], None),
    "drive letter": ([("C:/outside.txt", b"evil")], None),
    "drive relative": ([("c:outside.txt", b"evil")], None),
    "backslash": ([("sub\\outside.txt", b"evil")], None),
    "symlink entry": ([("ok.txt", b"ok"), ("link", b"../outside.txt")], stat.S_IFLNK | 0o777),
    "fifo entry": ([("pipe", b"")], stat.S_IFIFO | 0o644),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zip_changes_nothing(tmp_path, case):
    (tmp_path / "outside.txt").write_bytes(OUTSIDE)
    members, mode = HOSTILE_ZIPS[case]
    archive = tmp_path / "hostile.zip"
    archive.write_bytes(zip_bytes(members, mode))
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=r"hostile\.zip holds .*Nothing was unpacked"):
        extract(archive, tmp_path / "target")
    assert snapshot(tmp_path) == {**before, "target": b"<dir>"}


def test_refusal_says_what_the_member_is(tmp_path):
    archive = tmp_path / "a.tar"
    archive.write_bytes(tar_bytes([("data/link", "sym", "../../etc/passwd")], mode="w"))
    with pytest.raises(UnsafeArchiveError) as err:
        extract(archive, tmp_path / "out")
    assert "'data/link', a symbolic link to '../../etc/passwd'" in str(err.value)


def test_plain_files_and_folders_unpack(tmp_path, python_filter):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(tar_bytes([("top/", "dir", b""), ("top/a/b.txt", "file", b"hi"),
                                   ("./top/c.txt", "file", b"")]))
    out = extract(archive, tmp_path / "out")
    assert snapshot(out) == {"top": b"<dir>", "top/a": b"<dir>", "top/a/b.txt": b"hi", "top/c.txt": b""}
    (tmp_path / "m.zip").write_bytes(zip_bytes([("ml-100k/u.data", b"196\t242"), ("ml-100k/", b"")]))
    assert (extract(tmp_path / "m.zip", tmp_path / "z") / "ml-100k" / "u.data").read_bytes() == b"196\t242"


def test_only_into_an_empty_folder(tmp_path):
    (tmp_path / "a.tar").write_bytes(tar_bytes([("f.txt", "file", b"new")], mode="w"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f.txt").write_bytes(b"mine")
    with pytest.raises(ValueError, match="not empty"):
        extract(tmp_path / "a.tar", tmp_path / "out")
    assert (tmp_path / "out" / "f.txt").read_bytes() == b"mine"


@pytest.mark.parametrize("kind", ["tgz", "zip"])
def test_archive_bomb_is_refused_before_writing(tmp_path, kind):
    zeros = b"\0" * (8 * 2**20)  # 8 MiB that compress to a few kB
    body = tar_bytes([("a.bin", "file", zeros), ("b.bin", "file", zeros)]) if kind == "tgz" \
        else zip_bytes([("a.bin", zeros), ("b.bin", zeros)])
    archive = tmp_path / f"bomb.{kind}"
    archive.write_bytes(body)
    assert len(body) < 100_000
    with pytest.raises(UnsafeArchiveError, match=r"would unpack to 16,777,216 bytes, more than the limit of 10,000,000"):
        extract(archive, tmp_path / "out", max_bytes=10_000_000)
    assert list((tmp_path / "out").iterdir()) == []
    assert extract(archive, tmp_path / "ok", max_bytes=20_000_000) == tmp_path / "ok"


def test_not_enough_disk_space_is_said_before_writing(tmp_path, monkeypatch):
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("a.bin", "file", b"x" * 5000)]))
    monkeypatch.setattr("shutil.disk_usage", lambda p: type("Usage", (), {"free": 1000})())
    with pytest.raises(OSError, match=r"unpacks to 0\.00 GB but the disk holding .* has only") as err:
        extract(tmp_path / "a.tgz", tmp_path / "out")
    assert err.value.errno == 28 and list((tmp_path / "out").iterdir()) == []


def test_disk_full_while_unpacking_is_explained(tmp_path, monkeypatch):
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("a.bin", "file", b"x" * 5000)]))

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / "a.bin"))
    monkeypatch.setattr("shutil.copyfileobj", no_space)
    with pytest.raises(OSError, match=r"The disk holding .*out is full .*a\.bin.*Free some space") as err:
        extract(tmp_path / "a.tgz", tmp_path / "out")
    assert err.value.errno == 28 and list((tmp_path / "out").iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("damage", ["cut", "cut tar", "cut zip", "flipped", "bad crc", "zip crc", "web page"])
def test_check_archive_finds_damage(tmp_path, damage):
    data = bytes(range(256)) * 400
    body = tar_bytes([("a.csv", "file", data), ("b.csv", "file", data)])
    plain, zipped = tar_bytes([("a.csv", "file", data)], mode="w"), zip_bytes([("a.csv", data)])
    body = {"cut": body[: len(body) // 2], "cut tar": plain[:10_000], "cut zip": zipped[:-100],
            "flipped": body[:-30] + bytes(b ^ 0xFF for b in body[-30:-10]) + body[-10:],
            "bad crc": body[:-8] + bytes(b ^ 0xFF for b in body[-8:-4]) + body[-4:],  # gzip's CRC-32
            "zip crc": stored_zip(data).replace(data[1000:1010], b"x" * 10, 1),
            "web page": b"<!DOCTYPE html><html>Please sign in</html>"}[damage]
    (tmp_path / "a.tgz").write_bytes(body)
    with pytest.raises(VerificationError, match=r"a\.tgz is (damaged or incomplete|neither a tar nor a zip)"):
        check_archive(tmp_path / "a.tgz")


def test_unpack_into_place_checks_layout_and_keeps_archive_on_failure(tmp_path):
    archive = tmp_path / "x.tgz"
    archive.write_bytes(tar_bytes([("x/labels.csv", "file", b"a")]))
    with pytest.raises(VerificationError, match="unpacked without train"):
        unpack_into_place(archive, tmp_path / "x", ("labels.csv", "train"))
    assert archive.exists() and not (tmp_path / "x").exists() and not list(tmp_path.glob(".x.tmp-*"))
    assert unpack_into_place(archive, tmp_path / "x", ("labels.csv",)) == tmp_path / "x"


def test_missing_paths_counts_empty_files_and_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank.csv").write_bytes(b"")
    (tmp_path / "good.csv").write_bytes(b"a")
    assert missing_paths(tmp_path, ("empty", "blank.csv", "good.csv", "absent")) == ["empty", "blank.csv", "absent"]
