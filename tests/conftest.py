"""What every test module shares: the `integration` marker, one copy of each sample per session, the
devices to run on, and the order mutmut runs a mutant's tests in.

- Integration tests (other processes, a browser, benchmark scripts, the full-mode rehearsal) are
  marked here by file, so ``-m "not integration"`` gives the fast unit tests (`make unit`) and
  ``-m integration`` the rest (`make integration`); `make test` runs both.
- ``course_data``: a data folder for the whole session; ``samples(name)`` makes a dataset's sample in
  it once (through `get_data`, as a lesson does) and every test that reads that sample shares it.
- ``device``: a parametrization over the devices present (CPU always, CUDA when there is one).
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from tqdm import tqdm

from coursehelpers.data import get_data

INTEGRATION = {"test_distributed.py", "test_app_browser.py", "test_image_pipeline_benchmark.py",
               "test_gpu_check.py", "test_full_mode.py", "test_export_full_size.py",  # whole files
               "test_app.py::test_the_space_folder_serves_from_its_own_files",  # each starts other processes
               "test_data.py::test_two_processes_download_once"}
NO_CUDA = "no CUDA: this test runs on a CUDA GPU when one is present"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: other processes, a browser, benchmarks or full mode "
                                       "(make integration; make unit leaves them out)")


def mutmut_durations() -> dict[str, float]:
    """Each test's time in mutmut's stats run, when pytest runs inside mutmut's ``mutants/`` folder."""
    stats = Path("mutmut-stats.json")
    if Path.cwd().name != "mutants" or not stats.is_file():
        return {}
    return json.loads(stats.read_text())["duration_by_test"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in INTEGRATION or f"{item.path.name}::{item.name}" in INTEGRATION:
            item.add_marker(pytest.mark.integration)
    durations = mutmut_durations()
    if durations:  # mutmut stops a mutant at its first failing test: fastest first kills it soonest
        items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


@pytest.fixture(scope="session")
def course_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder for the whole session (the samples the tests share are made in it)."""
    return tmp_path_factory.mktemp("course_data")


@pytest.fixture(scope="session")
def samples(course_data: Path) -> Callable[[str], Path]:
    """``samples(name)``: the root of dataset ``name``'s sample, made once per session."""
    return lambda name: get_data(name, "sample", course_data, progress=False)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason=NO_CUDA))])
def device(request: pytest.FixtureRequest) -> torch.device:
    """Each device present: CPU always, CUDA too where there is one (skipped, saying so, elsewhere)."""
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def process_local_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    """tqdm's lock is by default a semaphore shared with forked processes, and its monitor thread takes it
    every 10 s. mutmut forks every mutant's test run from one process: a run killed while holding it hangs
    every later one. A lock of this process only, and no monitor (it only refreshes stalled bars), change
    nothing any test checks."""
    monkeypatch.setattr(tqdm, "_lock", threading.RLock(), raising=False)
    monkeypatch.setattr(tqdm, "monitor_interval", 0)
