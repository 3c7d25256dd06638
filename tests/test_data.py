"""Tests of coursehelpers.data and .download against a real HTTP server on 127.0.0.1, and of the samples.

The server serves small archives in the real datasets' layouts (fake bytes, real
folder names) and logs every request, so a test can tell exactly how many
downloads happened. Registry entries are the real ones with their checksums
swapped for those of the fake archives (``dataclasses.replace``), and
``base_url`` points them at the local server. No test needs the internet.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import multiprocessing
import socket
import sys
import tarfile
import threading
import time
import types
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coursehelpers.data import BUNDLED_WEIGHTS, DATASETS, WEIGHTS, Entry, get_data, get_weights
from coursehelpers.download import (MIB, DownloadError, ManualDownloadError, UnsafeArchiveError,
                                    VerificationError, download, extract, file_hashes, missing_paths)


# ---------------------------------------------------------------- a local server

class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (body, mode, seconds)``; mode "ok" or "cut" (stops halfway)."""

    def do_GET(self) -> None:
        self.server.log.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, mode, seconds = self.server.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "cut":  # announce everything, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            return
        chunks = np.array_split(np.frombuffer(body, dtype=np.uint8), 10)
        for chunk in chunks:
            self.wfile.write(chunk.tobytes())
            time.sleep(seconds / len(chunks))

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.routes, srv.log = {}, []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/files"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def serve(srv, entry: Entry, body: bytes, mode: str = "ok", seconds: float = 0.0,
          record: bool = True) -> Entry:
    """Serve ``body`` as ``entry``'s file; return the entry with the body's size and hashes."""
    srv.routes[f"/files/{entry.file}"] = (body, mode, seconds)
    if not record:
        return entry
    return replace(entry, url=f"{srv.url}/{entry.file}", size=len(body),
                   md5_first_mib=hashlib.md5(body[:MIB]).hexdigest(),
                   sha256=hashlib.sha256(body).hexdigest())


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/files"


# ---------------------------------------------------------------- fake archives

def tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, body in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in sorted(files.items()):
            zf.writestr(name, body)
    return buf.getvalue()


NOISE = np.random.default_rng(0).integers(0, 256, 3 * 2**19, dtype=np.uint8).tobytes()  # 1.5 MiB
PETS = {"oxford-iiit-pet/images/Abyssinian_1.jpg": b"cat", "oxford-iiit-pet/images/beagle_1.jpg": NOISE,
        "oxford-iiit-pet/annotations/list.txt": b"#"}
ML100K = {"ml-100k/u.data": b"196\t242\t3\t881250949\n", "ml-100k/u.item": "1|Toy Story (1995)|\n".encode("latin-1"),
          "ml-100k/u.user": b"1|24|M|technician|85711\n", "ml-100k/u.genre": b"unknown|0\n"}
ROSSMANN = {f"{t}.csv": b"a,b\n1,2\n" for t in ["train", "test", "store", "store_states", "state_names",
                                                   "googletrend", "weather"]}


def cached_files(folder: Path) -> list[str]:
    """Everything left under ``folder`` except lock files (which are harmless and reused)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.name.endswith(".lock"))


def assert_nothing_cached(folder: Path) -> None:
    """No file, folder or marker survives, apart from lock files and the empty archives/ folder."""
    left = [p for p in folder.rglob("*") if not p.name.endswith(".lock")
            and not (p.name == "archives" and p.is_dir() and not any(p.iterdir()))]
    assert left == [], left


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- full mode

def test_download_verify_extract_then_no_network(server, tmp_path):
    entry = serve(server, DATASETS["pets"], tgz(PETS))
    root = get_data("pets", "full", tmp_path, server.url, {"pets": entry}, progress=True)
    assert root == tmp_path / "oxford-iiit-pet"
    assert (root / "images" / "beagle_1.jpg").read_bytes() == NOISE
    marker = json.loads((tmp_path / ".oxford-iiit-pet.complete").read_text())
    assert marker["sha256"] == entry.sha256 and marker["size"] == entry.size
    assert not (tmp_path / "archives" / "oxford-iiit-pet.tgz").exists()  # deleted after unpacking
    # A second call touches no network: the server sees nothing, and a dead URL does not matter.
    assert get_data("pets", "full", tmp_path, server.url, {"pets": entry}) == root
    assert get_data("pets", "full", tmp_path, closed_port_url(), {"pets": entry}) == root
    assert server.log == ["/files/oxford-iiit-pet.tgz"]


def test_zip_archive_movielens(server, tmp_path):
    entry = serve(server, DATASETS["movielens_100k"], zip_bytes(ML100K))
    root = get_data("movielens_100k", "full", tmp_path, server.url, {"movielens_100k": entry}, False)
    assert root.name == "ml-100k" and (root / "u.data").read_bytes().startswith(b"196\t242")


@pytest.mark.parametrize("wrong", ["size", "md5_first_mib", "sha256"])
def test_wrong_checksum_keeps_nothing(server, tmp_path, wrong):
    good = serve(server, DATASETS["pets"], tgz(PETS))
    bad = replace(good, **{wrong: 123 if wrong == "size" else "0" * 32})
    with pytest.raises(VerificationError, match="127.0.0.1") as err:
        get_data("pets", "full", tmp_path, server.url, {"pets": bad}, False)
    assert ("bytes" if wrong == "size" else wrong) in str(err.value)
    assert_nothing_cached(tmp_path)


@pytest.mark.parametrize("known_size", [True, False])
def test_cut_transfer_keeps_nothing_then_retries(server, tmp_path, known_size):
    body = tgz(PETS)
    entry = serve(server, DATASETS["pets"], body, mode="cut")
    entry = entry if known_size else replace(entry, size=None, md5_first_mib=None, sha256=None)
    with pytest.raises(DownloadError, match="stopped after"):
        get_data("pets", "full", tmp_path, server.url, {"pets": entry}, False)
    assert_nothing_cached(tmp_path)
    serve(server, entry, body, mode="ok", record=False)
    root = get_data("pets", "full", tmp_path, server.url, {"pets": entry}, False)
    assert (root / "images" / "beagle_1.jpg").read_bytes() == NOISE
    assert len(server.log) == 2


def test_404_names_the_url(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404 .*127\.0\.0\.1:\d+/files/mnist_png\.tgz"):
        get_data("mnist", "full", tmp_path, server.url, progress=False)
    assert_nothing_cached(tmp_path)


def test_offline_names_url_and_folder(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError) as err:
        get_data("mnist_sample", "full", tmp_path, url, progress=False)
    message = str(err.value)
    assert f"{url}/mnist_sample.tgz" in message and str(tmp_path / "archives") in message
    assert_nothing_cached(tmp_path)


def test_archive_put_in_place_by_hand_is_used_offline(tmp_path):
    body = tgz(PETS)
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / "oxford-iiit-pet.tgz").write_bytes(body)
    entry = replace(DATASETS["pets"], size=len(body), md5_first_mib=hashlib.md5(body[:MIB]).hexdigest())
    root = get_data("pets", "full", tmp_path, closed_port_url(), {"pets": entry}, False)
    assert (root / "images" / "Abyssinian_1.jpg").read_bytes() == b"cat"


def test_leftovers_of_a_killed_run_never_count(server, tmp_path):
    entry = serve(server, DATASETS["mnist_sample"], tgz({"mnist_sample/labels.csv": b"name,label\n",
                                                         **{f"mnist_sample/{s}/{d}/1.png": b"png"
                                                            for s in ("train", "valid") for d in (3, 7)}}))
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / "mnist_sample.tgz.abc.part").write_bytes(b"half")
    (tmp_path / ".mnist_sample.tmp-xyz" / "mnist_sample").mkdir(parents=True)
    root = get_data("mnist_sample", "full", tmp_path, server.url, {"mnist_sample": entry}, False)
    assert cached_files(tmp_path) == [".mnist_sample.complete"] + [
        f"mnist_sample/{p}" for p in ["labels.csv", "train/3/1.png", "train/7/1.png",
                                      "valid/3/1.png", "valid/7/1.png"]]
    # A folder with no marker that lacks files is not a finished download: say so, do not guess.
    (tmp_path / ".mnist_sample.complete").unlink()
    (root / "labels.csv").unlink()
    with pytest.raises(VerificationError, match="Delete that folder"):
        get_data("mnist_sample", "full", tmp_path, server.url, {"mnist_sample": entry}, False)


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil_abs.txt", "symlink", "hardlink", "zip"])
def test_unsafe_archive_is_refused(tmp_path, member):
    buf = io.BytesIO()
    if member == "zip":
        buf.write(zip_bytes({"ok.txt": b"ok", "../evil.txt": b"evil"}))
    else:
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            tf.addfile(tarfile.TarInfo("ok.txt"), io.BytesIO(b""))
            info = tarfile.TarInfo(member if "evil" in member else "inside/link")
            if member in ("symlink", "hardlink"):
                info.type = tarfile.SYMTYPE if member == "symlink" else tarfile.LNKTYPE
                info.linkname = "../../evil.txt"
                tf.addfile(info)
            else:
                info.size = 4
                tf.addfile(info, io.BytesIO(b"evil"))
    archive = tmp_path / "a.archive"
    archive.write_bytes(buf.getvalue())
    dest = tmp_path / "out" / "dest"
    with pytest.raises(UnsafeArchiveError, match="outside the target folder"):
        extract(archive, dest)
    assert list(dest.iterdir()) == []  # checked before anything is written
    assert not (tmp_path / "out" / "evil.txt").exists() and not Path("/tmp/evil_abs.txt").exists()


def test_unsafe_archive_via_get_data_leaves_nothing(server, tmp_path):
    entry = serve(server, DATASETS["pets"], tgz({**PETS, "oxford-iiit-pet/../../evil.txt": b"x"}))
    with pytest.raises(UnsafeArchiveError):
        get_data("pets", "full", tmp_path, server.url, {"pets": entry}, False)
    assert not (tmp_path / "oxford-iiit-pet").exists() and not (tmp_path / ".oxford-iiit-pet.complete").exists()
    assert not list(tmp_path.glob(".oxford-iiit-pet.tmp-*")) and not (tmp_path.parent / "evil.txt").exists()
    assert cached_files(tmp_path) == ["archives/oxford-iiit-pet.tgz"]  # verified bytes, kept to inspect


def test_links_inside_the_archive_are_fine(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("a/b.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
        link = tarfile.TarInfo("a/c/link.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "../b.txt"
        tf.addfile(link)
    (tmp_path / "a.tar").write_bytes(buf.getvalue())
    assert (extract(tmp_path / "a.tar", tmp_path / "x") / "a" / "c" / "link.txt").read_text() == "hi"


def _fetch_in_child(entry: Entry, folder: str, barrier, out: str) -> None:
    barrier.wait(timeout=120)  # both processes ask at the same moment
    root = get_data(entry.name, "full", folder, None, {entry.name: entry}, False)
    Path(out).write_text(json.dumps(tree_hashes(root)))


def test_two_processes_download_once(server, tmp_path):
    entry = serve(server, DATASETS["pets"], tgz(PETS), seconds=0.5)  # slow enough to overlap
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    outs = [tmp_path / f"result{i}.json" for i in range(2)]
    procs = [ctx.Process(target=_fetch_in_child, args=(entry, str(tmp_path / "d"), barrier, str(o)))
             for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    results = [json.loads(o.read_text()) for o in outs]
    assert results[0] == results[1] and "images/beagle_1.jpg" in results[0]
    assert server.log == ["/files/oxford-iiit-pet.tgz"]


# ---------------------------------------------------------------- Kaggle datasets

def test_planet_says_where_to_get_and_put_the_files(tmp_path):
    with pytest.raises(ManualDownloadError) as err:
        get_data("planet", "full", tmp_path)
    message = str(err.value)
    assert "kaggle.com/c/planet-understanding-the-amazon-from-space" in message
    assert f"{tmp_path / 'planet'}/train_v2.csv" in message and "train-jpg/" in message
    (tmp_path / "planet").mkdir()
    (tmp_path / "planet" / "train_v2.csv").write_text("image_name,tags\ntrain_0,clear primary\n")
    with pytest.raises(ManualDownloadError, match="missing train-jpg"):
        get_data("planet", "full", tmp_path)
    (tmp_path / "planet" / "train-jpg").mkdir()
    (tmp_path / "planet" / "train-jpg" / "train_0.jpg").write_bytes(b"jpg")
    assert get_data("planet", "full", tmp_path) == tmp_path / "planet"
    assert (tmp_path / ".planet.complete").exists()


def test_rossmann_fastai_archive_without_checksum(server, tmp_path):
    body = tgz(ROSSMANN)  # flat: the tables sit at the archive's top level
    serve(server, DATASETS["rossmann"], body, record=False)
    root = get_data("rossmann", "full", tmp_path, server.url, progress=False)
    assert sorted(p.name for p in root.iterdir()) == sorted(ROSSMANN)
    marker = json.loads((tmp_path / ".rossmann.complete").read_text())
    assert marker["sha256"] == hashlib.sha256(body).hexdigest()  # recorded on first download


def test_rossmann_incomplete_archive_is_refused(server, tmp_path):
    serve(server, DATASETS["rossmann"], tgz({k: v for k, v in ROSSMANN.items() if k != "weather.csv"}),
          record=False)
    with pytest.raises(VerificationError, match="weather.csv"):
        get_data("rossmann", "full", tmp_path, server.url, progress=False)
    assert not (tmp_path / "rossmann").exists() and not (tmp_path / ".rossmann.complete").exists()
    assert cached_files(tmp_path) == ["archives/rossmann.tgz"]  # kept, as the error says


def test_rossmann_offline_points_to_kaggle(tmp_path):
    with pytest.raises(ManualDownloadError) as err:
        get_data("rossmann", "full", tmp_path, closed_port_url(), progress=False)
    message = str(err.value)
    assert "kaggle.com/c/rossmann-store-sales" in message and f"{tmp_path / 'rossmann'}/" in message
    assert "weather.csv" in message and "Could not download" in message


# ---------------------------------------------------------------- weights

def test_torchvision_style_weights(server, tmp_path):
    body = b"not really a state dict" * 1000
    prefix = hashlib.sha256(body).hexdigest()[:8]
    entry = replace(WEIGHTS["resnet18"], file=f"resnet18-{prefix}.pth", sha256=prefix)
    serve(server, entry, body, record=False)
    path = get_weights("resnet18", hub_dir=tmp_path, base_url=server.url,
                       registry={"resnet18": entry}, progress=False)
    assert path == tmp_path / "checkpoints" / f"resnet18-{prefix}.pth" and path.read_bytes() == body
    assert get_weights("resnet18", hub_dir=tmp_path, base_url=server.url,
                       registry={"resnet18": entry}) == path
    assert len(server.log) == 1
    wrong = replace(entry, file="resnet18-00000000.pth", sha256="00000000")
    serve(server, wrong, body, record=False)
    with pytest.raises(VerificationError, match="00000000"):
        get_weights("resnet18", hub_dir=tmp_path, base_url=server.url, registry={"resnet18": wrong})
    assert cached_files(tmp_path) == [f"checkpoints/resnet18-{prefix}.pth"]


def test_wt103_archive(server, tmp_path):
    entry = serve(server, WEIGHTS["wt103_fwd"], tgz({"wt103-fwd/lstm_fwd.pth": b"w",
                                                     "wt103-fwd/itos_wt103.pkl": b"v"}))
    path = get_weights("wt103_fwd", folder=tmp_path, base_url=server.url,
                       registry={"wt103_fwd": entry}, progress=False)
    assert path == tmp_path / "models" / "wt103-fwd" and (path / "lstm_fwd.pth").read_bytes() == b"w"


def test_bundled_weights_have_their_own_names(tmp_path):
    with pytest.raises(FileNotFoundError, match="data/make_tiny_resnet.py"):
        get_weights("tiny_resnet", bundled=tmp_path)
    (tmp_path / "tiny_resnet.pth").write_bytes(b"w")
    assert get_weights("tiny_resnet", bundled=tmp_path) == tmp_path / "tiny_resnet.pth"
    (tmp_path / "awd_lstm_small").mkdir()
    (tmp_path / "awd_lstm_small" / "lstm_fwd.pth").write_bytes(b"w")
    with pytest.raises(FileNotFoundError, match=r"lacks itos_wt103\.pkl.*data/make_sample_lm\.py"):
        get_weights("awd_lstm_small", bundled=tmp_path)
    (tmp_path / "awd_lstm_small" / "itos_wt103.pkl").write_bytes(b"v")
    assert get_weights("awd_lstm_small", bundled=tmp_path) == tmp_path / "awd_lstm_small"


def test_the_repository_bundles_both_sample_weights():
    assert get_weights("tiny_resnet") == BUNDLED_WEIGHTS / "tiny_resnet.pth"
    assert get_weights("tiny_resnet").is_file()
    folder = get_weights("awd_lstm_small")
    assert folder == BUNDLED_WEIGHTS / "awd_lstm_small"
    assert sorted(p.name for p in folder.iterdir()) == ["itos_wt103.pkl", "lstm_fwd.pth"]


def test_weights_take_no_size():
    with pytest.raises(TypeError):
        get_weights("resnet34", "sample")  # the old (arch, size) call fails loudly
    assert set(WEIGHTS) == {"resnet18", "resnet34", "resnet50", "wt103_fwd", "tiny_resnet",
                            "awd_lstm_small"}


# ---------------------------------------------------------------- registry facts

def test_registry_matches_contract_and_reference():
    roots = {n: (e.root, e.sample) for n, e in DATASETS.items()}
    assert roots == {"pets": ("oxford-iiit-pet", "pets"), "mnist_sample": ("mnist_sample", "mnist_sample"),
                     "mnist": ("mnist_png", "mnist"), "planet": ("planet", "planet"),
                     "rossmann": ("rossmann", "rossmann"), "imdb": ("imdb", "imdb"),
                     "movielens_100k": ("ml-100k", "movielens_100k")}
    assert DATASETS["pets"].size == 811_706_944 and DATASETS["mnist"].md5_first_mib == "03639f83"
    for entry in list(DATASETS.values()) + list(WEIGHTS.values()):
        assert entry.url is None or entry.url.endswith("/" + entry.file)
        assert entry.needs_account == (entry.name in ("planet", "rossmann"))


def test_torchvision_hash_prefix_is_in_the_file_name():
    for name in ("resnet18", "resnet34", "resnet50"):
        entry = WEIGHTS[name]
        assert entry.url.startswith("https://download.pytorch.org/models/")
        assert entry.file.split("-")[1].split(".")[0] == entry.sha256 and len(entry.sha256) == 8


def test_file_hashes_reads_only_the_first_mib_for_md5(tmp_path):
    (tmp_path / "f").write_bytes(NOISE)
    found = file_hashes(tmp_path / "f")
    assert found["md5_first_mib"] == hashlib.md5(NOISE[: 2**20]).hexdigest()
    assert found["sha256"] == hashlib.sha256(NOISE).hexdigest() and found["size"] == len(NOISE)


def test_download_alone(server, tmp_path):
    entry = serve(server, DATASETS["imdb"], b"x" * 10)
    assert download(entry.url, tmp_path / "f", 10, sha256=entry.sha256, progress=False).read_bytes() == b"x" * 10


# ---------------------------------------------------------------- sample mode

SAMPLE_ENTRIES = [e for e in DATASETS.values() if e.sample]


@pytest.mark.parametrize("entry", SAMPLE_ENTRIES, ids=[e.name for e in SAMPLE_ENTRIES])
def test_sample_is_deterministic_and_in_the_real_layout(entry, tmp_path):
    module = f"coursesamples.{entry.sample}"
    try:
        generator = __import__(module, fromlist=["make_sample"])
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        pytest.skip(f"coursesamples/{entry.sample}.py is not written yet")
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        generator.make_sample(tmp_path / run)
    first, second = tree_hashes(tmp_path / "a"), tree_hashes(tmp_path / "b")
    assert first and first == second
    assert missing_paths(tmp_path / "a", entry.expected) == []  # same layout as the full data


def test_mnist_sample_layout_via_get_data(tmp_path, monkeypatch):
    root = get_data("mnist_sample", "sample", tmp_path)
    assert root == tmp_path / "sample" / "mnist_sample" and root.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in root.iterdir()) == ["labels.csv", "train", "valid"]
    counts = {(s, d): len(list((root / s / d).glob("*.png"))) for s in ("train", "valid") for d in ("3", "7")}
    assert counts == {("train", "3"): 146, ("train", "7"): 143, ("valid", "3"): 37, ("valid", "7"): 36}
    lines = (root / "labels.csv").read_text().splitlines()
    assert lines[0] == "name,label" and len(lines) == 1 + sum(counts.values())
    for line in lines[1:]:
        name, label = line.split(",")
        assert (root / name).is_file() and label == {"3": "0", "7": "1"}[name.split("/")[1]]
    img = Image.open(root / lines[1].split(",")[0])
    assert img.size == (28, 28) and img.mode == "L" and img.getextrema()[1] > 200
    # made once: a second call neither regenerates nor imports anything new
    monkeypatch.setattr("coursesamples.mnist_sample.make_sample", lambda dest: 1 / 0)
    assert get_data("mnist_sample", "sample", tmp_path) == root


def test_size_is_required_and_checked(tmp_path):
    with pytest.raises(TypeError):
        get_data("mnist_sample")
    with pytest.raises(ValueError, match="'sample'.*'full'"):
        get_data("mnist_sample", "big", tmp_path)
    with pytest.raises(ValueError):
        get_data("mnist_sample", None, tmp_path)  # None no longer means "read COURSE_SIZE"
    assert list(tmp_path.iterdir()) == []


def test_size_ignores_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_SIZE", "full")
    root = get_data("mnist_sample", "sample", tmp_path)
    assert root == tmp_path / "sample" / "mnist_sample"


def test_mnist_layout(tmp_path):
    root = get_data("mnist", "sample", tmp_path)
    assert sorted(p.name for p in root.iterdir()) == ["testing", "training"]
    for split in ("training", "testing"):
        assert sorted(p.name for p in (root / split).iterdir()) == [str(d) for d in range(10)]
    n_train, n_test = (len(list((root / s).rglob("*.png"))) for s in ("training", "testing"))
    assert n_train + n_test == 1797 and 0.18 < n_test / 1797 < 0.22
    assert all(Image.open(p).size == (28, 28) for p in list((root / "testing" / "0").glob("*.png"))[:5])


def _fake_generator(calls: list, fail: bool = False) -> types.ModuleType:
    def make_sample(dest: Path) -> None:
        calls.append(dest)
        time.sleep(0.3)  # long enough for a second thread to arrive and wait on the lock
        (dest / "sub").mkdir()
        (dest / "sub" / "file.txt").write_text("same bytes every time")
        if fail:
            raise RuntimeError("generator broke halfway")
    return types.SimpleNamespace(__name__="coursesamples._fake", make_sample=make_sample)


def test_sample_generated_once_under_a_lock(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "coursesamples._fake", _fake_generator(calls))
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


def test_only_core_reads_the_environment():
    """What you pass is what you get: no module but core looks at os.environ or COURSE_*."""
    repo = Path(__file__).resolve().parent.parent
    sources = sorted((repo / "coursehelpers").rglob("*.py")) + sorted((repo / "coursesamples").rglob("*.py"))
    readers = [str(p.relative_to(repo)) for p in sources if p != repo / "coursehelpers" / "core.py"
               and any(word in p.read_text() for word in ("environ", "getenv", "COURSE_"))]
    assert readers == []
