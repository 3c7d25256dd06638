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


def test_course_size_advice_names_the_switch():
    with pytest.raises(ValueError, match=r"`COURSE_SIZE=sample make lessons`"):
        core.course_size("medium")


@pytest.mark.parametrize("value, expected", [("", None), ("1", 1), (" 3 ", 3)])
def test_max_batches_honours_any_positive_count_including_one(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_MAX_BATCHES", value)
    assert core.max_batches() == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_max_batches_rejects_what_is_not_a_count(monkeypatch, value):
    monkeypatch.setenv("COURSE_MAX_BATCHES", value)
    with pytest.raises(ValueError, match="COURSE_MAX_BATCHES"):
        core.max_batches()


def test_default_device_copes_with_a_torch_without_mps(monkeypatch):
    from types import SimpleNamespace
    # older builds of torch have no torch.backends.mps; core sees a torch like that, the rest of torch is untouched
    old_torch = SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: False), backends=SimpleNamespace(),
                                device=torch.device)
    monkeypatch.setattr(core, "torch", old_torch)
    assert core.default_device() == torch.device("cpu")


def _draws():
    import random
    import numpy as np
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_set_seed_seeds_each_library_with_the_given_seed():
    import random
    import numpy as np
    core.set_seed(7)
    assert random.random() == random.Random(7).random()
    assert np.random.rand() == np.random.RandomState(7).rand()
    assert float(torch.rand(1)) == float(torch.rand(1, generator=torch.Generator().manual_seed(7)))


def test_set_seed_defaults_to_42_and_accepts_seeds_past_32_bits():
    import numpy as np
    core.set_seed()
    default = _draws()
    core.set_seed(42)
    assert _draws() == default
    generator = core.set_seed(2**32 + 5)  # NumPy's legacy seed must be below 2**32: it gets seed mod 2**32
    assert np.random.rand() == np.random.RandomState(5).rand()
    assert generator.initial_seed() == 2**32 + 5


def test_seed_worker_seeds_python_and_numpy_from_torchs_worker_seed():
    # In a DataLoader worker torch.initial_seed() is the worker's own seed; here it is set by hand.
    import random
    import numpy as np
    for seed in (11, 2**32 + 11):
        torch.manual_seed(seed)
        core.seed_worker(0)
        assert random.random() == random.Random(11).random()
        assert np.random.rand() == np.random.RandomState(11).rand()


def test_record_metrics_creates_a_new_nested_folder_and_writes_readable_sorted_json(tmp_path):
    folder = tmp_path / "runs" / "today"
    path = core.record_metrics("lesson1", {"loss": 0.25, "accuracy": 0.875, "epochs": [1, 2]}, folder=folder)
    assert path == folder / "lesson1.json"
    assert path.read_text() == (
        '{\n  "accuracy": 0.875,\n  "epochs": [\n    1,\n    2\n  ],\n  "loss": 0.25\n}'
    )
    assert sorted(p.name for p in folder.iterdir()) == ["lesson1.json"]  # no temporary file left behind
