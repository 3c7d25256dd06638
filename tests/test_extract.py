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


# Exact behaviour at the edges (issue 15): what a user relies on, one case at a time.

def test_a_name_that_climbs_back_inside_is_still_refused(tmp_path):
    # "a/../b.txt" really lands inside the target, but names with ".." are refused on their own.
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("a/", "dir", b""), ("a/../b.txt", "file", b"hi")]))
    with pytest.raises(UnsafeArchiveError, match=r"'a/\.\./b\.txt', a name that would be written outside"):
        extract(tmp_path / "a.tgz", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_name_with_a_nul_byte_is_refused_as_unsafe(tmp_path):
    # tarfile and zipfile cut names at a NUL, so the check is reached only by a Member made here.
    from coursehelpers.extract import Member, _landing_path
    with pytest.raises(UnsafeArchiveError, match="a name that would be written outside"):
        _landing_path(tmp_path, Member("a\0b.txt", "file", 1, None), tmp_path / "a.tgz")


def test_names_at_the_length_limits_unpack_and_one_byte_more_is_refused(tmp_path):
    from coursehelpers.extract import MAX_NAME, MAX_PATH
    (tmp_path / "n.tar").write_bytes(tar_bytes([("n" * MAX_NAME, "file", b"hi")], mode="w"))
    assert (extract(tmp_path / "n.tar", tmp_path / "n") / ("n" * MAX_NAME)).read_bytes() == b"hi"
    (tmp_path / "m.tar").write_bytes(tar_bytes([("n" * (MAX_NAME + 1), "file", b"hi")], mode="w"))
    with pytest.raises(UnsafeArchiveError, match="a name too long for the file system"):
        extract(tmp_path / "m.tar", tmp_path / "m")
    # A whole path of exactly MAX_PATH bytes (the target folder's own path included) unpacks.
    out = tmp_path / "p"
    left = MAX_PATH - len(str(out.resolve())) - 1  # minus the "/" after the target folder
    name = "/".join(["d" * 200] * (left // 201)) + "/"
    name += "f" * (left - len(name))
    assert len(name) == left
    (tmp_path / "p.tar").write_bytes(tar_bytes([(name, "file", b"hi")], mode="w"))
    assert (extract(tmp_path / "p.tar", out) / name).read_bytes() == b"hi"
    (tmp_path / "q.tar").write_bytes(tar_bytes([(name + "f", "file", b"hi")], mode="w"))
    with pytest.raises(UnsafeArchiveError, match="a name too long for the file system"):
        extract(tmp_path / "q.tar", tmp_path / "q")  # "q" and "p" are as long: one byte over


def test_an_archive_of_exactly_max_bytes_unpacks_and_one_byte_more_is_refused(tmp_path):
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("a.bin", "file", b"x" * 600), ("b.bin", "file", b"y" * 400),
                                                ("d/", "dir", b"")]))
    assert snapshot(extract(tmp_path / "a.tgz", tmp_path / "ok", max_bytes=1000))["b.bin"] == b"y" * 400
    with pytest.raises(UnsafeArchiveError, match=r"a\.tgz would unpack to 1,000 bytes, more than the limit of 999"):
        extract(tmp_path / "a.tgz", tmp_path / "out", max_bytes=999)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_archive_that_exactly_fills_the_free_space_unpacks(tmp_path, monkeypatch):
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("a.bin", "file", b"x" * 5000)]))
    monkeypatch.setattr("shutil.disk_usage", lambda p: type("Usage", (), {"free": 5000})())
    assert (extract(tmp_path / "a.tgz", tmp_path / "ok") / "a.bin").read_bytes() == b"x" * 5000
    monkeypatch.setattr("shutil.disk_usage", lambda p: type("Usage", (), {"free": 4999})())
    with pytest.raises(OSError, match="has only 0.00 GB free"):
        extract(tmp_path / "a.tgz", tmp_path / "out")


def test_unpacked_files_are_written_with_mode_0o644(tmp_path):
    import os
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("top/a.txt", "file", b"hi")]))
    old = os.umask(0)  # so the mode is exactly what extract asks for
    try:
        out = extract(tmp_path / "a.tgz", tmp_path / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE((out / "top" / "a.txt").stat().st_mode) == 0o644


def test_a_symlink_planted_at_the_landing_path_is_not_followed(tmp_path):
    # Another process plants a link, inside the target, where a file is about to be written:
    # the write fails instead of overwriting the file the link points to.
    import os
    from coursehelpers.extract import Member, _write
    (tmp_path / "victim.txt").write_bytes(OUTSIDE)
    os.symlink(tmp_path / "victim.txt", tmp_path / "a.txt")
    member = Member("a.txt", "file", 4, None)
    with pytest.raises(OSError) as err:
        _write(member, tmp_path / "a.txt", tmp_path, lambda m: io.BytesIO(b"evil"), tmp_path / "a.tgz")
    assert err.value.errno == 40  # ELOOP: O_NOFOLLOW refused the link
    assert (tmp_path / "victim.txt").read_bytes() == OUTSIDE


def test_a_failure_while_unpacking_removes_the_folders_already_written(tmp_path, monkeypatch):
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("top/", "dir", b""), ("top/a.bin", "file", b"x"),
                                                ("b.bin", "file", b"y")]))
    real_copy = __import__("shutil").copyfileobj
    calls = []

    def interrupted(source, out, length=0):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C half-way, after top/ and top/a.bin were written
        real_copy(source, out, length)
    monkeypatch.setattr("shutil.copyfileobj", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract(tmp_path / "a.tgz", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_unpack_into_place_passes_max_bytes_on(tmp_path):
    (tmp_path / "x.tgz").write_bytes(tar_bytes([("x/labels.csv", "file", b"a" * 100)]))
    with pytest.raises(UnsafeArchiveError, match="more than the limit of 99"):
        unpack_into_place(tmp_path / "x.tgz", tmp_path / "x", ("labels.csv",), max_bytes=99)
    assert not (tmp_path / "x").exists() and (tmp_path / "x.tgz").exists()
    assert unpack_into_place(tmp_path / "x.tgz", tmp_path / "x", ("labels.csv",), max_bytes=100) == tmp_path / "x"


def test_unpack_into_place_skips_a_macosx_folder_beside_the_top_folder(tmp_path):
    (tmp_path / "x.zip").write_bytes(zip_bytes([("x/labels.csv", b"a"), ("__MACOSX/x/._labels.csv", b"junk")]))
    root = unpack_into_place(tmp_path / "x.zip", tmp_path / "x", ("labels.csv",))
    assert snapshot(root) == {"labels.csv": b"a"}


def test_unpack_into_place_keeps_a_single_loose_file_inside_root(tmp_path):
    (tmp_path / "x.tgz").write_bytes(tar_bytes([("labels.csv", "file", b"a")]))
    root = unpack_into_place(tmp_path / "x.tgz", tmp_path / "x", ("labels.csv",))
    assert root.is_dir() and snapshot(root) == {"labels.csv": b"a"}


def test_zip_entries_made_on_unix_unpack_by_their_mode_bits(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, mode, body in [("top", stat.S_IFDIR | 0o755, b""), ("top/a.txt", stat.S_IFREG | 0o600, b"hi")]:
            info = zipfile.ZipInfo(name)  # "top" has no trailing "/": only its mode says it is a folder
            info.external_attr = mode << 16
            zf.writestr(info, body)
    (tmp_path / "u.zip").write_bytes(buf.getvalue())
    assert snapshot(extract(tmp_path / "u.zip", tmp_path / "out")) == {"top": b"<dir>", "top/a.txt": b"hi"}


def test_a_block_device_is_refused_as_a_device(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("disk")
        info.type = tarfile.BLKTYPE
        tf.addfile(info)
    (tmp_path / "b.tar").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match=r"'disk', a device \(course archives hold only"):
        extract(tmp_path / "b.tar", tmp_path / "out")


def test_check_archive_names_the_download_it_was_given(tmp_path):
    (tmp_path / "a.tgz").write_bytes(b"<html>sign in</html>")
    with pytest.raises(VerificationError, match=r"^https://example\.org/a\.tgz is neither a tar nor a zip"):
        check_archive(tmp_path / "a.tgz", "https://example.org/a.tgz")


def test_extract_makes_a_target_folder_whose_parents_do_not_exist_yet(tmp_path):
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("a.txt", "file", b"hi")]))
    out = extract(tmp_path / "a.tgz", tmp_path / "data" / "new" / "out")
    assert out == tmp_path / "data" / "new" / "out" and (out / "a.txt").read_bytes() == b"hi"


def test_a_folder_link_planted_on_the_way_is_refused_before_writing(tmp_path):
    # Another process swaps a folder of the target for a link out of it while unpacking:
    # the second check, made once the file's folders exist, refuses to write through it.
    import os
    from coursehelpers.extract import Member, _write
    (tmp_path / "outside").mkdir()
    (tmp_path / "target").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "target" / "sub")
    target = tmp_path / "target" / "sub" / "a.txt"
    with pytest.raises(UnsafeArchiveError, match=r"a\.tgz holds 'sub/a\.txt', which would really land at .*outside"):
        _write(Member("sub/a.txt", "file", 4, None), target, tmp_path / "target", lambda m: io.BytesIO(b"evil"),
               tmp_path / "a.tgz")
    assert list((tmp_path / "outside").iterdir()) == []


def test_a_folder_member_whose_parents_are_not_listed_unpacks(tmp_path):
    (tmp_path / "a.tar").write_bytes(tar_bytes([("x/y/z/", "dir", b"")], mode="w"))
    assert snapshot(extract(tmp_path / "a.tar", tmp_path / "out")) == {"x": b"<dir>", "x/y": b"<dir>",
                                                                        "x/y/z": b"<dir>"}


def test_names_with_spaces_unpack_under_their_own_name(tmp_path):
    (tmp_path / "a.tgz").write_bytes(tar_bytes([("my data/a b.txt", "file", b"hi")]))
    assert snapshot(extract(tmp_path / "a.tgz", tmp_path / "out")) == {"my data": b"<dir>",
                                                                         "my data/a b.txt": b"hi"}


def test_a_tar_member_of_an_unknown_type_is_refused_as_a_special_file(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("odd")
        info.type = b"Z"  # no tar type: tarfile reads it, but it is neither a file nor a folder
        tf.addfile(info)
    (tmp_path / "z.tar").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match=r"'odd', a special file \(course archives"):
        extract(tmp_path / "z.tar", tmp_path / "out")


@pytest.mark.parametrize("mode, kind", [(stat.S_IFLNK | 0o777, "a symbolic link"),
                                        (stat.S_IFIFO | 0o644, "a special file")])
def test_a_zip_refusal_says_what_the_entry_is(tmp_path, mode, kind):
    (tmp_path / "a.zip").write_bytes(zip_bytes([("entry", b"x")], mode))
    with pytest.raises(UnsafeArchiveError, match=rf"'entry', {kind} \(course archives hold only files and folders\)"):
        extract(tmp_path / "a.zip", tmp_path / "out")


@pytest.mark.parametrize("length", [199, 200, 4000])
def test_a_refused_long_name_is_shown_whole_up_to_199_characters_then_shortened(tmp_path, length):
    name = "".join(chr(ord("a") + i % 26) for i in range(length - 4)) + ".lnk"
    (tmp_path / "a.tar").write_bytes(tar_bytes([(name, "sym", "x")], mode="w"))
    shown = name if length < 200 else f"{name[:80]}...{name[-40:]}"
    with pytest.raises(UnsafeArchiveError) as err:
        extract(tmp_path / "a.tar", tmp_path / "out")
    assert f"a.tar holds {shown!r}, a symbolic link" in str(err.value)


def test_unpack_into_place_names_every_missing_path(tmp_path):
    (tmp_path / "x.tgz").write_bytes(tar_bytes([("x/labels.csv", "file", b"a")]))
    with pytest.raises(VerificationError, match=r"x\.tgz unpacked without train, valid\. It stays at"):
        unpack_into_place(tmp_path / "x.tgz", tmp_path / "x", ("train", "labels.csv", "valid"))


def test_a_tar_fifo_is_refused_by_name(tmp_path):
    (tmp_path / "p.tar").write_bytes(tar_bytes([("pipe", "fifo", b"")], mode="w"))
    with pytest.raises(UnsafeArchiveError, match=r"'pipe', a fifo \(course archives hold only"):
        extract(tmp_path / "p.tar", tmp_path / "out")
