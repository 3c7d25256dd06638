"""coursehelpers.collab: models, the index mapping, the split, the loaders and the export, on tiny data."""
import pandas as pd
import pytest
import torch
from torch import nn

from coursehelpers.collab import (CollabNN, DotProductBias, collab_dataloaders, collab_datasets, collab_learner,
                                  collab_model, sigmoid_range)
from coursehelpers.config import TrainConfig
from coursehelpers.export import load_learner

CPU = torch.device("cpu")


@pytest.mark.parametrize("model", [DotProductBias(5, 7, 3, y_range=(0.0, 5.5)), CollabNN(5, 7, 3, 4, n_hidden=8),
                                   collab_model("nn", 5, 7, user_factors=2, item_factors=3)])
def test_output_is_one_rating_per_row(model):
    assert model(torch.tensor([[0, 0], [4, 6], [2, 3]])).shape == (3,)


def test_sigmoid_range_stays_inside_bounds():
    y = sigmoid_range(torch.linspace(-50, 50, 101), 0.0, 5.5)
    assert (y >= 0).all() and (y <= 5.5).all()
    assert sigmoid_range(torch.tensor(0.0), 1.0, 5.0).item() == pytest.approx(3.0)
    assert torch.all(y[1:] >= y[:-1])  # monotone: the order of scores is kept


def test_fresh_bias_model_predicts_the_middle_of_the_range():
    out = DotProductBias(4, 4, 10, y_range=(0.0, 5.5))(torch.tensor([[1, 2]]))
    assert out.item() == pytest.approx(2.75, abs=0.01)  # tiny factors, zero biases


def test_embedding_lookup_equals_one_hot_matmul():
    model = DotProductBias(6, 9, 4)
    items = torch.tensor([3, 0, 8, 3])
    one_hot = nn.functional.one_hot(items, num_classes=9).float()
    assert torch.allclose(model.item_factors(items), one_hot @ model.item_factors.weight)


def test_datasets_keep_sorted_ids_and_a_seeded_disjoint_split():
    ratings = pd.DataFrame({"user": [30, 10] * 50, "movie": list("cab" * 33) + ["a"], "stars": range(100)})
    train, valid = collab_datasets(ratings, "user", "movie", "stars", valid_pct=0.2, seed=1)
    users, items = train.prepare.users, train.prepare.items
    assert users == [10, 30] and items == ["a", "b", "c"] and valid.prepare is train.prepare
    assert len(train) == 80 and len(valid) == 20
    x, y = train.tensors
    rows = ratings.iloc[y.long().numpy()]  # the stars are the row numbers
    assert [(users[u], items[i]) for u, i in x.tolist()] == list(zip(rows.user, rows.movie))
    assert set(y.tolist()).isdisjoint(valid.tensors[1].tolist())
    assert torch.equal(collab_datasets(ratings, "user", "movie", "stars", 0.2, seed=1)[1].tensors[1], valid.tensors[1])
    with pytest.raises(ValueError, match="valid_pct"):
        collab_datasets(ratings, "user", "movie", "stars", valid_pct=1.0)
    with pytest.raises(KeyError):
        collab_datasets(ratings, "user", "title", "stars")


def _planted_ratings(n_users=40, n_items=30, seed=0):
    # ratings from 2 hidden factors plus biases, every pair observed: a model of the same form fits them well
    g = torch.Generator().manual_seed(seed)
    u, i = torch.randn(n_users, 2, generator=g), torch.randn(n_items, 2, generator=g)
    scores = 3 + (u @ i.T) * 0.5 + 0.3 * torch.randn(n_users, 1, generator=g)
    users, items = torch.meshgrid(torch.arange(n_users), torch.arange(n_items), indexing="ij")
    return pd.DataFrame({"user": users.flatten() + 100, "movie": items.flatten(), "rating": scores.flatten()})


def test_dataloaders_repeat_batches_for_a_seed():
    train, valid = collab_datasets(_planted_ratings(), "user", "movie", "rating", seed=0)
    dls = collab_dataloaders(train, valid, bs=25, seed=5, device=CPU)
    xb, yb = dls.one_batch()
    assert xb.shape == (25, 2) and xb.dtype == torch.long and yb.shape == (25,)
    assert len(dls.train) == len(train) // 25  # the partial batch is dropped
    assert torch.equal(collab_dataloaders(train, valid, bs=25, seed=5, device=CPU).one_batch()[1], yb)
    assert not torch.equal(collab_dataloaders(train, valid, bs=25, seed=6, device=CPU).one_batch()[1], yb)


@pytest.mark.parametrize("use_nn", [False, True])
def test_learner_learns_planted_ratings_and_its_export_predicts_like_get_preds(tmp_path, use_nn):
    ratings = _planted_ratings()
    train, valid = collab_datasets(ratings, "user", "movie", "rating", seed=0)
    torch.manual_seed(0)
    learn = collab_learner(collab_dataloaders(train, valid, bs=25, device=CPU), n_factors=4, y_range=None,
                           use_nn=use_nn, config=TrainConfig(wd=0.0, log=False))
    learn.fit_one_cycle(20 if not use_nn else 2, 0.1 if not use_nn else 0.01)
    if not use_nn:  # every pair is a planted rating; the validation pairs' users and items are seen in training
        assert learn.history.valid_loss.iloc[-1] < 0.1 * ratings.rating.var()
    preds, _ = learn.get_preds()
    loaded = load_learner(learn.export(tmp_path / "collab.pth"), device=CPU)
    assert not loaded.model.training  # ready to predict: a batch of one through BatchNorm must work
    users, items = train.prepare.users, train.prepare.items
    for k in (0, 7):
        u, i = valid.tensors[0][k].tolist()
        assert torch.allclose(loaded.predict(users[u], items[i])[1], preds[k], atol=1e-5)
    with pytest.raises(KeyError, match="user 7"):
        loaded.predict(7, items[0])
