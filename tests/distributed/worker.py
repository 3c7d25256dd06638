"""Trains a tiny model with the Learner; run by tests/test_distributed.py under torchrun (or alone).

    worker.py OUT.pt BATCH_SIZE [CRASH_RANK]

Writes, from rank 0, the trained weights, the history and the validation predictions to OUT.pt.
With CRASH_RANK, that rank raises in the middle of the second epoch.
"""
import sys

import torch
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers import distributed
from coursehelpers.callbacks import Callback
from coursehelpers.config import TrainConfig
from coursehelpers.core import set_seed
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.learner import Learner
from coursehelpers.metrics import accuracy


class CrashAt(Callback):
    def __init__(self, rank: int):
        self.rank = rank

    def before_batch(self, state):
        if distributed.rank() == self.rank and state.epoch == 1 and state.batch == 2:
            raise RuntimeError(f"rank {self.rank} failed on purpose")


def main(out: str, bs: int, crash_rank: int | None) -> None:
    device = distributed.setup(timeout_seconds=30)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(520, 4, generator=g)
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).long()
    dls = DataLoaders.from_datasets(TensorDataset(x[:400], y[:400]), TensorDataset(x[400:], y[400:]), bs=bs,
                                    seed=3, device=device, classes=["no", "yes"])
    set_seed(0)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))  # no BatchNorm: batch statistics differ
    cbs = [CrashAt(crash_rank)] if crash_rank is not None else []
    learn = Learner(model, dls, nn.CrossEntropyLoss(), metrics=[accuracy], activation="softmax", cbs=cbs,
                    config=TrainConfig(log=False))
    learn.fit_one_cycle(3, 1e-2)
    preds, targets = learn.get_preds()
    if distributed.is_main():
        torch.save({"weights": learn.model.state_dict(), "history": learn.history.to_dict("list"),
                    "preds": preds, "targets": targets, "world": distributed.world_size()}, out)
    distributed.teardown()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
