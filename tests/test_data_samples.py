"""Tests of coursehelpers.data in sample mode: each sample is made once, under a lock, in the real layout.

Each marker's manifest is checked on every call, so a sample with a deleted file
is an error that names it; the samples are deterministic to the byte (checked here, once
per sample, against the session's copy that every other test reads: tests/conftest.py).
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import shutil
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from coursehelpers.data import get_data
from coursehelpers.extract import missing_paths
from coursehelpers.registry import DATASETS, Entry
from coursehelpers.verify import VerificationError


def cached_files(folder: Path) -> list[str]:
    """Everything left under ``folder`` except lock files (which are harmless and reused)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.name.endswith(".lock"))


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


SAMPLE_ENTRIES = [e for e in DATASETS.values() if e.sample]


@pytest.mark.parametrize("entry", SAMPLE_ENTRIES, ids=[e.name for e in SAMPLE_ENTRIES])
def test_sample_is_deterministic_and_in_the_real_layout(entry, tmp_path, samples):
    """The one place a sample is made twice: the session's copy (conftest) against a second run."""
    shared = samples(entry.name)
    importlib.import_module(f"coursesamples.{entry.sample}").make_sample(tmp_path)
    fresh = tree_hashes(tmp_path)
    assert fresh and fresh == tree_hashes(shared)
    assert missing_paths(shared, entry.expected) == []  # same layout as the full data


def test_sample_via_get_data_is_made_once(course_data, samples, monkeypatch):
    root = samples("mnist_sample")  # the session's copy, made through get_data
    assert root == course_data / "sample" / "mnist_sample" and root.stat().st_mode & 0o777 == 0o755
    assert missing_paths(root, DATASETS["mnist_sample"].expected) == []
    # made once: a second call neither regenerates nor imports anything new
    monkeypatch.setattr("coursesamples.mnist_sample.make_sample", lambda dest: 1 / 0)
    assert get_data("mnist_sample", "sample", course_data) == root


def test_size_is_required_and_checked(tmp_path):
    with pytest.raises(TypeError):
        get_data("mnist_sample")
    with pytest.raises(ValueError, match="'sample'.*'full'"):
        get_data("mnist_sample", "big", tmp_path)
    with pytest.raises(ValueError):
        get_data("mnist_sample", None, tmp_path)  # None no longer means "read COURSE_SIZE"
    assert list(tmp_path.iterdir()) == []


def test_size_ignores_the_environment(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "coursesamples._fake", _fake_generator([]))
    monkeypatch.setenv("COURSE_SIZE", "full")
    registry = {"fake": Entry("fake", "http://127.0.0.1:9/full.tgz", "fake_root", None, None, None, sample="_fake")}
    assert get_data("fake", "sample", tmp_path, None, registry) == tmp_path / "sample" / "fake_root"


def _fake_generator(calls: list, fail: bool = False, wait: float = 0.0) -> types.ModuleType:
    def make_sample(dest: Path) -> None:
        calls.append(dest)
        time.sleep(wait)
        (dest / "sub").mkdir()
        (dest / "sub" / "file.txt").write_text("same bytes every time")
        if fail:
            raise RuntimeError("generator broke halfway")
    return types.SimpleNamespace(__name__="coursesamples._fake", make_sample=make_sample)


def test_sample_generated_once_under_a_lock(tmp_path, monkeypatch):
    calls: list = []  # the generator takes long enough for the second thread to arrive and wait on the lock
    monkeypatch.setitem(sys.modules, "coursesamples._fake", _fake_generator(calls, wait=0.3))
    registry = {"fake": Entry("fake", None, "fake_root", None, None, None, sample="_fake")}
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(get_data("fake", "sample", tmp_path, None, registry)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [tmp_path / "sample" / "fake_root"] * 2
    assert cached_files(tmp_path / "sample") == [".fake_root.complete", "fake_root/sub/file.txt"]


def test_broken_or_missing_generator_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "coursesamples._fake", _fake_generator([], fail=True))
    registry = {"fake": Entry("fake", None, "fake_root", None, None, None, sample="_fake"),
                "nope": Entry("nope", None, "nope", None, None, None, sample="not_written_yet")}
    with pytest.raises(RuntimeError, match="halfway"):
        get_data("fake", "sample", tmp_path, None, registry)
    assert cached_files(tmp_path) == [] and [p.name for p in (tmp_path / "sample").iterdir()] == [".fake_root.lock"]
    with pytest.raises(ModuleNotFoundError, match="coursesamples/not_written_yet.py does not exist yet"):
        get_data("nope", "sample", tmp_path, None, registry)


def test_a_damaged_sample_is_found_and_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "coursesamples._fake", _fake_generator([]))
    registry = {"fake": Entry("fake", None, "fake_root", None, None, None, sample="_fake")}
    root = get_data("fake", "sample", tmp_path, None, registry)
    (root / "sub" / "file.txt").unlink()
    with pytest.raises(VerificationError, match=rf"sub/file.txt is missing\. Delete the folder "
                                                rf"{root} and run again: the sample is made again"):
        get_data("fake", "sample", tmp_path, None, registry)
    shutil.rmtree(root)
    assert (get_data("fake", "sample", tmp_path, None, registry) / "sub" / "file.txt").is_file()


def test_only_core_reads_the_environment():
    """What you pass is what you get: no module but core reads os.environ (its text may name a variable)."""
    repo = Path(__file__).resolve().parent.parent
    sources = sorted((repo / "coursehelpers").rglob("*.py")) + sorted((repo / "coursesamples").rglob("*.py"))
    readers = []
    for path in sources:
        if path == repo / "coursehelpers" / "core.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name in ("environ", "getenv", "putenv", "environb"):
                readers.append(f"{path.relative_to(repo)}:{node.lineno}")
    assert readers == []
