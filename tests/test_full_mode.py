"""The full-mode rehearsal: every lesson runs end to end with COURSE_SIZE=full against a local mirror.

A server on 127.0.0.1 serves tiny archives and random-weight checkpoints in the real layouts
(`make_full_mirror.build_mirror`, with their own registry.json), and Planet and Rossmann are
placed by hand in a fresh COURSE_DATA, as data/README.md tells learners. Each lesson is
executed from a copy in a temporary folder (what it writes, such as models/pets_full.pth, stays
there: lesson 7 reuses lesson 1's export, as it does in notebooks/), with its own full-mode
settings (resnet34/50 at 460/224 px, the AWD-LSTM at its real sizes, the full batch sizes)
and ``COURSE_MAX_BATCHES`` capping every pass. The data is mock data and the weights are
random, so what the lessons learn is not checked here (tests/results/ does that in sample
mode): each must run every cell without an error, print a banner that says mode=full, and
record finite metrics for mode "full".
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from http_server import LocalServer
from make_full_mirror import build_mirror, place_kaggle

from coursehelpers.extract import missing_paths
from coursehelpers.registry import DATASETS, WEIGHTS

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAX_BATCHES = 2  # each capped epoch: at most 2 training steps (the image sets are one batch anyway)
CELL_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory):
    """(the folder the lessons run in, the environment they run with), the mirror served meanwhile."""
    root = tmp_path_factory.mktemp("fullmode")
    build_mirror(root / "mirror")
    place_kaggle(root / "data")
    (root / "lessons").mkdir()
    with LocalServer(root / "mirror") as server:
        # One OpenMP thread, as `make notebooks`: the full recipes start 8 DataLoader workers, and with two
        # threads on two cores a busy worker (or any other process) stalls every parallel region: on a
        # loaded 2-core machine one resnet50 training step took 4.9 s with two threads, 1.1-1.5 s with one.
        env = {**os.environ, "COURSE_SIZE": "full", "COURSE_MIRROR": server.url, "COURSE_DATA": str(root / "data"),
               "TORCH_HOME": str(root / "torch"), "COURSE_METRICS_DIR": str(root / "metrics"),
               "COURSE_MAX_BATCHES": str(MAX_BATCHES), "OMP_NUM_THREADS": "1"}
        yield root / "lessons", env


def test_the_mirror_holds_each_archive_in_its_real_layout(rehearsal):
    """Each archive has the registry's file name and top folder and the paths its entry expects."""
    mirror = rehearsal[0].parent / "mirror"
    listing = json.loads((mirror / "registry.json").read_text())
    for name, item in listing.items():
        entry = DATASETS.get(name) or WEIGHTS[name]
        assert item["file"] == entry.file and (mirror / entry.file).stat().st_size == item["size"], name
        if entry.root is None:
            continue
        opened = zipfile.ZipFile(mirror / entry.file) if entry.file.endswith(".zip") else tarfile.open(mirror / entry.file)
        with opened as archive:
            names = archive.namelist() if isinstance(archive, zipfile.ZipFile) else archive.getnames()
        top = Path(entry.root).name
        assert all(n.split("/")[0] == top for n in names), f"{entry.file} has more than the top folder {top}/"
        assert all(any(n.startswith(f"{top}/{p}") for n in names) for p in entry.expected), f"{entry.file}: {names[:5]}"
    data = Path(rehearsal[1]["COURSE_DATA"])
    for name in ("planet", "rossmann"):  # the Kaggle files, placed by hand
        assert not missing_paths(data / DATASETS[name].root, DATASETS[name].expected), name


def execute(notebook: Path, folder: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run a copy of ``notebook`` in ``folder`` as `make lessons` does (nbconvert --execute); (result, seconds)."""
    shutil.copy(notebook, folder / notebook.name)
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
               f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}", "--ExecutePreprocessor.kernel_name=python3",
               str(folder / notebook.name)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    return result, time.perf_counter() - start


def printed(notebook: dict) -> str:
    """Everything the code cells printed (stdout streams)."""
    return "".join(out.get("text", "") if isinstance(out.get("text", ""), str) else "".join(out["text"])
                   for cell in notebook["cells"] if cell["cell_type"] == "code"
                   for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def not_finite(metrics: dict) -> list[str]:
    """The recorded metrics that are numbers (or lists of numbers) but not finite."""
    bad = []
    for key, value in metrics.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(v) for v in values):
            bad.append(f"{key}={value}")
    return bad


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_in_full_mode(rehearsal, notebook):
    folder, env = rehearsal
    result, seconds = execute(notebook, folder, env)
    print(f"{notebook.stem}: {seconds:.0f} s in full mode (COURSE_MAX_BATCHES={MAX_BATCHES})")
    assert result.returncode == 0, f"{notebook.name} failed in full mode:\n{result.stderr[-6000:]}"
    executed = json.loads((folder / notebook.name).read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c.get("execution_count") is not None for c in code), "a code cell did not run"
    assert "mode=full" in printed(executed), f"{notebook.name}'s banner does not say mode=full"
    metrics_file = Path(env["COURSE_METRICS_DIR"]) / f"{notebook.stem}.json"
    assert metrics_file.exists(), f"{notebook.name} recorded no metrics ({metrics_file})"
    metrics = json.loads(metrics_file.read_text())
    assert metrics.get("size") == "full", f"{notebook.name} recorded size={metrics.get('size')!r}"
    assert not not_finite(metrics), f"{notebook.name} recorded metrics that are not finite: {not_finite(metrics)}"
