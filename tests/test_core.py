"""core: the mode switch, the data folder, seeding and metric recording."""
import json

import pytest
import torch

from coursehelpers import core


def test_course_size_reads_argument_then_environment(monkeypatch):
    monkeypatch.delenv("COURSE_SIZE", raising=False)
    assert core.course_size(None) == "sample"
    monkeypatch.setenv("COURSE_SIZE", "FULL")
    assert core.course_size(None) == "full"
    assert core.course_size("sample") == "sample"


def test_course_size_rejects_unknown_values_with_advice():
    with pytest.raises(ValueError, match="sample.*full"):
        core.course_size("medium")


def test_data_dir_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    assert core.data_dir() == tmp_path.resolve()
    monkeypatch.delenv("COURSE_DATA")
    assert core.data_dir() == core.REPO_ROOT / "data"


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_default_device_prefers_cuda_then_mps_then_the_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert core.default_device() == torch.device(expected)


def test_set_seed_repeats_python_numpy_and_torch():
    import random
    import numpy as np
    draws = []
    for _ in range(2):
        core.set_seed(3)
        draws.append((random.random(), float(np.random.rand()), float(torch.rand(1))))
    assert draws[0] == draws[1]


def test_record_metrics_writes_json_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_METRICS_DIR", raising=False)
    assert core.record_metrics("lesson", {"acc": 0.5}) is None
    path = core.record_metrics("lesson", {"acc": 0.5}, folder=tmp_path)
    assert json.loads(path.read_text()) == {"acc": 0.5}
    monkeypatch.setenv("COURSE_METRICS_DIR", str(tmp_path / "env"))
    assert core.record_metrics("other", {"x": 1}).parent == tmp_path / "env"


def test_run_banner_names_mode_device_seed_and_versions():
    line = core.run_banner("sample", torch.device("cpu"), 7)
    for part in ("mode=sample", "device=cpu", "seed=7", f"torch={torch.__version__}"):
        assert part in line
