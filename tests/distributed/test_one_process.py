"""coursehelpers.distributed in ONE process, with and without a process group (gloo, world size 1).

The two-process behaviour (gradients averaged, validation gathered in order, a crash ending the run) is
tests/test_distributed.py's, under torchrun: an integration test. These are the unit-level parts, fast
enough for `make unit`: what one process sees, and the same code paths inside a real (one-member) group.
"""
from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers import distributed


@pytest.fixture
def group(tmp_path):
    """A real gloo process group of one process, left again after the test."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    distributed.teardown()


def test_without_a_group_everything_is_the_single_process_code():
    assert (distributed.is_distributed(), distributed.rank(), distributed.world_size(), distributed.is_main()) == \
        (False, 0, 1, True)
    model, t = nn.Linear(2, 2), torch.arange(6).view(3, 2)
    assert distributed.wrap(model) is model and distributed.all_sum(t) is t and distributed.gather_rows(t) is t
    assert distributed.mean_over_processes(2.5, torch.device("cpu")) == 2.5
    sampler = distributed.Strided(5)
    assert list(sampler) == [0, 1, 2, 3, 4] and len(sampler) == 5
    distributed.barrier()
    distributed.teardown()  # nothing to leave: no error


def test_inside_a_group_of_one_the_collectives_give_this_process_s_values(group):
    assert (distributed.is_distributed(), distributed.rank(), distributed.world_size(), distributed.is_main()) == \
        (True, 0, 1, True)
    t = torch.tensor([1.0, 2.0])
    total = distributed.all_sum(t)
    assert total.tolist() == [1.0, 2.0] and total is not t  # a copy: the caller's tensor is not reduced in place
    mean = distributed.mean_over_processes(3, torch.device("cpu"))
    assert mean == 3.0 and isinstance(mean, float)
    rows = torch.arange(6).view(3, 2)
    gathered = distributed.gather_rows(rows)
    assert torch.equal(gathered, rows) and gathered.dtype == torch.long  # class indices stay indices
    distributed.barrier()
    model = nn.Linear(2, 2)
    wrapped = distributed.wrap(model)
    assert isinstance(wrapped, nn.parallel.DistributedDataParallel) and wrapped.module is model
    assert wrapped.device_ids is None  # a CPU model: no device ids


def test_inside_a_group_training_batches_are_a_seeded_shuffle_and_validation_is_in_order(group):
    ds = TensorDataset(torch.arange(10))
    train = distributed.shard_batches(ds, 3, shuffle=True, seed=4, drop_last=True)
    batches = list(train)
    assert len(batches) == 3 and all(len(b) == 3 for b in batches)  # the partial batch dropped
    assert len({i for b in batches for i in b}) == 9 and [i for b in batches for i in b] != list(range(9))
    assert batches == list(distributed.shard_batches(ds, 3, shuffle=True, seed=4, drop_last=True))
    assert batches != list(distributed.shard_batches(ds, 3, shuffle=True, seed=5, drop_last=True))
    train.sampler.set_epoch(1)  # DataLoaders.set_epoch: a new order each epoch
    assert list(train) != batches
    valid = distributed.shard_batches(ds, 3, shuffle=False, seed=4, drop_last=False)
    assert list(valid) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_strided_gives_process_r_of_n_items_r_r_plus_n_and_so_on(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    shares = []
    for r in range(3):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        sampler = distributed.Strided(10)
        shares.append(list(sampler))
        assert len(sampler) == len(shares[-1])
    assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]  # every item exactly once overall


@pytest.mark.parametrize("timeout, expected", [((), 120.0), ((7.0,), 7.0)])
def test_setup_joins_the_group_torchrun_describes_with_its_timeout(monkeypatch, timeout, expected):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(key, value)  # what torchrun sets for each process
    try:
        device = distributed.setup(*timeout)
        assert device == torch.device("cpu") and distributed.is_distributed() and dist.get_backend() == "gloo"
        backend = dist.group.WORLD._get_backend(torch.device("cpu"))
        assert backend.options._timeout.total_seconds() == expected  # a lost peer fails after this, not never
    finally:
        distributed.teardown()
    assert not distributed.is_distributed()
