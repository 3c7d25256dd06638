"""The same Learner under torchrun: 2 CPU processes (gloo) train exactly like 1 with the same global batch."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers.dataloaders import DataLoaders
from coursehelpers.learner import Learner
from coursehelpers.metrics import accuracy

WORKER = Path(__file__).parent / "distributed" / "worker.py"
TORCHRUN = Path(sys.executable).parent / "torchrun"


def torchrun(n: int, out: Path, bs: int, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [str(TORCHRUN), "--standalone", f"--nproc_per_node={n}", str(WORKER), str(out), str(bs), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={"OMP_NUM_THREADS": "1", "PATH": str(TORCHRUN.parent), "PYTHONPATH": str(Path.cwd())})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    one, two = folder / "one.pt", folder / "two.pt"
    for n, out, bs in ((1, one, 32), (2, two, 16)):  # the same global batch of 32
        result = torchrun(n, out, bs)
        assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(one, weights_only=False), torch.load(two, weights_only=False)


def test_two_processes_train_the_same_weights_as_one_with_the_same_global_batch(runs):
    one, two = runs
    assert (one["world"], two["world"]) == (1, 2)
    for k in one["weights"]:
        assert torch.allclose(one["weights"][k], two["weights"][k], atol=1e-5), k
    assert one["history"]["train_loss"] == pytest.approx(two["history"]["train_loss"], abs=1e-5)


def test_validation_metrics_are_over_the_whole_set_and_equal_a_single_process_evaluation(runs):
    one, two = runs
    assert two["history"]["accuracy"] == pytest.approx(one["history"]["accuracy"], abs=1e-6)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(520, 4, generator=g)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).long()
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    model.load_state_dict(two["weights"])
    ds = TensorDataset(x[400:], y[400:])
    plain = Learner(model, DataLoaders.from_datasets(ds, ds, bs=16, device=torch.device("cpu"),
                                                     classes=["no", "yes"]), nn.CrossEntropyLoss(),
                    metrics=[accuracy], activation="softmax")
    single = plain.validate()
    assert two["history"]["accuracy"][-1] == pytest.approx(single["accuracy"], abs=1e-6)
    assert two["history"]["valid_loss"][-1] == pytest.approx(single["valid_loss"], abs=1e-5)
    preds, targets = plain.get_preds()
    assert torch.equal(two["targets"], targets) and torch.allclose(two["preds"], preds, atol=1e-6)


def test_a_crash_in_one_process_ends_the_run_with_a_clear_error(tmp_path):
    result = torchrun(2, tmp_path / "crash.pt", 16, "1", timeout=180)  # a hang would hit the timeout
    assert result.returncode != 0
    assert "rank 1 failed on purpose" in result.stdout + result.stderr
    assert not (tmp_path / "crash.pt").exists()


def test_the_train_script_trains_a_lesson_model_under_torchrun_and_exports_it(tmp_path):
    from coursehelpers.export import load_learner

    script = Path(__file__).parent.parent / "scripts" / "train.py"
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(script), "collab", "--epochs", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path,
                            env={"OMP_NUM_THREADS": "1", "PATH": str(TORCHRUN.parent), "COURSE_SIZE": "sample",
                                 "COURSE_DATA": str(Path(__file__).parent.parent / "data")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("processes=2") == 1  # only rank 0 prints
    learn = load_learner(tmp_path / "build" / "collab.pth")
    rating, _ = learn.predict(*learn.dls.prepare.users[:1], *learn.dls.prepare.items[:1])
    assert 0.0 < float(rating) < 5.5
