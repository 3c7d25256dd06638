"""A sample made by other generators (an older checkout, a changed coursesamples/) is made again."""
import json
import sys
import types
from pathlib import Path

from coursehelpers.data import generators_digest, get_data
from coursehelpers.registry import Entry


def fake_generator(calls: list, text: str) -> types.ModuleType:
    def make_sample(dest: Path) -> None:
        calls.append(dest)
        (dest / "file.txt").write_text(text)
    return types.SimpleNamespace(__name__="coursesamples._versioned", make_sample=make_sample)


def marker(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "sample" / ".versioned_root.complete").read_text())


def test_a_sample_is_made_again_when_its_generators_change(tmp_path, monkeypatch):
    registry = {"v": Entry("v", None, "versioned_root", None, None, None, sample="_versioned")}
    calls: list = []
    monkeypatch.setitem(sys.modules, "coursesamples._versioned", fake_generator(calls, "synthetic"))
    root = get_data("v", "sample", tmp_path, None, registry)
    assert len(calls) == 1 and marker(tmp_path)["made_by"] == generators_digest()
    get_data("v", "sample", tmp_path, None, registry)
    assert len(calls) == 1  # the same generators: the cached sample is used
    monkeypatch.setitem(sys.modules, "coursesamples._versioned", fake_generator(calls, "real"))
    info = marker(tmp_path)
    (tmp_path / "sample" / ".versioned_root.complete").write_text(json.dumps({**info, "made_by": "older code"}))
    assert (get_data("v", "sample", tmp_path, None, registry) / "file.txt").read_text() == "real"
    assert len(calls) == 2 and root.is_dir()


def test_a_sample_with_an_old_style_marker_is_made_again(tmp_path, monkeypatch):
    registry = {"v": Entry("v", None, "versioned_root", None, None, None, sample="_versioned")}
    calls: list = []
    monkeypatch.setitem(sys.modules, "coursesamples._versioned", fake_generator(calls, "real"))
    root = tmp_path / "sample" / "versioned_root"
    root.mkdir(parents=True)
    (root / "file.txt").write_text("synthetic, made by the old code")
    (tmp_path / "sample" / ".versioned_root.complete").write_text(json.dumps({"name": "v", "files": 1}))
    assert (get_data("v", "sample", tmp_path, None, registry) / "file.txt").read_text() == "real"
    assert len(calls) == 1
