"""Tests of the mirror override: ``COURSE_MIRROR`` (read in core) or ``base_url`` points the registry at a mirror.

A mirror is a folder or a URL holding the course's files; its ``registry.json``
gives each listed name's file, size and SHA-256, and those are then what is
checked (the rehearsal serves random-weight ResNets whose hash is not
torchvision's). Without the variable nothing changes.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from http_server import LocalServer, write_registry_json

from coursehelpers import core
from coursehelpers.data import get_data, get_weights
from coursehelpers.registry import DATASETS, WEIGHTS, Entry, from_mirror
from coursehelpers.verify import VerificationError

RANDOM_WEIGHTS = np.random.default_rng(1).integers(0, 256, 300_000, dtype=np.uint8).tobytes()


def tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def make_mirror(folder: Path, files: dict[str, tuple[str, bytes]]) -> Path:
    """Write each name's (file, body) under ``folder`` and list them in its registry.json."""
    for file, body in files.values():
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).write_bytes(body)
    write_registry_json(folder, {name: file for name, (file, _) in files.items()})
    return folder


@pytest.fixture
def mirror(tmp_path) -> Path:
    return make_mirror(tmp_path / "mirror", {
        "resnet34": ("models/resnet34-b627a593.pth", RANDOM_WEIGHTS),
        "pets": ("oxford-iiit-pet.tgz", tgz({"oxford-iiit-pet/images/Abyssinian_1.jpg": b"cat",
                                             "oxford-iiit-pet/annotations/list.txt": b"#"})),
        "planet": ("kaggle/planet.tgz", tgz({"planet/train_v2.csv": b"image_name,tags\ntrain_0,clear\n",
                                              "planet/train-jpg/train_0.jpg": b"jpg"})),
    })


def test_core_reads_the_variable(monkeypatch):
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    assert core.mirror() is None
    monkeypatch.setenv("COURSE_MIRROR", "  ")
    assert core.mirror() is None
    monkeypatch.setenv("COURSE_MIRROR", "http://127.0.0.1:8000/course")
    assert core.mirror() == "http://127.0.0.1:8000/course"


def test_a_folder_mirror_in_the_variable_serves_weights_and_data(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_MIRROR", str(mirror))
    assert not hashlib.sha256(RANDOM_WEIGHTS).hexdigest().startswith("b627a593")  # not torchvision's
    path = get_weights("resnet34", hub_dir=tmp_path / "hub", progress=False)
    assert path == tmp_path / "hub" / "checkpoints" / "resnet34-b627a593.pth"
    assert path.read_bytes() == RANDOM_WEIGHTS
    assert get_weights("resnet34", hub_dir=tmp_path / "hub") == path  # checked again, by the mirror's sha256
    root = get_data("pets", "full", tmp_path / "data", progress=False)
    assert (root / "images" / "Abyssinian_1.jpg").read_bytes() == b"cat"
    # A Kaggle dataset keeps its place-by-hand path, but a mirror may serve it too.
    planet = get_data("planet", "full", tmp_path / "data", progress=False)
    assert (planet / "train-jpg" / "train_0.jpg").read_bytes() == b"jpg"
    marker = json.loads((tmp_path / "data" / ".planet.complete").read_text())
    assert marker["source"] == f"{mirror.resolve().as_uri()}/kaggle/planet.tgz"


def test_a_url_mirror_is_checked_against_its_own_sha256(mirror, tmp_path):
    with LocalServer(mirror) as server:
        path = get_weights("resnet34", hub_dir=tmp_path, base_url=server.url, progress=False)
        assert path.read_bytes() == RANDOM_WEIGHTS
        path.write_bytes(RANDOM_WEIGHTS[:-1] + b"\0")  # damaged in the cache: found on the next use
        listed = json.loads((mirror / "registry.json").read_text())["resnet34"]["sha256"]
        with pytest.raises(VerificationError, match=rf"(?s)sha256 is .* but {listed} is expected.*Delete {path}"):
            get_weights("resnet34", hub_dir=tmp_path, base_url=server.url)
        path.unlink()
        (mirror / "models" / "resnet34-b627a593.pth").write_bytes(RANDOM_WEIGHTS[::-1])  # the mirror itself is wrong
        with pytest.raises(VerificationError, match=rf"(?s)sha256 is .* but {listed} is expected.*Nothing was kept"):
            get_weights("resnet34", hub_dir=tmp_path, base_url=server.url, progress=False)
    assert not path.exists()


def test_without_the_variable_nothing_changes(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_MIRROR", raising=False)
    assert all(from_mirror(e, None) is e for e in [*DATASETS.values(), *WEIGHTS.values()])
    with LocalServer(tmp_path) as server:
        (tmp_path / "r.pth").write_bytes(RANDOM_WEIGHTS)
        sha = hashlib.sha256(RANDOM_WEIGHTS).hexdigest()
        entry = Entry("resnet18", f"{server.url}/r.pth", None, "r.pth", None, None, sha)
        get_weights("resnet18", hub_dir=tmp_path / "hub", registry={"resnet18": entry}, progress=False)
    assert server.log == ["/r.pth"]  # the entry's own URL, and no look for a mirror


def test_a_mirror_without_registry_json_serves_the_same_files(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "resnet34-b627a593.pth").write_bytes(RANDOM_WEIGHTS)
    entry = from_mirror(WEIGHTS["resnet34"], str(tmp_path / "mirror"))
    assert entry.url == f"{(tmp_path / 'mirror').as_uri()}/resnet34-b627a593.pth" and entry.sha256 == "b627a593"
    with pytest.raises(VerificationError, match=r"(?s)but b627a593\.\.\. is expected"):  # the registry's check
        get_weights("resnet34", hub_dir=tmp_path / "hub", base_url=str(tmp_path / "mirror"), progress=False)


@pytest.mark.parametrize("listing, problem", [
    ("{not json", "is not valid JSON"),
    ('["pets"]', "must hold one JSON object"),
    ('{"pets": {"file": "../pets.tgz", "size": 1, "sha256": "' + "0" * 64 + '"}}', "the entry 'pets' must be"),
    ('{"pets": {"file": "pets.tgz", "size": "1", "sha256": "' + "0" * 64 + '"}}', "the entry 'pets' must be"),
    ('{"pets": {"file": "pets.tgz", "size": 1, "sha256": "abc"}}', "the entry 'pets' must be"),
])
def test_a_bad_registry_json_is_named(tmp_path, listing, problem):
    (tmp_path / "registry.json").write_text(listing)
    with pytest.raises(VerificationError, match=rf"registry\.json.*{problem}"):
        get_data("pets", "full", tmp_path / "data", base_url=str(tmp_path))


def test_a_missing_mirror_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mirror folder .*nowhere does not exist"):
        get_data("pets", "full", tmp_path, base_url=str(tmp_path / "nowhere"))
