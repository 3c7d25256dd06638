"""Tests of coursehelpers.data in full mode, against a real HTTP server on 127.0.0.1.

The server (tests/http_server.py) serves small archives in the real datasets'
layouts (fake bytes, real folder names) and logs every request, so a test can
tell exactly how many downloads happened. Registry entries are the real ones with
their checksums swapped for those of the fake archives (``dataclasses.replace``),
and ``base_url`` points them at the local server. No test needs the internet.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import shutil
import socket
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from http_server import ERROR_PAGE, local_server  # noqa: F401 (local_server: a fixture)

from coursehelpers.data import ManualDownloadError, get_data, get_weights
from coursehelpers.download import DownloadError
from coursehelpers.extract import UnsafeArchiveError
from coursehelpers.registry import DATASETS, WEIGHTS, Entry
from coursehelpers.verify import MIB, VerificationError, file_hashes


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch):
    monkeypatch.delenv("COURSE_MIRROR", raising=False)  # these tests pass base_url themselves


@pytest.fixture
def server(local_server):
    local_server.files = local_server.url + "/files"
    return local_server


def serve(srv, entry: Entry, body: bytes, record: bool = True, **how) -> Entry:
    """Serve ``body`` as ``entry``'s file; return the entry with the body's size and hashes."""
    srv.route(f"/files/{entry.file}", body, **how)
    if not record:
        return entry
    return replace(entry, url=f"{srv.files}/{entry.file}", size=len(body), md5=None,
                   md5_first_mib=hashlib.md5(body[:MIB]).hexdigest(), sha256=hashlib.sha256(body).hexdigest())


def downloads(srv) -> list[str]:
    """The files requested, leaving out the look for a mirror's registry.json that base_url implies."""
    return [path for path in srv.log if not path.endswith("/registry.json")]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/files"


def tgz(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
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


def pets(server, tmp_path, body: bytes | None = None) -> tuple[Entry, Path]:
    entry = serve(server, DATASETS["pets"], body or tgz(PETS))
    return entry, get_data("pets", "full", tmp_path, server.files, {"pets": entry}, progress=False)


# ---------------------------------------------------------------- download, verify, unpack, cache

def test_download_verify_extract_then_no_network(server, tmp_path):
    entry, root = pets(server, tmp_path)
    assert root == tmp_path / "oxford-iiit-pet"
    assert (root / "images" / "beagle_1.jpg").read_bytes() == NOISE
    marker = json.loads((tmp_path / ".oxford-iiit-pet.complete").read_text())
    assert marker["sha256"] == entry.sha256 and marker["size"] == entry.size
    assert marker["files"] == {"annotations/list.txt": 1, "images/Abyssinian_1.jpg": 3,
                               "images/beagle_1.jpg": len(NOISE)}
    assert not (tmp_path / "archives" / "oxford-iiit-pet.tgz").exists()  # deleted after unpacking
    # A second call touches no network: the server sees nothing, and a dead URL does not matter.
    assert get_data("pets", "full", tmp_path, server.files, {"pets": entry}) == root
    assert get_data("pets", "full", tmp_path, closed_port_url(), {"pets": entry}) == root
    assert downloads(server) == ["/files/oxford-iiit-pet.tgz"]


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_damaged_cache_is_found_and_named(server, tmp_path, damage):
    entry, root = pets(server, tmp_path)
    beagle = root / "images" / "beagle_1.jpg"
    beagle.unlink() if damage == "deleted" else beagle.write_bytes(NOISE[:1000])
    (root / "models").mkdir()  # files a lesson adds beside the data are fine
    (root / "models" / "export.pth").write_bytes(b"mine")
    found = "images/beagle_1.jpg is missing" if damage == "deleted" else \
        f"images/beagle_1.jpg has 1,000 bytes, not {len(NOISE):,}"
    with pytest.raises(VerificationError, match=rf"'pets' data in {root} has changed since it was checked: "
                                                rf"{found}\. Delete the folder {root} and run again"):
        get_data("pets", "full", tmp_path, server.files, {"pets": entry})
    # Following the advice works, from the same checked source:

    shutil.rmtree(root)
    assert (get_data("pets", "full", tmp_path, server.files, {"pets": entry}, progress=False)
            / "images" / "beagle_1.jpg").read_bytes() == NOISE


def test_sha256_pinned_at_first_download_catches_a_same_size_same_first_mib_file(server, tmp_path):
    """Only size and md5 of the first MiB are published for pets: the first download's SHA-256 guards the rest."""
    body = tgz(PETS, mode="w")  # an uncompressed tar: changed bytes past the first MiB still make a valid one
    start = body.index(NOISE)
    other = body[:start + MIB] + bytes(b ^ 1 for b in body[start + MIB:start + len(NOISE)]) + body[start + len(NOISE):]
    assert len(other) == len(body) and other[:MIB] == body[:MIB] and other != body
    entry = replace(serve(server, DATASETS["pets"], body), sha256=None)
    root = get_data("pets", "full", tmp_path, server.files, {"pets": entry}, progress=False)
    shutil.rmtree(root)  # as a damaged cache's error advises
    server.route(f"/files/{entry.file}", other)
    with pytest.raises(VerificationError, match=r"(?s)sha256 is .* but .* is expected.*recorded at the first "
                                                r"download, in .*\.oxford-iiit-pet\.complete"):
        get_data("pets", "full", tmp_path, server.files, {"pets": entry}, progress=False)
    assert not root.exists() and not list((tmp_path / "archives").iterdir())


def test_whole_file_md5_catches_what_the_first_mib_misses(server, tmp_path):
    body = zip_bytes({**ML100K, "ml-100k/u.big": NOISE})
    good = replace(serve(server, DATASETS["movielens_100k"], body), sha256=None, md5=hashlib.md5(body).hexdigest())
    server.route(f"/files/{good.file}", body[:MIB] + bytes(b ^ 1 for b in body[MIB:]))
    with pytest.raises(VerificationError, match=rf"md5 is .* but {good.md5} is expected"):
        get_data("movielens_100k", "full", tmp_path, server.files, {"movielens_100k": good}, False)
    assert_nothing_cached(tmp_path)
    server.route(f"/files/{good.file}", body)
    root = get_data("movielens_100k", "full", tmp_path, server.files, {"movielens_100k": good}, False)
    assert root.name == "ml-100k" and (root / "u.data").read_bytes().startswith(b"196\t242")


@pytest.mark.parametrize("wrong", ["size", "md5_first_mib", "sha256"])
def test_wrong_checksum_keeps_nothing(server, tmp_path, wrong):
    good = serve(server, DATASETS["pets"], tgz(PETS))
    bad = replace(good, **{wrong: 123 if wrong == "size" else "0" * 32})
    with pytest.raises(VerificationError, match="127.0.0.1") as err:
        get_data("pets", "full", tmp_path, server.files, {"pets": bad}, False)
    assert ("bytes" if wrong == "size" else wrong) in str(err.value)
    assert_nothing_cached(tmp_path)


@pytest.mark.parametrize("known_size", [True, False])
def test_cut_transfer_keeps_nothing_then_retries(server, tmp_path, known_size):
    body = tgz(PETS)
    entry = serve(server, DATASETS["pets"], body, cut_after=len(body) // 2)
    entry = entry if known_size else replace(entry, size=None, md5_first_mib=None, sha256=None)
    with pytest.raises(DownloadError, match="stopped after"):
        get_data("pets", "full", tmp_path, server.files, {"pets": entry}, False)
    assert_nothing_cached(tmp_path)
    serve(server, entry, body, record=False)
    root = get_data("pets", "full", tmp_path, server.files, {"pets": entry}, False)
    assert (root / "images" / "beagle_1.jpg").read_bytes() == NOISE
    assert len(downloads(server)) == 2


def test_404_names_the_url(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404 .*127\.0\.0\.1:\d+/files/mnist_png\.tgz"):
        get_data("mnist", "full", tmp_path, server.files, progress=False)
    assert_nothing_cached(tmp_path)


def test_offline_names_url_and_folder(tmp_path):
    url = closed_port_url()
    with pytest.raises(DownloadError) as err:
        get_data("mnist_sample", "full", tmp_path, url, progress=False)
    message = str(err.value)
    assert f"{url}/mnist_sample.tgz" in message and str(tmp_path / "archives") in message
    assert_nothing_cached(tmp_path)


def test_archive_put_in_place_by_hand_is_verified_and_used_offline(tmp_path):
    body = tgz(PETS)
    (tmp_path / "archives").mkdir()
    archive = tmp_path / "archives" / "oxford-iiit-pet.tgz"
    archive.write_bytes(body[:-100])  # a manual download that stopped early
    entry = replace(DATASETS["pets"], size=len(body), md5_first_mib=hashlib.md5(body[:MIB]).hexdigest())
    with pytest.raises(VerificationError, match=rf"(?s)expected {len(body):,} bytes .*Delete {archive} and run again"):
        get_data("pets", "full", tmp_path, closed_port_url(), {"pets": entry}, False)
    archive.write_bytes(body)
    root = get_data("pets", "full", tmp_path, closed_port_url(), {"pets": entry}, False)
    assert (root / "images" / "Abyssinian_1.jpg").read_bytes() == b"cat"


def test_leftovers_of_a_killed_run_never_count(server, tmp_path):
    entry = serve(server, DATASETS["mnist_sample"], tgz({"mnist_sample/labels.csv": b"name,label\n",
                                                         **{f"mnist_sample/{s}/{d}/1.png": b"png"
                                                            for s in ("train", "valid") for d in (3, 7)}}))
    (tmp_path / "archives").mkdir()
    (tmp_path / "archives" / "mnist_sample.tgz.abc.part").write_bytes(b"half")
    (tmp_path / ".mnist_sample.tmp-xyz" / "mnist_sample").mkdir(parents=True)
    root = get_data("mnist_sample", "full", tmp_path, server.files, {"mnist_sample": entry}, False)
    assert cached_files(tmp_path) == [".mnist_sample.complete"] + [
        f"mnist_sample/{p}" for p in ["labels.csv", "train/3/1.png", "train/7/1.png",
                                      "valid/3/1.png", "valid/7/1.png"]]
    # A folder with no marker that lacks files is not a finished download: say so, do not guess.
    (tmp_path / ".mnist_sample.complete").unlink()
    (root / "labels.csv").unlink()
    with pytest.raises(VerificationError, match="Delete that folder"):
        get_data("mnist_sample", "full", tmp_path, server.files, {"mnist_sample": entry}, False)


def test_a_marker_from_an_earlier_version_gets_a_manifest(server, tmp_path):
    entry, root = pets(server, tmp_path)
    marker = tmp_path / ".oxford-iiit-pet.complete"
    old = {k: v for k, v in json.loads(marker.read_text()).items() if k != "files"}
    marker.write_text(json.dumps(old))
    assert get_data("pets", "full", tmp_path, closed_port_url(), {"pets": entry}) == root
    new = json.loads(marker.read_text())
    assert new["sha256"] == old["sha256"] and new["source"] == old["source"] and len(new["files"]) == 3


def test_unsafe_archive_via_get_data_leaves_nothing(server, tmp_path):
    entry = serve(server, DATASETS["pets"], tgz({**PETS, "oxford-iiit-pet/../../evil.txt": b"x"}))
    with pytest.raises(UnsafeArchiveError):
        get_data("pets", "full", tmp_path, server.files, {"pets": entry}, False)
    assert not (tmp_path / "oxford-iiit-pet").exists() and not (tmp_path / ".oxford-iiit-pet.complete").exists()
    assert not list(tmp_path.glob(".oxford-iiit-pet.tmp-*")) and not (tmp_path.parent / "evil.txt").exists()
    assert cached_files(tmp_path) == ["archives/oxford-iiit-pet.tgz"]  # verified bytes, kept to inspect


def _fetch_in_child(entry: Entry, folder: str, barrier, out: str) -> None:
    barrier.wait(timeout=120)  # both processes ask at the same moment
    root = get_data(entry.name, "full", folder, entry.url.rsplit("/", 1)[0], {entry.name: entry}, False)
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
    assert downloads(server) == ["/files/oxford-iiit-pet.tgz"]


# ---------------------------------------------------------------- Kaggle datasets

def test_planet_says_where_to_get_and_put_the_files(tmp_path):
    with pytest.raises(ManualDownloadError) as err:
        get_data("planet", "full", tmp_path)
    message = str(err.value)
    assert "kaggle.com/c/planet-understanding-the-amazon-from-space" in message
    assert f"{tmp_path / 'planet'}/train_v2.csv" in message and "train-jpg/" in message
    (tmp_path / "planet").mkdir()
    (tmp_path / "planet" / "train_v2.csv").write_text("")
    with pytest.raises(ManualDownloadError, match="missing train_v2.csv, train-jpg"):  # empty counts as missing
        get_data("planet", "full", tmp_path)
    labels = "image_name,tags\ntrain_0,clear primary\n"
    (tmp_path / "planet" / "train_v2.csv").write_text(labels)
    (tmp_path / "planet" / "train-jpg").mkdir()
    (tmp_path / "planet" / "train-jpg" / "train_0.jpg").write_bytes(b"jpg")
    assert get_data("planet", "full", tmp_path) == tmp_path / "planet"
    assert json.loads((tmp_path / ".planet.complete").read_text())["files"] == {
        "train-jpg/train_0.jpg": 3, "train_v2.csv": len(labels)}


def test_a_folder_placed_by_hand_is_checked_every_time(tmp_path):
    (tmp_path / "rossmann").mkdir()
    for name, body in ROSSMANN.items():
        (tmp_path / "rossmann" / name).write_bytes(body)
    root = get_data("rossmann", "full", tmp_path, closed_port_url())
    (root / "weather.csv").unlink()
    marker = tmp_path / ".rossmann.complete"
    with pytest.raises(VerificationError, match=rf"weather\.csv is missing\. Put those files back, or delete "
                                                rf"{marker} to have the folder checked afresh"):
        get_data("rossmann", "full", tmp_path, closed_port_url())


def test_rossmann_fastai_archive_without_checksum(server, tmp_path):
    body = tgz(ROSSMANN)  # flat: the tables sit at the archive's top level
    serve(server, DATASETS["rossmann"], body, record=False)
    root = get_data("rossmann", "full", tmp_path, server.files, progress=False)
    assert sorted(p.name for p in root.iterdir()) == sorted(ROSSMANN)
    marker = json.loads((tmp_path / ".rossmann.complete").read_text())
    assert marker["sha256"] == hashlib.sha256(body).hexdigest()  # recorded on first download


@pytest.mark.parametrize("fault", ["cut, no Content-Length", "web page", "web page as a file"])
def test_rossmann_without_checksum_never_caches_a_bad_archive(server, tmp_path, fault):
    body = tgz({**ROSSMANN, "train.csv": NOISE})
    how = {"cut, no Content-Length": dict(body=body, cut_after=len(body) // 2, content_length=None),
           "web page": dict(body=ERROR_PAGE, content_type="text/html"),
           "web page as a file": dict(body=ERROR_PAGE)}[fault]
    server.route("/files/rossmann.tgz", **how)
    with pytest.raises((VerificationError, DownloadError, ManualDownloadError)) as err:
        get_data("rossmann", "full", tmp_path, server.files, progress=False)
    assert ("web page" if fault == "web page" else "Nothing was kept") in str(err.value)
    assert_nothing_cached(tmp_path)  # so the next run downloads afresh


def test_rossmann_incomplete_archive_is_refused(server, tmp_path):
    serve(server, DATASETS["rossmann"], tgz({k: v for k, v in ROSSMANN.items() if k != "weather.csv"}),
          record=False)
    with pytest.raises(VerificationError, match="weather.csv"):
        get_data("rossmann", "full", tmp_path, server.files, progress=False)
    assert not (tmp_path / "rossmann").exists() and not (tmp_path / ".rossmann.complete").exists()
    assert cached_files(tmp_path) == ["archives/rossmann.tgz"]  # kept, as the error says


def test_rossmann_offline_points_to_kaggle(tmp_path):
    with pytest.raises(ManualDownloadError) as err:
        get_data("rossmann", "full", tmp_path, closed_port_url(), progress=False)
    message = str(err.value)
    assert "kaggle.com/c/rossmann-store-sales" in message and f"{tmp_path / 'rossmann'}/" in message
    assert "weather.csv" in message and "Could not download" in message


# ---------------------------------------------------------------- weights

def test_torchvision_style_weights_are_checked_every_time(server, tmp_path):
    body = b"not really a state dict" * 1000
    prefix = hashlib.sha256(body).hexdigest()[:8]
    entry = replace(WEIGHTS["resnet18"], file=f"resnet18-{prefix}.pth", sha256=prefix)
    serve(server, entry, body, record=False)
    kwargs = dict(hub_dir=tmp_path, base_url=server.files, registry={"resnet18": entry}, progress=False)
    path = get_weights("resnet18", **kwargs)
    assert path == tmp_path / "checkpoints" / f"resnet18-{prefix}.pth" and path.read_bytes() == body
    assert get_weights("resnet18", **kwargs) == path and len(downloads(server)) == 1
    path.write_bytes(body[:-1] + b"!")  # same size, one byte changed: caught on the next use
    with pytest.raises(VerificationError, match=rf"(?s)sha256 is .* but {prefix}\.\.\. is expected.*Delete {path}"):
        get_weights("resnet18", **kwargs)
    assert len(downloads(server)) == 1
    wrong = replace(entry, file="resnet18-00000000.pth", sha256="00000000")
    serve(server, wrong, body, record=False)
    with pytest.raises(VerificationError, match="00000000"):
        get_weights("resnet18", **{**kwargs, "registry": {"resnet18": wrong}})
    assert cached_files(tmp_path) == [f"checkpoints/resnet18-{prefix}.pth"]


def test_wt103_archive(server, tmp_path):
    entry = serve(server, WEIGHTS["wt103_fwd"], tgz({"wt103-fwd/lstm_fwd.pth": b"w",
                                                     "wt103-fwd/itos_wt103.pkl": b"v"}))
    path = get_weights("wt103_fwd", folder=tmp_path, base_url=server.files,
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


def test_weights_take_no_size():
    with pytest.raises(TypeError):
        get_weights("resnet34", "sample")  # the old (arch, size) call fails loudly
    assert set(WEIGHTS) == {"resnet18", "resnet34", "resnet50", "wt103_fwd", "wt103_bwd", "tiny_resnet",
                            "awd_lstm_small", "awd_lstm_small_bwd"}


# ---------------------------------------------------------------- registry facts

def test_registry_matches_contract_and_reference():
    roots = {n: (e.root, e.sample) for n, e in DATASETS.items()}
    assert roots == {"pets": ("oxford-iiit-pet", "pets"), "mnist_sample": ("mnist_sample", "mnist_sample"),
                     "mnist": ("mnist_png", "mnist"), "planet": ("planet", "planet"),
                     "rossmann": ("rossmann", "rossmann"), "imdb": ("imdb", "imdb"),
                     "movielens_100k": ("ml-100k", "movielens_100k")}
    assert DATASETS["pets"].size == 811_706_944
    # fastai's full md5 of the first MiB (its checks list), and GroupLens' whole-file md5
    assert DATASETS["mnist"].md5_first_mib == "03639f83c4e3d19e0a3a53a8a997c487"
    assert DATASETS["movielens_100k"].md5 == "0e33842e24a9c977be4e0107933c0723"
    # fastai's checks list: the two WT103 language models, and the backward one's file name
    assert (WEIGHTS["wt103_bwd"].size, WEIGHTS["wt103_bwd"].md5_first_mib) == (105_205_312, "20b06f5830fd5a891d21044c28d3097f")
    assert WEIGHTS["wt103_bwd"].expected == ("lstm_bwd.pth", "itos_wt103.pkl") == WEIGHTS["awd_lstm_small_bwd"].expected
    for entry in list(DATASETS.values()) + list(WEIGHTS.values()):
        assert entry.url is None or entry.url.endswith("/" + entry.file)
        assert entry.needs_account == (entry.name in ("planet", "rossmann"))


def test_torchvision_hash_prefix_is_in_the_file_name():
    for name in ("resnet18", "resnet34", "resnet50"):
        entry = WEIGHTS[name]
        assert entry.url.startswith("https://download.pytorch.org/models/")
        assert entry.file.split("-")[1].split(".")[0] == entry.sha256 and len(entry.sha256) == 8


def test_file_hashes_reads_only_the_first_mib_for_md5_first_mib(tmp_path):
    (tmp_path / "f").write_bytes(NOISE)
    found = file_hashes(tmp_path / "f")
    assert found["md5_first_mib"] == hashlib.md5(NOISE[: 2**20]).hexdigest()
    assert found["md5"] == hashlib.md5(NOISE).hexdigest()
    assert found["sha256"] == hashlib.sha256(NOISE).hexdigest() and found["size"] == len(NOISE)


# ---------------------------------------------------------------- defaults and what each path passes on

WT103 = {"wt103-fwd/lstm_fwd.pth": b"w", "wt103-fwd/itos_wt103.pkl": b"v"}


def test_a_download_shows_a_progress_bar_unless_told_not_to(server, tmp_path, capfd):
    entry = serve(server, WEIGHTS["wt103_fwd"], tgz(WT103))
    get_weights("wt103_fwd", folder=tmp_path / "a", base_url=server.files, registry={"wt103_fwd": entry})
    assert "wt103-fwd.tgz" in capfd.readouterr().err  # tqdm's bar, named after the file
    get_weights("wt103_fwd", folder=tmp_path / "b", base_url=server.files, registry={"wt103_fwd": entry},
                progress=False)
    assert capfd.readouterr().err == ""
    body = b"weights" * 100
    prefix = hashlib.sha256(body).hexdigest()[:8]
    resnet = replace(WEIGHTS["resnet18"], file=f"resnet18-{prefix}.pth", sha256=prefix)
    serve(server, resnet, body, record=False)
    get_weights("resnet18", hub_dir=tmp_path / "d", base_url=server.files, registry={"resnet18": resnet})
    assert f"resnet18-{prefix}.pth" in capfd.readouterr().err
    get_weights("resnet18", hub_dir=tmp_path / "e", base_url=server.files, registry={"resnet18": resnet},
                progress=False)
    assert capfd.readouterr().err == ""


def test_a_dataset_download_shows_its_progress_bar_by_default(server, tmp_path, capfd):
    entry = serve(server, DATASETS["pets"], tgz(PETS))
    get_data("pets", "full", tmp_path, server.files, {"pets": entry})
    assert "oxford-iiit-pet.tgz" in capfd.readouterr().err
    (tmp_path / ".oxford-iiit-pet.complete").unlink()
    shutil.rmtree(tmp_path / "oxford-iiit-pet")
    get_data("pets", "full", tmp_path, server.files, {"pets": entry}, progress=False)
    assert capfd.readouterr().err == ""


def test_weights_archives_come_from_the_mirror_into_the_course_data_folder(server, tmp_path, monkeypatch):
    entry = serve(server, WEIGHTS["wt103_fwd"], tgz(WT103))
    entry = replace(entry, url=f"{closed_port_url()}/{entry.file}")  # the original source is down
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    path = get_weights("wt103_fwd", base_url=server.files, registry={"wt103_fwd": entry}, progress=False)
    assert path == tmp_path / "models" / "wt103-fwd" and (path / "itos_wt103.pkl").read_bytes() == b"v"


def test_torchvision_weights_go_to_torchs_own_cache_by_default(server, tmp_path, monkeypatch):
    body = b"weights" * 100
    prefix = hashlib.sha256(body).hexdigest()[:8]
    entry = replace(WEIGHTS["resnet18"], file=f"resnet18-{prefix}.pth", sha256=prefix)
    serve(server, entry, body, record=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # where torchvision itself caches them
    path = get_weights("resnet18", base_url=server.files, registry={"resnet18": entry}, progress=False)
    assert path == tmp_path / "hub" / "checkpoints" / f"resnet18-{prefix}.pth" and path.read_bytes() == body


def test_a_wrong_published_sha256_is_not_blamed_on_an_earlier_download(server, tmp_path):
    entry = serve(server, DATASETS["pets"], tgz(PETS))
    entry = replace(entry, sha256="0" * 64, md5_first_mib=None)  # the registry's digest is the wrong one
    with pytest.raises(VerificationError) as err:
        get_data("pets", "full", tmp_path, server.files, {"pets": entry}, progress=False)
    assert "sha256" in str(err.value) and "recorded at the first download" not in str(err.value)


def test_kaggle_help_names_the_folder_and_the_url_to_use(server, tmp_path):
    url = closed_port_url()
    with pytest.raises(ManualDownloadError) as err:
        get_data("rossmann", "full", tmp_path, url, progress=False)
    assert f"{url}/rossmann.tgz" in str(err.value)  # where the four external tables come from
    (tmp_path / "rossmann").mkdir()
    (tmp_path / "rossmann" / "train.csv").write_bytes(b"a\n1\n")
    with pytest.raises(ManualDownloadError) as err:
        get_data("rossmann", "full", tmp_path, url, progress=False)
    assert f"Put these 7 files in {tmp_path / 'rossmann'}/" in str(err.value)
    assert "rossmann.tgz" in str(err.value) and "None" not in str(err.value)


def test_the_marker_records_the_name_size_and_digests_and_keeps_them_when_the_folder_is_adopted(server, tmp_path):
    entry, root = pets(server, tmp_path)
    marker = tmp_path / ".oxford-iiit-pet.complete"
    first = json.loads(marker.read_text())
    assert first["name"] == "pets" and first["size"] == entry.size
    assert {"md5", "md5_first_mib", "sha256"} <= set(first) and first["md5_first_mib"] == entry.md5_first_mib
    marker.write_text(json.dumps({k: v for k, v in first.items() if k != "files"}))  # an earlier version's
    get_data("pets", "full", tmp_path, closed_port_url(), {"pets": entry})
    adopted = json.loads(marker.read_text())
    assert {k: adopted[k] for k in ("name", "size", "md5", "md5_first_mib", "sha256", "source")} == \
        {k: first[k] for k in ("name", "size", "md5", "md5_first_mib", "sha256", "source")}


# ---------------------------------------------------------------- samples: made once, made again when stale

def _fake_sample(monkeypatch, files: dict[str, str]) -> tuple[dict, list]:
    """A registry with one dataset whose sample generator (coursesamples._fake) writes ``files``."""
    import sys
    import types

    calls: list = []

    def make_sample(dest: Path) -> None:
        calls.append(dest)
        for name, text in files.items():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_text(text)
    monkeypatch.setitem(sys.modules, "coursesamples._fake",
                        types.SimpleNamespace(__name__="coursesamples._fake", make_sample=make_sample))
    return {"fake": Entry("fake", None, "fake_root", None, None, None, sample="_fake")}, calls


def test_a_sample_goes_to_the_course_data_folder_with_a_marker_naming_its_maker(tmp_path, monkeypatch):
    from coursehelpers.data import generators_digest

    registry, calls = _fake_sample(monkeypatch, {"a.txt": "a", "b/c.txt": "cc"})
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    root = get_data("fake", "sample", registry=registry)
    assert root == tmp_path / "sample" / "fake_root" and (root / "b" / "c.txt").read_text() == "cc"
    marker = json.loads((tmp_path / "sample" / ".fake_root.complete").read_text())
    assert marker == {"name": "fake", "source": "sample:coursesamples._fake", "files": {"a.txt": 1, "b/c.txt": 2},
                      "made_by": generators_digest()}
    assert get_data("fake", "sample", registry=registry) == root and len(calls) == 1


def test_a_sample_made_by_other_generators_or_with_a_broken_marker_is_made_afresh(tmp_path, monkeypatch):
    registry, calls = _fake_sample(monkeypatch, {"a.txt": "a"})
    root = get_data("fake", "sample", tmp_path, None, registry)
    marker = tmp_path / "sample" / ".fake_root.complete"
    (root / "stale.txt").write_text("from an older generator")
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "made_by": "an older digest"}))
    assert get_data("fake", "sample", tmp_path, None, registry) == root
    assert len(calls) == 2 and sorted(p.name for p in root.iterdir()) == ["a.txt"]  # made again, from scratch
    for broken in ("{not json", "[1, 2]"):
        marker.write_text(broken)
        assert get_data("fake", "sample", tmp_path, None, registry) == root
    assert len(calls) == 4 and json.loads(marker.read_text())["files"] == {"a.txt": 1}


def test_a_generator_that_writes_nothing_or_a_dataset_without_a_sample_is_an_error(tmp_path, monkeypatch):
    registry, _ = _fake_sample(monkeypatch, {})
    with pytest.raises(RuntimeError, match="wrote no files"):
        get_data("fake", "sample", tmp_path, None, registry)
    assert not (tmp_path / "sample" / "fake_root").exists() and not (tmp_path / "sample" / ".fake_root.complete").exists()
    with pytest.raises(ValueError, match="has no offline sample"):
        get_data("x", "sample", tmp_path, None, {"x": Entry("x", None, "x", None, None, None)})
    with pytest.raises(KeyError, match="Known: fake"):
        get_data("pets", "sample", tmp_path, None, registry)


@pytest.mark.parametrize("deleted, listed_last, rest", [(5, "f4.txt is missing.", ""), (6, "f4.txt is missing", "; and 1 more."),
                                                    (7, "f4.txt is missing", "; and 2 more.")])
def test_a_damaged_sample_lists_five_problems_and_counts_the_rest(tmp_path, monkeypatch, deleted, listed_last, rest):
    registry, _ = _fake_sample(monkeypatch, {f"f{i}.txt": "x" for i in range(8)})
    root = get_data("fake", "sample", tmp_path, None, registry)
    for i in range(deleted):
        (root / f"f{i}.txt").unlink()
    with pytest.raises(VerificationError) as err:
        get_data("fake", "sample", tmp_path, None, registry)
    message = str(err.value)
    assert "'fake' data in" in message and listed_last + rest in message and "f5.txt" not in message
    assert "more" not in message if not rest else message.count("more") == 1


def test_full_mode_uses_the_mirror_the_environment_names(server, tmp_path, monkeypatch):
    entry = serve(server, DATASETS["pets"], tgz(PETS))
    entry = replace(entry, url=f"{closed_port_url()}/{entry.file}")  # only the mirror is up
    monkeypatch.setenv("COURSE_MIRROR", server.files)
    root = get_data("pets", "full", tmp_path, registry={"pets": entry}, progress=False)
    assert (root / "images" / "beagle_1.jpg").read_bytes() == NOISE


@pytest.mark.parametrize("digest", ["sha256", "md5"])
def test_a_registry_digest_wins_over_the_sha256_an_earlier_download_recorded(server, tmp_path, digest):
    # the SHA-256 of a first download is pinned only for archives the registry gives no digest for
    old = serve(server, DATASETS["pets"], tgz(PETS))
    get_data("pets", "full", tmp_path, None, {"pets": old}, progress=False)
    shutil.rmtree(tmp_path / "oxford-iiit-pet")  # the marker, with its recorded SHA-256, stays
    new_body = tgz({**PETS, "oxford-iiit-pet/annotations/list.txt": b"# updated upstream"})
    new = serve(server, DATASETS["pets"], new_body)
    new = replace(new, sha256=new.sha256 if digest == "sha256" else None, md5_first_mib=None,
                  md5=hashlib.md5(new_body).hexdigest() if digest == "md5" else None)
    root = get_data("pets", "full", tmp_path, None, {"pets": new}, progress=False)
    assert (root / "annotations" / "list.txt").read_bytes() == b"# updated upstream"


def test_a_sample_generator_not_written_yet_names_its_module(tmp_path):
    registry = {"nope": Entry("nope", None, "nope", None, None, None, sample="not_written_yet")}
    with pytest.raises(ModuleNotFoundError) as err:
        get_data("nope", "sample", tmp_path, None, registry)
    assert err.value.name == "coursesamples.not_written_yet"
