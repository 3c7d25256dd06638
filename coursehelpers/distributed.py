"""More than one process (``torchrun --nproc_per_node=N``): the few places a multi-process run differs.

PyTorch's DistributedDataParallel runs one process per GPU (or several on a CPU,
with the gloo backend). Each process trains the same model on its own shard of
every epoch's shuffled data; after each backward pass the gradients are averaged
across processes, so every process takes the same step. What changes for the
Learner, and only when a process group is set up (`setup`):

- training batches: each process gets ``bs`` items of a global batch of
  ``bs * world_size``, drawn by a `DistributedSampler` reshuffled each epoch from
  ``seed + epoch``; validation: process r gets items r, r + N, r + 2N, ...;
- validation losses and metrics are computed over the whole validation set,
  gathered across processes (`all_sum`, `gather_rows`), so every process logs the
  same numbers;
- only the main process (rank 0) prints, saves and exports.

One process never enters any of this: `is_distributed()` is False and the
Learner runs exactly its single-process code.

Example:
    >>> is_distributed(), rank(), world_size(), is_main()
    (False, 0, 1, True)
"""
from __future__ import annotations

from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import BatchSampler, Dataset, DistributedSampler, Sampler


def is_distributed() -> bool:
    """True inside a process group of `torch.distributed` (set up by `setup`)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """The process that prints, saves and exports (rank 0; the only one when not distributed)."""
    return rank() == 0


def setup(timeout_seconds: float = 120.0) -> torch.device:
    """Join the process group torchrun described (NCCL on GPUs, gloo on CPUs); returns this process's device.

    A process that waits longer than ``timeout_seconds`` for the others (one of them crashed) fails
    with an error instead of hanging; torchrun then stops the rest.
    """
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_seconds))
    if backend == "nccl":
        torch.cuda.set_device(dist.get_rank() % torch.cuda.device_count())  # one GPU per process
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def teardown() -> None:
    """Leave the process group, all processes together: one that leaves while another still sends can abort it."""
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


class Strided(Sampler[int]):
    """Items r, r + N, r + 2N, ... of a dataset for process r of N: every item exactly once overall."""

    def __init__(self, n: int):
        self.n, self.rank, self.world = n, rank(), world_size()

    def __iter__(self):
        return iter(range(self.rank, self.n, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world))


def shard_batches(ds: Dataset, bs: int, shuffle: bool, seed: int, drop_last: bool) -> BatchSampler:
    """This process's batches: a shard of the shuffled training set, or a strided slice of the validation set."""
    if shuffle:
        order = DistributedSampler(ds, shuffle=True, seed=seed, drop_last=True)
    else:
        order = Strided(len(ds))
    return BatchSampler(order, bs, drop_last)


def wrap(model: nn.Module) -> nn.Module:
    """The model as DistributedDataParallel (gradients averaged across processes) when distributed."""
    if not is_distributed():
        return model
    device_ids = [torch.cuda.current_device()] if next(model.parameters()).is_cuda else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def all_sum(t: Tensor) -> Tensor:
    """The sum of ``t`` over all processes (``t`` itself when not distributed)."""
    if is_distributed():
        t = t.clone()
        dist.all_reduce(t)
    return t


def mean_over_processes(value: float, device: torch.device) -> float:
    """The mean of a number over all processes (the number itself when not distributed)."""
    if not is_distributed():
        return value
    return float(all_sum(torch.tensor(float(value), device=device))) / world_size()


def gather_rows(t: Tensor) -> Tensor:
    """Every process's rows (from `Strided` validation batches), back in the dataset's order."""
    if not is_distributed():
        return t
    parts: list = [None] * world_size()
    dist.all_gather_object(parts, t.cpu())
    out = torch.empty((sum(len(p) for p in parts), *t.shape[1:]), dtype=t.dtype)
    for r, part in enumerate(parts):
        out[r::world_size()] = part
    return out.to(t.device)


def barrier() -> None:
    """Wait until every process gets here (for example until rank 0 has written a file)."""
    if is_distributed():
        dist.barrier()
