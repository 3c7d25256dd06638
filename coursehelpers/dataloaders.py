"""`DataLoaders`: a training and a validation `torch.utils.data.DataLoader`, and how their batches reach the model.

Every task (vision, tabular, text, collab) builds its loaders through
`DataLoaders.from_datasets`, so they all follow one rule:

- training batches are shuffled from a generator seeded with ``seed`` (a fresh
  DataLoaders repeats the same order), validation batches come in order at twice
  the batch size;
- the last partial training batch is dropped (a batch of one breaks BatchNorm),
  unless the whole training set is smaller than one batch;
- memory is pinned when the device is CUDA; workers are seeded and persistent.

A `TensorDataset` (tabular and collab data live in memory) is sliced a whole batch
at a time, which is many times faster than collating rows one by one. An
`IterableDataset` (language-model streams) yields whole batches itself.

On the way to the model each batch is copied to the device and handed to the
task's `Prepare` (images: uint8 to float, augment, normalise, channels-last). The
generic `Prepare` changes nothing, so nothing here assumes images.

Example:
    >>> from torch.utils.data import TensorDataset
    >>> ds = TensorDataset(torch.arange(10.).unsqueeze(1), torch.arange(10.))
    >>> dls = DataLoaders.from_datasets(ds, ds, bs=4, device=torch.device("cpu"))
    >>> len(dls.train), len(dls.valid), dls.one_batch()[0].shape
    (2, 2, torch.Size([4, 1]))
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset, RandomSampler, Sampler,
                              SequentialSampler, TensorDataset)

from coursehelpers import distributed
from coursehelpers.core import default_device, max_batches, seed_worker

Batch = tuple[Tensor, ...]
BatchSamplerFn = Callable[[Dataset, int, bool, torch.Generator, bool], Sampler]


class Prepare:
    """What happens to a batch on the device before the model sees it; this one changes nothing.

    A task's subclass overrides `__call__` (for example images: uint8 to float,
    augment when ``train``, normalise), `encode` (one raw item, such as a file path,
    into model inputs with a batch dimension) and `config` (the plain data that
    rebuilds it, stored in an export).

    Example:
        >>> Prepare()((torch.ones(2, 3), torch.zeros(2)), train=True)[0].shape
        torch.Size([2, 3])
    """

    def __call__(self, batch: Batch, train: bool) -> Batch:
        return batch

    def encode(self, *item: object) -> Batch:
        """One item's inputs as tensors with a batch dimension of 1."""
        return tuple(torch.as_tensor(x).unsqueeze(0) for x in item)

    def config(self) -> dict:
        """Plain data (numbers, strings, lists) from which `from_config` rebuilds this object."""
        return {"kind": "plain"}

    @classmethod
    def from_config(cls, config: dict) -> "Prepare":
        return cls()


def random_batches(ds: Dataset, bs: int, shuffle: bool, generator: torch.Generator,
                   drop_last: bool) -> BatchSampler:
    """Lists of indices: shuffled (from ``generator``) or in order, ``bs`` at a time.

    Example:
        >>> list(random_batches(range(5), 2, False, torch.Generator(), drop_last=True))
        [[0, 1], [2, 3]]
    """
    order = RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
    return BatchSampler(order, bs, drop_last)


def make_loader(ds: Dataset, bs: int, train: bool, seed: int = 0, device: torch.device | None = None,
                collate_fn: Callable | None = None, batches: BatchSamplerFn = random_batches,
                num_workers: int = 0) -> DataLoader:
    """One DataLoader by the rule in this module's docstring (``train`` shuffles and drops a partial batch)."""
    device = device if device is not None else default_device()
    # Each pass of a DataLoader draws a seed for its workers from its `generator`, or else from torch's
    # global one, which dropout and augmentation use: so every loader gets a seeded generator.
    generator = torch.Generator().manual_seed(seed)
    common = dict(num_workers=num_workers, pin_memory=device.type == "cuda", worker_init_fn=seed_worker,
                  persistent_workers=num_workers > 0)
    if isinstance(ds, IterableDataset):  # it yields whole batches and shuffles itself
        return DataLoader(ds, batch_size=None, generator=generator, **common)
    drop_last = train and len(ds) > bs
    if distributed.is_distributed():  # each process its shard (see coursehelpers.distributed)
        sampler = distributed.shard_batches(ds, bs, train, seed, drop_last)
    else:
        sampler = batches(ds, bs, train, generator, drop_last)
    if isinstance(ds, TensorDataset) and collate_fn is None:
        # ds[list_of_rows] returns the whole batch at once: no per-row collation
        return DataLoader(ds, sampler=sampler, batch_size=None, generator=torch.Generator().manual_seed(seed),
                          **common)
    # per-item datasets: sampler and loader share the generator, as DataLoader(shuffle=True, generator=g) does
    return DataLoader(ds, batch_sampler=sampler, collate_fn=collate_fn, generator=generator, **common)


class PreparedDataset(TensorDataset):
    """Tensors, and the `Prepare` that turns one raw item into inputs the same way (the task's ``*_dataloaders`` use it)."""

    def __init__(self, prepare: Prepare, *tensors: Tensor):
        super().__init__(*tensors)
        self.prepare = prepare


class DataLoaders:
    """A training and a validation DataLoader, the device, the class names and the task's `Prepare`.

    ``train_dl`` and ``valid_dl`` are plain PyTorch DataLoaders (None after
    `load_learner`: an exported model keeps only what prediction needs).
    Iterating ``dls.train`` or ``dls.valid`` gives batches on the device, prepared.
    A batch is ``(*inputs, target)``; ``n_inputs`` says how many inputs.
    """

    def __init__(self, train_dl: DataLoader | None, valid_dl: DataLoader | None,
                 device: torch.device | None = None, prepare: Prepare | None = None,
                 classes: Sequence[str] | None = None, n_inputs: int = 1):
        self.train_dl, self.valid_dl = train_dl, valid_dl
        self.device = device if device is not None else default_device()
        self.prepare = prepare if prepare is not None else Prepare()
        self.classes = list(classes) if classes is not None else None
        self.n_inputs = n_inputs
        self.bs: int | None = None  # the training batch size, when from_datasets made the loaders

    @classmethod
    def from_datasets(cls, train_ds: Dataset, valid_ds: Dataset, bs: int = 64, *, seed: int = 0,
                      device: torch.device | None = None, prepare: Prepare | None = None,
                      classes: Sequence[str] | None = None, n_inputs: int = 1, num_workers: int = 0,
                      collate_fn: Callable | None = None,
                      batches: BatchSamplerFn = random_batches) -> "DataLoaders":
        """Both loaders by the one rule (see the module docstring); validation at ``2 * bs``.

        ``batches`` groups indices into batches (text classifiers pass one that
        keeps texts of similar length together).
        """
        device = device if device is not None else default_device()
        common = dict(seed=seed, device=device, collate_fn=collate_fn, batches=batches, num_workers=num_workers)
        dls = cls(make_loader(train_ds, bs, True, **common), make_loader(valid_ds, 2 * bs, False, **common),
                  device=device, prepare=prepare, classes=classes, n_inputs=n_inputs)
        dls.bs = bs
        return dls

    @property
    def c(self) -> int:
        """The number of classes (0 when there are none, as in regression)."""
        return len(self.classes) if self.classes is not None else 0

    @property
    def train_ds(self) -> Dataset:
        return self.train_dl.dataset

    @property
    def valid_ds(self) -> Dataset:
        return self.valid_dl.dataset

    def set_epoch(self, epoch: int) -> None:
        """Tell an epoch-aware sampler (a DistributedSampler: one shuffle per epoch) which epoch starts."""
        for dl in (self.train_dl, self.valid_dl):
            sampler = getattr(dl, "batch_sampler", None) or getattr(dl, "sampler", None)
            sampler = getattr(sampler, "sampler", sampler)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)

    def to_device(self, batch: Sequence) -> Batch:
        """Every tensor of a batch on the device (a non-blocking copy from pinned memory)."""
        batch = batch if isinstance(batch, (tuple, list)) else (batch,)
        return tuple(t.to(self.device, non_blocking=True) if isinstance(t, Tensor) else t for t in batch)

    def batches(self, dl: DataLoader, train: bool = False, prepare: Prepare | None = None) -> "DeviceBatches":
        """Iterate any DataLoader as prepared batches on this device (``prepare`` replaces the task's)."""
        return DeviceBatches(self, dl, train, prepare if prepare is not None else self.prepare)

    @property
    def train(self) -> "DeviceBatches":
        return self.batches(self._loader(self.train_dl, "train"), train=True)

    @property
    def valid(self) -> "DeviceBatches":
        return self.batches(self._loader(self.valid_dl, "valid"), train=False)

    def one_batch(self, split: str = "train") -> Batch:
        """The first prepared batch of ``split`` ("train" or "valid")."""
        return next(iter(self.train if split == "train" else self.valid))

    def _loader(self, dl: DataLoader | None, split: str) -> DataLoader:
        if dl is None:
            raise ValueError(f"These DataLoaders have no {split} loader (a model reloaded with load_learner "
                             "keeps only what prediction needs). Use learn.predict(item), or set learn.dls "
                             "to DataLoaders built from your data.")
        return dl


class DeviceBatches:
    """An iterable over a DataLoader whose batches come out on the device, prepared.

    A pass stops after ``core.max_batches()`` batches when ``COURSE_MAX_BATCHES`` is set.
    """

    def __init__(self, dls: DataLoaders, dl: DataLoader, train: bool, prepare: Prepare):
        self.dls, self.dl, self.train, self.prepare = dls, dl, train, prepare
        self.limit = max_batches()

    def __len__(self) -> int:
        return len(self.dl) if self.limit is None else min(len(self.dl), self.limit)

    def __iter__(self) -> Iterator[Batch]:
        for batch in itertools.islice(self.dl, self.limit):
            yield self.prepare(self.dls.to_device(batch), self.train)
