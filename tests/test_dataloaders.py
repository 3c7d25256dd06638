"""dataloaders: the one rule every task's loaders follow."""
import torch
from torch.utils.data import Dataset, TensorDataset

from coursehelpers.dataloaders import DataLoaders, Prepare

CPU = torch.device("cpu")


class Items(Dataset):
    """A map-style dataset returning one row at a time (collated by the default collate)."""

    def __init__(self, n):
        self.x = torch.arange(n, dtype=torch.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.x[i] * 2


def tensors(n):
    x = torch.arange(n, dtype=torch.float32)
    return TensorDataset(x, x * 2)


def order(dls):
    return torch.cat([xb for xb, _ in dls.train]).tolist()


def test_training_batches_are_shuffled_from_the_seed_and_repeat_with_it():
    for ds in (tensors(20), Items(20)):
        a, b = (DataLoaders.from_datasets(ds, ds, bs=4, seed=1, device=CPU) for _ in range(2))
        other = DataLoaders.from_datasets(ds, ds, bs=4, seed=2, device=CPU)
        assert order(a) == order(b)
        assert order(a) != order(other)
        assert sorted(order(a)) == list(range(20))  # a permutation: shuffled, nothing lost
        assert order(a) != list(range(20))


def test_validation_is_in_order_at_twice_the_batch_size():
    dls = DataLoaders.from_datasets(tensors(20), tensors(10), bs=4, device=CPU)
    sizes = [len(yb) for _, yb in dls.valid]
    assert sizes == [8, 2]
    assert torch.cat([xb for xb, _ in dls.valid]).tolist() == list(range(10))


def test_the_last_partial_training_batch_is_dropped_unless_it_is_the_only_one():
    for ds in (tensors(10), Items(10)):
        dls = DataLoaders.from_datasets(ds, ds, bs=4, device=CPU)
        assert [len(yb) for _, yb in dls.train] == [4, 4]  # 10 = 4 + 4 + 2: the 2 are dropped
    small = DataLoaders.from_datasets(tensors(3), tensors(3), bs=4, device=CPU)
    assert [len(yb) for _, yb in small.train] == [3]


def test_tensor_datasets_are_sliced_a_batch_at_a_time():
    calls = []

    class Counting(TensorDataset):
        def __getitem__(self, idx):
            calls.append(idx)
            return super().__getitem__(idx)

    x = torch.arange(8.0)
    dls = DataLoaders.from_datasets(Counting(x, x), Counting(x, x), bs=4, device=CPU)
    list(dls.train)
    assert len(calls) == 2 and all(len(c) == 4 for c in calls)


def test_prepare_runs_on_every_batch_and_knows_train_from_valid():
    class Mark(Prepare):
        def __call__(self, batch, train):
            return (batch[0] + (100 if train else 0), *batch[1:])

    dls = DataLoaders.from_datasets(tensors(8), tensors(8), bs=4, device=CPU, prepare=Mark())
    assert dls.one_batch("train")[0].min() >= 100
    assert dls.one_batch("valid")[0].max() < 100


def test_reloaded_dataloaders_without_loaders_say_what_to_do():
    dls = DataLoaders(None, None, device=CPU)
    try:
        dls.one_batch()
    except ValueError as e:
        assert "learn.predict" in str(e)
    else:
        raise AssertionError("one_batch without a loader must raise")


def test_iterating_the_loaders_never_draws_from_the_global_generator():
    # dropout and augmentation draw from torch's global generator: a pass over the data must not shift it
    for ds in (tensors(20), Items(20)):
        dls = DataLoaders.from_datasets(ds, ds, bs=4, device=CPU)
        torch.manual_seed(0)
        expected = torch.rand(3)
        torch.manual_seed(0)
        list(dls.train), list(dls.valid)
        assert torch.equal(torch.rand(3), expected)


def test_course_max_batches_caps_every_pass(monkeypatch):
    monkeypatch.setenv("COURSE_MAX_BATCHES", "2")
    dls = DataLoaders.from_datasets(tensors(40), tensors(40), bs=4, device=CPU)
    assert len(dls.train) == 2 and len(list(dls.train)) == 2
    assert len(list(dls.valid)) == 2
    monkeypatch.setenv("COURSE_MAX_BATCHES", "two")
    try:
        DataLoaders.from_datasets(tensors(40), tensors(40), bs=4, device=CPU).train
    except ValueError as e:
        assert "COURSE_MAX_BATCHES" in str(e)
    else:
        raise AssertionError("a cap that is not a number must be refused")


def test_loaders_pin_memory_only_for_cuda_and_seed_persistent_workers():
    from coursehelpers.core import seed_worker

    gpu = DataLoaders.from_datasets(tensors(8), Items(8), bs=4, device=torch.device("cuda"))  # built, not iterated
    cpu = DataLoaders.from_datasets(tensors(8), Items(8), bs=4, device=CPU, num_workers=1)
    for dl in (gpu.train_dl, gpu.valid_dl):
        assert dl.pin_memory and dl.num_workers == 0 and not dl.persistent_workers
    for dl in (cpu.train_dl, cpu.valid_dl):
        assert not dl.pin_memory and dl.num_workers == 1 and dl.persistent_workers
        assert dl.worker_init_fn is seed_worker
    assert gpu.device == torch.device("cuda") and cpu.device == CPU


def test_defaults_batch_size_64_seed_0_and_the_best_device():
    from coursehelpers.core import default_device

    ds = tensors(300)
    dls = DataLoaders.from_datasets(ds, ds)
    assert dls.device == default_device() and dls.bs == 64
    assert [len(yb) for _, yb in dls.valid] == [128, 128, 44]
    seeded = DataLoaders.from_datasets(ds, ds, seed=0, device=dls.device)
    assert order(dls) == order(seeded)
    plain = DataLoaders(None, None)
    assert plain.device == default_device() and plain.n_inputs == 1 and plain.bs is None and plain.classes is None


def test_a_batch_exactly_the_size_of_the_set_is_kept():
    dls = DataLoaders.from_datasets(tensors(4), tensors(4), bs=4, device=CPU)
    assert [len(yb) for _, yb in dls.train] == [4]


def test_an_iterable_dataset_yields_its_own_batches_unchanged():
    from torch.utils.data import IterableDataset

    class Stream(IterableDataset):
        def __iter__(self):
            for i in range(3):
                yield torch.full((5, 2), float(i)), torch.full((5,), float(i))

    dls = DataLoaders.from_datasets(Stream(), Stream(), bs=64, device=CPU)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    batches = list(dls.train)
    assert torch.equal(torch.rand(3), expected)  # its own generator: the global one is not drawn from
    assert [xb.shape for xb, _ in batches] == [torch.Size([5, 2])] * 3
    assert [float(yb[0]) for _, yb in batches] == [0.0, 1.0, 2.0]
    from coursehelpers.core import seed_worker

    on_gpu = DataLoaders.from_datasets(Stream(), Stream(), device=torch.device("cuda"), num_workers=1).train_dl
    assert on_gpu.pin_memory and on_gpu.num_workers == 1 and on_gpu.persistent_workers
    assert on_gpu.worker_init_fn is seed_worker


def test_a_collate_fn_makes_a_tensor_dataset_collate_row_by_row():
    seen = []

    def collate(rows):
        seen.append(len(rows))
        return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])

    dls = DataLoaders.from_datasets(tensors(8), tensors(8), bs=4, device=CPU, collate_fn=collate)
    assert sorted(torch.cat([xb for xb, _ in dls.train]).tolist()) == list(range(8))
    assert seen == [4, 4]


def test_a_custom_batches_function_decides_the_training_and_validation_batches():
    calls = []

    def in_pairs(ds, bs, shuffle, generator, drop_last):
        calls.append((len(ds), bs, shuffle, isinstance(generator, torch.Generator), drop_last))
        return [[i, i + 1] for i in range(0, len(ds), 2)]

    dls = DataLoaders.from_datasets(Items(6), Items(4), bs=3, device=CPU, batches=in_pairs)
    assert calls == [(6, 3, True, True, True), (4, 6, False, True, False)]
    assert [xb.tolist() for xb, _ in dls.train] == [[0, 1], [2, 3], [4, 5]]


def test_set_epoch_reaches_an_epoch_aware_sampler_of_both_loaders():
    class EpochAware(list):
        epochs = []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    dls = DataLoaders.from_datasets(Items(4), tensors(4), bs=2, device=CPU,
                                    batches=lambda ds, bs, *a: EpochAware([[0, 1], [2, 3]]))
    dls.set_epoch(3)
    assert EpochAware.epochs == [3, 3]
    DataLoaders(None, None, device=CPU).set_epoch(1)  # no loaders: nothing to tell, no error


def test_classes_n_inputs_and_the_datasets_are_kept():
    train, valid = tensors(8), tensors(4)
    dls = DataLoaders.from_datasets(train, valid, bs=2, device=CPU, classes=("a", "b", "c"), n_inputs=2)
    assert dls.classes == ["a", "b", "c"] and dls.c == 3 and dls.n_inputs == 2
    assert dls.train_ds is train and dls.valid_ds is valid
    plain = DataLoaders.from_datasets(train, valid, bs=2, device=CPU)
    assert plain.classes is None and plain.c == 0 and plain.n_inputs == 1 and type(plain.prepare) is Prepare


def test_to_device_makes_a_tuple_and_leaves_other_values_alone():
    dls = DataLoaders(None, None, device=torch.device("meta"))
    one = dls.to_device(torch.ones(2))
    assert isinstance(one, tuple) and len(one) == 1 and one[0].device.type == "meta"
    batch = dls.to_device([torch.ones(2), "label", 3])
    assert isinstance(batch, tuple) and batch[0].device.type == "meta" and batch[1:] == ("label", 3)


def test_the_plain_prepare_encodes_one_item_with_a_batch_dimension_and_rebuilds_from_its_config():
    p = Prepare()
    x, y = p.encode([1.0, 2.0], 3)
    assert x.shape == (1, 2) and y.shape == (1,) and x.tolist() == [[1.0, 2.0]]
    assert p.config() == {"kind": "plain"} and type(Prepare.from_config(p.config())) is Prepare
    batch = (torch.ones(2), torch.zeros(2))
    assert p(batch, train=True) is batch


def test_batches_of_any_loader_use_the_given_prepare_or_the_tasks():
    class Add(Prepare):
        def __init__(self, k):
            self.k = k

        def __call__(self, batch, train):
            return (batch[0] + self.k + (1000 if train else 0), *batch[1:])

    dls = DataLoaders.from_datasets(tensors(4), tensors(4), bs=4, device=CPU, prepare=Add(10))
    assert next(iter(dls.batches(dls.valid_dl)))[0].tolist() == [10, 11, 12, 13]
    assert next(iter(dls.batches(dls.valid_dl, train=True, prepare=Add(100))))[0].tolist() == [1100, 1101, 1102, 1103]
    assert len(dls.batches(dls.valid_dl)) == 1


def test_the_error_for_a_missing_loader_names_the_split_and_what_to_do():
    import pytest

    dls = DataLoaders(None, None, device=CPU)
    for split in ("train", "valid"):
        with pytest.raises(ValueError) as e:
            dls.one_batch(split)
        assert str(e.value) == (f"These DataLoaders have no {split} loader (a model reloaded with load_learner "
                                "keeps only what prediction needs). Use learn.predict(item), or set learn.dls "
                                "to DataLoaders built from your data.")


def test_make_loader_defaults_seed_0_no_workers_and_the_best_device():
    from coursehelpers.core import default_device
    from coursehelpers.dataloaders import make_loader

    ds = tensors(20)
    default = make_loader(ds, 4, True)
    assert default.num_workers == 0 and default.pin_memory == (default_device().type == "cuda")
    assert torch.cat([xb for xb, _ in default]).tolist() == torch.cat([xb for xb, _ in make_loader(ds, 4, True, seed=0)]).tolist()


def test_under_a_process_group_training_batches_are_sharded_and_reshuffled_each_epoch(tmp_path):
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'group'}", rank=0, world_size=1)
    try:
        dls = DataLoaders.from_datasets(Items(20), tensors(10), bs=4, seed=3, device=CPU)
        sampler = dls.train_dl.batch_sampler.sampler
        assert isinstance(sampler, DistributedSampler) and sampler.seed == 3 and sampler.shuffle
        assert dls.train_dl.batch_sampler.batch_size == 4 and dls.train_dl.batch_sampler.drop_last
        first = order(dls)
        assert sorted(first) == list(range(20)) and order(dls) == first  # one process: its shard is everything
        dls.set_epoch(1)  # reaches the DistributedSampler inside the BatchSampler
        assert sampler.epoch == 1 and order(dls) != first and sorted(order(dls)) == list(range(20))
        assert torch.cat([xb for xb, _ in dls.valid]).tolist() == list(range(10))  # in order, at 2 * bs
        assert [len(yb) for _, yb in dls.valid] == [8, 2]
    finally:
        dist.destroy_process_group()
