"""coursehelpers.collab: models, the index mapping, the split and the batch loaders, on tiny data."""
import pandas as pd
import pytest
import torch
from torch import nn

from coursehelpers.collab import (CollabNN, DotProduct, DotProductBias, batch_loader, collab_dataloaders,
                                  collab_datasets, index_ratings, sigmoid_range)
from coursehelpers.core import set_seed
from coursehelpers.learner import Learner


@pytest.mark.parametrize("model", [DotProduct(5, 7, 3), DotProductBias(5, 7, 3, y_range=(0.0, 5.5)),
                                   CollabNN(5, 7, 3, 4, n_hidden=8)])
def test_output_is_one_rating_per_row(model):
    x = torch.tensor([[0, 0], [4, 6], [2, 3]])
    assert model(x).shape == (3,)


def test_sigmoid_range_stays_inside_bounds():
    x = torch.linspace(-50, 50, 101)
    y = sigmoid_range(x, 0.0, 5.5)
    assert (y >= 0).all() and (y <= 5.5).all()
    assert sigmoid_range(torch.tensor(0.0), 1.0, 5.0).item() == pytest.approx(3.0)
    assert torch.all(y[1:] >= y[:-1])  # monotone: the order of scores is kept


def test_fresh_bias_model_predicts_the_middle_of_the_range():
    out = DotProductBias(4, 4, 10, y_range=(0.0, 5.5))(torch.tensor([[1, 2]]))
    assert out.item() == pytest.approx(2.75, abs=0.01)  # tiny factors, zero biases


def test_embedding_lookup_equals_one_hot_matmul():
    model = DotProduct(6, 9, 4)
    items = torch.tensor([3, 0, 8, 3])
    one_hot = nn.functional.one_hot(items, num_classes=9).float()
    assert torch.allclose(model.item_factors(items), one_hot @ model.item_factors.weight)


def test_index_ratings_keeps_sorted_classes():
    ratings = pd.DataFrame({"user": [30, 10, 30], "item": ["b", "c", "a"], "rating": [1.0, 2.0, 3.0]})
    x, users, items = index_ratings(ratings)
    assert users == [10, 30] and items == ["a", "b", "c"]
    assert [(users[u], items[i]) for u, i in x.tolist()] == list(zip(ratings.user, ratings.item))
    with pytest.raises(KeyError, match="item_col"):
        index_ratings(ratings, item_col="movie")


def test_split_is_seeded_and_disjoint():
    ratings = pd.DataFrame({"user": list(range(50)) * 2, "item": [0, 1] * 50, "rating": range(100)})
    train, valid, _, _ = collab_datasets(ratings, valid_pct=0.2, seed=1)
    train2, valid2, _, _ = collab_datasets(ratings, valid_pct=0.2, seed=1)
    assert len(train) == 80 and len(valid) == 20
    assert torch.equal(valid.tensors[1], valid2.tensors[1])
    assert set(train.tensors[1].tolist()).isdisjoint(valid.tensors[1].tolist())
    with pytest.raises(ValueError, match="valid_pct"):
        collab_datasets(ratings, valid_pct=1.0)


def test_batch_loader_yields_whole_batches_and_every_row_once():
    ds = torch.utils.data.TensorDataset(torch.arange(10).repeat(2, 1).T, torch.arange(10).float())
    batches = list(batch_loader(ds, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == torch.long
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(10))
    again = list(batch_loader(ds, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again))


def _planted_ratings(n_users=40, n_items=30, seed=0):
    # ratings from 2 hidden factors plus biases, every pair observed: a model of the
    # same form should fit them almost exactly
    g = torch.Generator().manual_seed(seed)
    u, i = torch.randn(n_users, 2, generator=g), torch.randn(n_items, 2, generator=g)
    scores = 3 + (u @ i.T) * 0.5 + 0.3 * torch.randn(n_users, 1, generator=g)
    users, items = torch.meshgrid(torch.arange(n_users), torch.arange(n_items), indexing="ij")
    return torch.stack([users.flatten(), items.flatten()], dim=1), scores.flatten()


def test_dot_product_bias_learns_a_planted_problem():
    torch.manual_seed(0)
    x, y = _planted_ratings()
    model = DotProductBias(40, 30, n_factors=4)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(150):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    # the ratings' variance is ~0.6; a model that found the structure is far below it
    assert nn.functional.mse_loss(model(x), y).item() < 0.01 < y.var().item() / 10


def test_collab_dataloaders_feed_a_learner():
    x, y = _planted_ratings()
    ratings = pd.DataFrame({"user": x[:, 0] + 100, "movie": x[:, 1], "rating": y})
    dls, users, items = collab_dataloaders(ratings, item_col="movie", batch_size=25, seed=0,
                                           device=torch.device("cpu"))
    assert users[0] == 100 and len(users) == 40 and len(items) == 30
    xb, yb = dls.one_batch()
    assert xb.shape == (25, 2) and xb.dtype == torch.long and yb.shape == (25,)
    set_seed(0)
    first = dls.one_batch()[1]
    set_seed(0)
    assert torch.equal(dls.one_batch()[1], first)  # set_seed repeats the shuffling
    learn = Learner(DotProductBias(40, 30, n_factors=4), dls, nn.MSELoss(), wd=0.0, progress=False,
                    log_epochs=False)
    learn.fit_one_cycle(20, 0.1)
    # every pair is a planted rating; the validation pairs' users and items are seen in training
    assert learn.history.valid_loss.iloc[-1] < 0.1 * y.var().item()
