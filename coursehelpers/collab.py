"""Collaborative filtering: ratings tables to index tensors and DataLoaders, and the lesson-6 models.

A batch holds ONE input, ``x``: a LongTensor of shape ``[B, 2]`` whose column 0 is the
user's index and column 1 the item's index, and a float target of shape ``[B]`` (the
rating). So ``model(x)`` gives ``[B]`` predictions and ``nn.MSELoss()`` compares them with
the ratings directly (``DataLoaders(..., n_inputs=1)``).

Indices come from sorted lists of the distinct users and items (``users[k]`` is the user
behind index k), so the same table always gives the same indices.

Example:
    >>> import pandas as pd
    >>> ratings = pd.DataFrame({"user": [1, 1, 2], "item": ["a", "b", "a"], "rating": [5., 3., 4.]})
    >>> x, users, items = index_ratings(ratings)
    >>> x.tolist(), users, items
    ([[0, 0], [0, 1], [1, 0]], [1, 2], ['a', 'b'])
    >>> model = DotProductBias(len(users), len(items), n_factors=4, y_range=(0.0, 5.5))
    >>> model(x).shape
    torch.Size([3])
"""
from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from coursehelpers.learner import DataLoaders


def sigmoid_range(x: Tensor, lo: float, hi: float) -> Tensor:
    """Squash ``x`` into the open interval (lo, hi) with a sigmoid.

    Example:
        >>> sigmoid_range(torch.tensor([-100., 0., 100.]), 0.0, 5.5)
        tensor([0.0000, 2.7500, 5.5000])
    """
    return torch.sigmoid(x) * (hi - lo) + lo


def embedding(n: int, dim: int, std: float = 0.01) -> nn.Embedding:
    """An ``n x dim`` embedding table started at small random values.

    Small, so the first predictions are near the middle of the range and the
    sigmoid is not saturated; random, so the factors of different rows can differ.
    """
    table = nn.Embedding(n, dim)
    nn.init.normal_(table.weight, mean=0.0, std=std)
    return table


def _to_range(x: Tensor, y_range: tuple[float, float] | None) -> Tensor:
    return x if y_range is None else sigmoid_range(x, *y_range)


class DotProduct(nn.Module):
    """Predict a rating as the dot product of a user's and an item's latent factors.

    Example:
        >>> DotProduct(3, 4, n_factors=5)(torch.tensor([[0, 1], [2, 3]])).shape
        torch.Size([2])
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50,
                 y_range: tuple[float, float] | None = None):
        super().__init__()
        self.user_factors = embedding(n_users, n_factors)
        self.item_factors = embedding(n_items, n_factors)
        self.y_range = y_range

    def forward(self, x: Tensor) -> Tensor:
        users, items = self.user_factors(x[:, 0]), self.item_factors(x[:, 1])
        return _to_range((users * items).sum(dim=1), self.y_range)


class DotProductBias(nn.Module):
    """The dot product of latent factors plus one learned bias per user and per item.

    The biases carry what does not depend on taste: a generous user, a film everyone likes.

    Example:
        >>> DotProductBias(3, 4, n_factors=5, y_range=(0.0, 5.5))(torch.tensor([[0, 1]])).shape
        torch.Size([1])
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int = 50,
                 y_range: tuple[float, float] | None = None):
        super().__init__()
        self.user_factors = embedding(n_users, n_factors)
        self.item_factors = embedding(n_items, n_factors)
        # zero biases: a fresh model predicts the middle of y_range for everyone
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.y_range = y_range

    def forward(self, x: Tensor) -> Tensor:
        users, items = self.user_factors(x[:, 0]), self.item_factors(x[:, 1])
        score = (users * items).sum(dim=1) + self.user_bias(x[:, 0])[:, 0] + self.item_bias(x[:, 1])[:, 0]
        return _to_range(score, self.y_range)


class CollabNN(nn.Module):
    """Concatenate a user's and an item's embeddings and let a small MLP predict the rating.

    Unlike the dot product, the two embeddings may have different sizes, and the
    network can learn interactions other than a sum of products.

    Example:
        >>> CollabNN(3, 4, user_factors=5, item_factors=6)(torch.tensor([[0, 1], [2, 3]])).shape
        torch.Size([2])
    """

    def __init__(self, n_users: int, n_items: int, user_factors: int = 50, item_factors: int = 50,
                 n_hidden: int = 100, dropout: float = 0.0, y_range: tuple[float, float] | None = None):
        super().__init__()
        self.user_factors = embedding(n_users, user_factors)
        self.item_factors = embedding(n_items, item_factors)
        self.layers = nn.Sequential(
            nn.Linear(user_factors + item_factors, n_hidden), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(n_hidden, 1))
        self.y_range = y_range

    def forward(self, x: Tensor) -> Tensor:
        both = torch.cat([self.user_factors(x[:, 0]), self.item_factors(x[:, 1])], dim=1)
        return _to_range(self.layers(both)[:, 0], self.y_range)


def index_ratings(ratings: pd.DataFrame, user_col: str = "user",
                  item_col: str = "item") -> tuple[Tensor, list, list]:
    """Map users and items to indices 0..n-1; return ``(x [N, 2] long, users, items)``.

    ``users`` and ``items`` are the sorted distinct values: ``users[x[k, 0]]`` is row k's user.
    """
    for col in (user_col, item_col):
        if col not in ratings.columns:
            raise KeyError(f"Column {col!r} is not in the ratings table (columns: {list(ratings.columns)}). "
                           "Pass user_col=/item_col= naming the user and item columns.")
    user_codes, users = pd.factorize(ratings[user_col], sort=True)
    item_codes, items = pd.factorize(ratings[item_col], sort=True)
    x = torch.stack([torch.as_tensor(user_codes), torch.as_tensor(item_codes)], dim=1).long()
    return x, users.tolist(), items.tolist()


def collab_datasets(ratings: pd.DataFrame, user_col: str = "user", item_col: str = "item",
                    rating_col: str = "rating", valid_pct: float = 0.2,
                    seed: int = 42) -> tuple[TensorDataset, TensorDataset, list, list]:
    """Index the ratings and split the rows at random; return ``(train, valid, users, items)``.

    The indices cover every user and item in the table, so a user seen only in the
    validation rows keeps an untrained (random) embedding: the cold-start problem.

    Example:
        >>> ratings = pd.DataFrame({"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 3, 2], "rating": [5, 3, 4, 2, 1]})
        >>> train, valid, users, items = collab_datasets(ratings, valid_pct=0.4)
        >>> len(train), len(valid), users
        (3, 2, [1, 2, 3])
    """
    if not 0.0 < valid_pct < 1.0:
        raise ValueError(f"valid_pct must be between 0 and 1 (exclusive), got {valid_pct}.")
    if rating_col not in ratings.columns:
        raise KeyError(f"Column {rating_col!r} is not in the ratings table (columns: {list(ratings.columns)}). "
                       "Pass rating_col= naming the ratings column.")
    x, users, items = index_ratings(ratings, user_col, item_col)
    y = torch.as_tensor(ratings[rating_col].to_numpy(), dtype=torch.float32)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_valid = int(round(len(x) * valid_pct))
    valid_rows, train_rows = order[:n_valid], order[n_valid:]
    return (TensorDataset(x[train_rows], y[train_rows]), TensorDataset(x[valid_rows], y[valid_rows]),
            users, items)


def batch_loader(dataset: TensorDataset, batch_size: int = 64, shuffle: bool = False,
                 generator: torch.Generator | None = None) -> DataLoader:
    """A DataLoader that slices whole batches out of the tensors at once.

    A default DataLoader fetches rows one by one and stacks them, which costs more
    than the tiny models of this lesson; indexing a TensorDataset with a list of
    row numbers returns the whole batch in one step. Shuffling draws from
    ``generator``, or from torch's global generator (seeded by ``set_seed``) if None.

    Example:
        >>> ds = TensorDataset(torch.zeros(10, 2, dtype=torch.long), torch.zeros(10))
        >>> [len(y) for x, y in batch_loader(ds, batch_size=4)]
        [4, 4, 2]
    """
    rows = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    # batch_size=None: the sampler already yields lists of rows, the dataset returns a batch
    return DataLoader(dataset, sampler=BatchSampler(rows, batch_size, drop_last=False), batch_size=None)


def collab_dataloaders(ratings: pd.DataFrame, user_col: str = "user", item_col: str = "item",
                       rating_col: str = "rating", valid_pct: float = 0.2, batch_size: int = 64,
                       seed: int = 42, device: torch.device | None = None) -> tuple[DataLoaders, list, list]:
    """Ratings table -> ``(DataLoaders, users, items)`` for ``Learner`` (one input ``x [B, 2]``).

    ``seed`` fixes the train/valid split; the training batches are shuffled from torch's
    global generator, so ``set_seed`` before each training repeats the same batches.

    Example:
        >>> dls, users, items = collab_dataloaders(ratings, item_col="title")   # doctest: +SKIP
        >>> x, y = dls.one_batch()                                              # doctest: +SKIP
    """
    train, valid, users, items = collab_datasets(ratings, user_col, item_col, rating_col, valid_pct, seed)
    dls = DataLoaders(batch_loader(train, batch_size, shuffle=True),
                      batch_loader(valid, batch_size * 2, shuffle=False),
                      device=device, n_inputs=1)
    return dls, users, items
