"""Collaborative filtering: the lesson-6 models, and ratings as batches of ONE input ``x`` [B, 2] (the user's
index, the item's, into the sorted distinct users and items) with the ratings [B].

Example:
    >>> ratings = pd.DataFrame({"user": [1, 1, 2, 2] * 16, "item": list("abab") * 16, "rating": [5., 3., 4., 2.] * 16})
    >>> train_ds, valid_ds = collab_datasets(ratings, valid_pct=0.25, seed=0)
    >>> train_ds.prepare.users, train_ds.prepare.items, len(train_ds), len(valid_ds)
    ([1, 2], ['a', 'b'], 48, 16)
    >>> learn = collab_learner(collab_dataloaders(train_ds, valid_ds, bs=8), n_factors=4, config=TrainConfig(log=False))
    >>> learn.fit_one_cycle(1, 1e-2)
    >>> float(learn.predict(2, "b")[1]) > 0
    True
"""
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from coursehelpers.config import TrainConfig
from coursehelpers.dataloaders import DataLoaders, Prepare, PreparedDataset
from coursehelpers.learner import Learner
from coursehelpers.tabular import emb_sz_rule


def sigmoid_range(x: Tensor, lo: float, hi: float) -> Tensor:
    """Squash ``x`` into the open interval (lo, hi) with a sigmoid.

    Example:
        >>> sigmoid_range(torch.tensor([-100., 0., 100.]), 0.0, 5.5)
        tensor([0.0000, 2.7500, 5.5000])
    """
    return torch.sigmoid(x) * (hi - lo) + lo


def embedding(n: int, dim: int) -> nn.Embedding:
    """An ``n x dim`` table of small random values: the sigmoid starts unsaturated, and rows can differ."""
    table = nn.Embedding(n, dim)
    nn.init.normal_(table.weight, mean=0.0, std=0.01)
    return table


class DotProductBias(nn.Module):
    """The dot product of a user's and an item's latent factors, plus a learned bias per user and per item:
    the biases carry what does not depend on taste (a generous user, a film everyone likes).
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50,
                 y_range: tuple[float, float] | None = None):
        super().__init__()
        self.user_factors, self.item_factors = embedding(n_users, n_factors), embedding(n_items, n_factors)
        # zero biases: a fresh model predicts the middle of y_range for everyone
        self.user_bias, self.item_bias = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.y_range = y_range

    def forward(self, x: Tensor) -> Tensor:
        users, items = self.user_factors(x[:, 0]), self.item_factors(x[:, 1])
        score = (users * items).sum(dim=1) + self.user_bias(x[:, 0])[:, 0] + self.item_bias(x[:, 1])[:, 0]
        return score if self.y_range is None else sigmoid_range(score, *self.y_range)


class CollabNN(nn.Module):
    """A small MLP on the concatenated user and item embeddings (which may differ in size)."""

    def __init__(self, n_users: int, n_items: int, user_factors: int = 50, item_factors: int = 50,
                 n_hidden: int = 100, dropout: float = 0.0, y_range: tuple[float, float] | None = None):
        super().__init__()
        self.user_factors, self.item_factors = embedding(n_users, user_factors), embedding(n_items, item_factors)
        self.layers = nn.Sequential(nn.Linear(user_factors + item_factors, n_hidden), nn.ReLU(),
                                    nn.Dropout(dropout), nn.Linear(n_hidden, 1))
        self.y_range = y_range

    def forward(self, x: Tensor) -> Tensor:
        score = self.layers(torch.cat([self.user_factors(x[:, 0]), self.item_factors(x[:, 1])], dim=1))[:, 0]
        return score if self.y_range is None else sigmoid_range(score, *self.y_range)


def collab_model(kind: str, n_users: int, n_items: int, **kwargs: object) -> nn.Module:
    """The export's builder "collab": ``kind`` "dot_bias" (`DotProductBias`) or "nn" (`CollabNN`)."""
    return {"dot_bias": DotProductBias, "nn": CollabNN}[kind](n_users, n_items, **kwargs)


class CollabPrepare(Prepare):
    """Raw user ids and item names into the model's indices, for `Learner.predict` and exports."""

    def __init__(self, users: Sequence, items: Sequence):
        self.users, self.items = list(users), list(items)
        self.user_index, self.item_index = ({v: i for i, v in enumerate(vs)} for vs in (self.users, self.items))

    def encode(self, user: object, item: object) -> tuple[Tensor]:
        """ONE (user, item) pair as ``x`` of shape [1, 2]."""
        for value, index, what in ((user, self.user_index, "user"), (item, self.item_index, "item")):
            if value not in index:
                raise KeyError(f"{what} {value!r} was not in the ratings the model was trained on.")
        return (torch.tensor([[self.user_index[user], self.item_index[item]]]),)

    def config(self) -> dict:
        return {"kind": "collab", "users": self.users, "items": self.items}

    @classmethod
    def from_config(cls, config: dict) -> "CollabPrepare":
        return cls(config["users"], config["items"])


def collab_datasets(ratings: pd.DataFrame, user_col: str = "user", item_col: str = "item",
                    rating_col: str = "rating", valid_pct: float = 0.2,
                    seed: int = 42) -> tuple[PreparedDataset, PreparedDataset]:
    """Index the ratings and split the rows at random (seeded): ``(train_ds, valid_ds)``. The indices cover
    every user and item, so one seen only in validation keeps an untrained embedding (the cold-start problem)."""
    if not 0.0 < valid_pct < 1.0:
        raise ValueError(f"valid_pct must be between 0 and 1 (exclusive), got {valid_pct}.")
    (user_codes, users), (item_codes, items) = (pd.factorize(ratings[c], sort=True) for c in (user_col, item_col))
    x = torch.as_tensor(np.stack([user_codes, item_codes], axis=1), dtype=torch.long)
    y = torch.as_tensor(ratings[rating_col].to_numpy(), dtype=torch.float32)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_valid = int(round(len(x) * valid_pct))
    prepare = CollabPrepare(users.tolist(), items.tolist())
    return tuple(PreparedDataset(prepare, x[rows], y[rows]) for rows in (order[n_valid:], order[:n_valid]))


def collab_dataloaders(train_ds: PreparedDataset, valid_ds: PreparedDataset, bs: int = 64, seed: int = 0,
                       device: torch.device | None = None) -> DataLoaders:
    """DataLoaders by the one rule (a fresh one with the same ``seed`` repeats the same batches)."""
    return DataLoaders.from_datasets(train_ds, valid_ds, bs, seed=seed, device=device,
                                     prepare=train_ds.prepare)


def collab_learner(dls: DataLoaders, n_factors: int = 50, y_range: tuple[float, float] | None = (0.0, 5.5),
                   use_nn: bool = False, n_hidden: int = 100, metrics: Sequence = (),
                   config: TrainConfig | None = None) -> Learner:
    """A Learner (MSE loss, raw outputs) with `DotProductBias`, or with ``use_nn`` a `CollabNN` whose
    embedding widths follow `emb_sz_rule` (``n_factors`` is the dot product's)."""
    n_users, n_items = len(dls.prepare.users), len(dls.prepare.items)
    sizes = (dict(user_factors=emb_sz_rule(n_users), item_factors=emb_sz_rule(n_items), n_hidden=n_hidden)
             if use_nn else dict(n_factors=n_factors))
    args = dict(kind="nn" if use_nn else "dot_bias", n_users=n_users, n_items=n_items, y_range=y_range, **sizes)
    learn = Learner(collab_model(**args), dls, nn.MSELoss(), metrics=metrics, activation=None, config=config)
    learn.model_spec = {"builder": "collab", "args": args}
    return learn
