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
