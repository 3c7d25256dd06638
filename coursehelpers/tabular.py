"""Tabular regression: a table into datasets with a processor fitted on the training rows, then the embedding model.

Example:
    >>> train = pd.DataFrame({"shop": list("ab") * 64, "t": np.arange(128.0)})
    >>> proc = TabularProcessor(["shop"], ["t"]).fit(train)
    >>> ds = proc.to_dataset(train, y=np.log1p(train.t))
    >>> learn = tabular_learner(tabular_dataloaders(ds, ds, bs=32), [8], config=TrainConfig(log=False))
    >>> learn.fit_one_cycle(1, 1e-2)
    >>> learn.predict({"shop": "a", "t": 3.0})[1].shape
    torch.Size([1])
"""
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from coursehelpers.config import TrainConfig
from coursehelpers.dataloaders import DataLoaders, Prepare, PreparedDataset
from coursehelpers.learner import Learner

NA = 0  # the first code of every categorical vocabulary, "#na#": a missing value, or one never seen in training


def emb_sz_rule(n_cat: int) -> int:
    """Embedding width for ``n_cat`` codes, min(600, round(1.6 * n_cat**0.56)): fast.ai's empirical rule.

    Example:
        >>> emb_sz_rule(9), emb_sz_rule(1000)
        (5, 77)
    """
    return min(600, round(1.6 * n_cat**0.56))


class TabularProcessor(Prepare):
    """Tables into model inputs, every statistic learned from the training rows; also the task's `Prepare`.
    As fastai's Categorify, FillMissing and Normalize: categories become codes of a sorted vocabulary
    (a pandas Categorical keeps its own order) after code 0, ``#na#``, shared by missing values and values
    never seen in training; a continuous column missing values in training is filled with its median and
    flagged in the category ``<col>_na``; then every continuous column becomes (x - mean) / std.

    Example:
        >>> proc = TabularProcessor(["shop"], ["t"]).fit(pd.DataFrame({"shop": ["a", "b"], "t": [1.0, np.nan]}))
        >>> proc.transform(pd.DataFrame({"shop": ["b", "z"], "t": [3.0, np.nan]})).values.tolist()
        [[2.0, 1.0, 2.0], [0.0, 2.0, 0.0]]
    """

    def __init__(self, cat_names: Sequence[str], cont_names: Sequence[str]):
        self.cat_names, self.cont_names = list(cat_names), list(cont_names)
        self.vocab, self.na_names, self.medians, self.means, self.stds = {}, [], {}, {}, {}

    @property
    def cat_names_out(self) -> list[str]:
        """The categorical columns of the output: the given ones, then the ``<col>_na`` flags."""
        return self.cat_names + [f"{c}_na" for c in self.na_names]

    def fit(self, df: pd.DataFrame) -> "TabularProcessor":
        """Learn vocabularies, medians, means and standard deviations from ``df`` (the training rows)."""
        for c in self.cat_names:
            if isinstance(df[c].dtype, pd.CategoricalDtype):  # its declared order (small < medium < large)
                values = df[c].cat.categories.tolist()
            else:
                values = sorted(df[c].dropna().unique().tolist(), key=lambda v: (isinstance(v, str), v))  # text last
            self.vocab[c] = ["#na#", *values]
        self.na_names = [c for c in self.cont_names if df[c].isna().any()]
        self.vocab.update({f"{c}_na": ["#na#", False, True] for c in self.na_names})
        for c in self.cont_names:
            median = df[c].median()
            if pd.isna(median):
                raise ValueError(f"TabularProcessor.fit: continuous column {c!r} has no values in training.")
            filled = df[c].fillna(median).astype("float64")
            self.medians[c], self.means[c], std = float(median), float(filled.mean()), float(filled.std(ddof=0))
            self.stds[c] = std if std > 0 else 1.0  # a constant column stays constant (0) instead of NaN
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Codes for ``cat_names_out`` (int64) then normalised ``cont_names`` (float32), same index as ``df``."""
        if any(c not in self.vocab for c in self.cat_names) or any(c not in self.means for c in self.cont_names):
            raise RuntimeError("TabularProcessor: call fit(train_df) before transform.")
        out = {}
        for c in self.cat_names:
            codes = df[c].astype(object).map({v: i for i, v in enumerate(self.vocab[c]) if i != NA})
            out[c] = codes.fillna(NA).to_numpy(np.int64)
        for c in self.na_names:
            out[f"{c}_na"] = np.where(df[c].isna(), 2, 1).astype(np.int64)  # the codes of True and False
        for c in self.cont_names:
            if c not in self.na_names and (n_missing := int(df[c].isna().sum())):
                warnings.warn(f"TabularProcessor: {n_missing} missing values in continuous column {c!r}, which had "
                              f"none in the training rows: filled with the training median {self.medians[c]:g}, "
                              "with no _na flag (fastai stops here). Fill them yourself if the median is wrong.")
            filled = df[c].astype("float64").fillna(self.medians[c])
            out[c] = ((filled - self.means[c]) / self.stds[c]).astype(np.float32).to_numpy()
        return pd.DataFrame(out, index=df.index)

    def emb_szs(self) -> list[tuple[int, int]]:
        """(vocabulary size, `emb_sz_rule` width) for each column of ``cat_names_out``."""
        return [(len(self.vocab[c]), emb_sz_rule(len(self.vocab[c]))) for c in self.cat_names_out]

    def to_dataset(self, df: pd.DataFrame, y: Sequence[float] | np.ndarray | None = None) -> "PreparedDataset":
        """``df`` transformed into tensors (x_cat, x_cont) and, if given, the targets ``y`` as [N, 1]."""
        frame = self.transform(df)
        tensors = [torch.as_tensor(frame[names].to_numpy(dtype).reshape(len(frame), -1))
                   for names, dtype in ((self.cat_names_out, np.int64), (self.cont_names, np.float32))]
        if y is not None:
            tensors.append(torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(len(frame), -1))
        return PreparedDataset(self, *tensors)

    def encode(self, row: dict | pd.Series) -> tuple[Tensor, Tensor]:
        """ONE row (a dict or Series of raw values) as (x_cat, x_cont), each with a batch dimension of 1."""
        return tuple(self.to_dataset(pd.DataFrame([dict(row)])).tensors)

    def config(self) -> dict:
        return {"kind": "tabular", **vars(self)}  # the column names and everything fitted: plain data

    @classmethod
    def from_config(cls, config: dict) -> "TabularProcessor":
        proc = cls(config["cat_names"], config["cont_names"])
        vars(proc).update({k: v for k, v in config.items() if k != "kind"})
        return proc


def tabular_dataloaders(train_ds: PreparedDataset, valid_ds: PreparedDataset, bs: int = 512, seed: int = 0,
                        device: torch.device | None = None) -> DataLoaders:
    """DataLoaders by the one rule; the model is called as ``model(x_cat, x_cont)`` (``n_inputs=2``)."""
    return DataLoaders.from_datasets(train_ds, valid_ds, bs, seed=seed, device=device, n_inputs=2,
                                     prepare=train_ds.prepare)


class TabularModel(nn.Module):
    """Embeddings of the categorical columns and batch-normed continuous columns, then blocks of Linear -> ReLU
    -> BatchNorm1d -> Dropout. A sigmoid squeezes the output into ``y_range`` (log sales: never negative).

    Example:
        >>> model = TabularModel([(10, 6), (4, 3)], n_cont=2, out_sz=1, layers=[8], y_range=(0.0, 1.0))
        >>> model(torch.zeros(5, 2, dtype=torch.long), torch.zeros(5, 2)).shape
        torch.Size([5, 1])
    """

    def __init__(self, emb_szs: Sequence[tuple[int, int]], n_cont: int, out_sz: int = 1,
                 layers: Sequence[int] = (200, 100), ps: float | Sequence[float] = 0.0,
                 emb_drop: float = 0.0, y_range: tuple[float, float] | None = None):
        super().__init__()
        ps = [ps] * len(layers) if isinstance(ps, (int, float)) else list(ps)
        if len(ps) != len(layers):
            raise ValueError(f"TabularModel: {len(layers)} layers but {len(ps)} dropout values in ps.")
        self.embeds = nn.ModuleList(nn.Embedding(n, d) for n, d in emb_szs)
        for emb in self.embeds:  # small vectors: at first every category looks alike, on the inputs' scale
            nn.init.trunc_normal_(emb.weight, std=0.01, a=-0.02, b=0.02)
        self.emb_drop = nn.Dropout(emb_drop)
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont > 0 else None
        self.n_cont, self.y_range = n_cont, y_range
        sizes = [sum(d for _, d in emb_szs) + n_cont, *layers]
        blocks: list[nn.Module] = []
        for n_in, n_out, p in zip(sizes[:-1], sizes[1:], ps):
            blocks += [nn.Linear(n_in, n_out), nn.ReLU(inplace=True), nn.BatchNorm1d(n_out)]
            blocks += [nn.Dropout(p)] if p > 0 else []
        self.layers = nn.Sequential(*blocks)
        self.head = nn.Linear(sizes[-1], out_sz)

    def forward(self, x_cat: Tensor, x_cont: Tensor) -> Tensor:
        if x_cat.shape[1] != len(self.embeds) or x_cont.shape[1] != self.n_cont:
            raise ValueError(f"TabularModel expects {len(self.embeds)} categorical and {self.n_cont} continuous "
                             f"columns, got {x_cat.shape[1]} and {x_cont.shape[1]}.")
        embedded = [emb(x_cat[:, i]) for i, emb in enumerate(self.embeds)]
        parts = ([self.emb_drop(torch.cat(embedded, 1))] if embedded else []) + ([self.bn_cont(x_cont)] if self.n_cont else [])
        out = self.head(self.layers(torch.cat(parts, 1)))
        return out if self.y_range is None else self.y_range[0] + (self.y_range[1] - self.y_range[0]) * out.sigmoid()


def tabular_learner(dls: DataLoaders, layers: Sequence[int], ps: float | Sequence[float] = 0.0,
                    emb_drop: float = 0.0, y_range: tuple[float, float] | None = None,
                    metrics: Sequence = (), config: TrainConfig | None = None) -> Learner:
    """A regression Learner (MSE loss, raw outputs): embedding sizes from the DataLoaders' processor."""
    proc = dls.prepare
    args = dict(emb_szs=proc.emb_szs(), n_cont=len(proc.cont_names), out_sz=dls.train_ds.tensors[2].shape[1],
                layers=list(layers), ps=ps if isinstance(ps, (int, float)) else list(ps), emb_drop=emb_drop,
                y_range=y_range)
    learn = Learner(TabularModel(**args), dls, nn.MSELoss(), metrics=metrics, activation=None, config=config)
    learn.model_spec = {"builder": "tabular", "args": args}
    return learn
