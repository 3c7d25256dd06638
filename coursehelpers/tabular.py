"""Tabular data: checked joins, date parts, durations, train-only preprocessing and the embedding model.

The pieces in the order a lesson uses them:

    join_df            merge two tables; report unmatched rows; refuse row loss or duplication
    add_datepart       a date column -> Year, Month, Week, Day, Dayofweek, ..., Elapsed
    add_durations      per store: days since / until an event, events in the last / next days
    cont_cat_split     suggest which columns are continuous and which categorical
    TabularProcessor   categorify, fill missing values, normalise -- fitted on the training rows only
    emb_sz_rule        embedding width for a categorical column
    TabularModel       embeddings + batch-normed continuous inputs -> Linear/ReLU/BN/Dropout blocks
    TabularDataset, tabular_dataloaders   batches (x_cat, x_cont, y) for the Learner

Example:
    >>> proc = TabularProcessor(["Store"], ["Temp"]).fit(train_df)       # doctest: +SKIP
    >>> train_ds = proc.to_dataset(train_df, y=np.log(train_df.Sales))     # doctest: +SKIP
    >>> model = TabularModel(proc.emb_szs(), n_cont=1, out_sz=1, layers=[200, 100])  # doctest: +SKIP
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from coursehelpers.core import default_device
from coursehelpers.learner import DataLoaders

UNKNOWN, MISSING = 0, 1  # the first two codes of every categorical vocabulary
UNKNOWN_TOKEN, MISSING_TOKEN = "#unknown#", "#na#"


# ----------------------------------------------------------------------------- joins

def _as_list(cols: str | Sequence[str]) -> list[str]:
    return [cols] if isinstance(cols, str) else list(cols)


def _example_keys(frame: pd.DataFrame, cols: list[str], n: int = 3) -> list:
    keys = [tuple(_readable(v) for v in k) for k in frame[cols].drop_duplicates().head(n).itertuples(index=False)]
    return [k[0] for k in keys] if len(cols) == 1 else keys


def _readable(value):
    """Dates at midnight print as "2015-07-31" rather than Timestamp('2015-07-31 00:00:00')."""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.strftime("%Y-%m-%d")
    return value


def join_df(left: pd.DataFrame, right: pd.DataFrame, left_on: str | Sequence[str],
            right_on: str | Sequence[str] | None = None, suffix: str = "_y", how: str = "left",
            verbose: bool = True) -> pd.DataFrame:
    """Merge ``right`` into ``left`` keeping every left row exactly once, and say how well it matched.

    Raises ValueError (with counts and example keys) when the right table has
    duplicate keys (the join would duplicate left rows), or when ``how="inner"``
    would drop unmatched left rows. With ``how="left"`` unmatched rows are kept
    with missing values and reported. Clashing column names get ``suffix``.

    Example:
        >>> left = pd.DataFrame({"Store": [1, 2, 3]})
        >>> right = pd.DataFrame({"Store": [1, 2], "Type": ["a", "b"]})
        >>> join_df(left, right, "Store").Type.tolist()
        join_df: 3 rows; 2 matched, 1 unmatched on ['Store'] (33.3%), e.g. [3]
        ['a', 'b', nan]
    """
    left_on = _as_list(left_on)
    right_on = left_on if right_on is None else _as_list(right_on)
    if how not in ("left", "inner"):
        raise ValueError(f"how={how!r}: join_df does 'left' joins (keep every row) or 'inner' joins "
                         "that must not lose rows.")
    for name, frame, cols in (("left", left, left_on), ("right", right, right_on)):
        absent = [c for c in cols if c not in frame.columns]
        if absent:
            raise KeyError(f"join_df: the {name} table has no column(s) {absent}; "
                           f"its columns are {list(frame.columns)}.")
    dup = right.duplicated(right_on, keep=False)
    if dup.any():
        raise ValueError(
            f"join_df: {int(dup.sum())} rows of the right table share a key {right_on} with another "
            f"row ({right.loc[dup, right_on].drop_duplicates().shape[0]} keys), e.g. "
            f"{_example_keys(right[dup], right_on)}; each matching left row would be duplicated. "
            "Drop or aggregate the duplicates first, or join on more columns.")
    flag = "__join_df_match__"
    merged = left.merge(right, how="left", left_on=left_on, right_on=right_on,
                        suffixes=("", suffix), indicator=flag)
    unmatched = (merged[flag] == "left_only").to_numpy()
    merged = merged.drop(columns=flag)
    n, n_bad = len(merged), int(unmatched.sum())
    report = (f"join_df: {n:,} rows; {n - n_bad:,} matched, {n_bad:,} unmatched on {left_on}"
              + (f" ({n_bad / max(n, 1):.1%}), e.g. {_example_keys(left[unmatched], left_on)}" if n_bad else ""))
    if how == "inner" and n_bad:
        raise ValueError(report + ". An inner join would silently drop these rows: fix the keys, "
                         "filter the left table first, or use how='left' to keep them with missing values.")
    if verbose:
        print(report)
    return merged


# ----------------------------------------------------------------------------- dates

DATE_PARTS = ("Year", "Month", "Week", "Day", "Dayofweek", "Dayofyear", "Is_month_end", "Is_month_start",
              "Is_quarter_end", "Is_quarter_start", "Is_year_end", "Is_year_start", "Elapsed")


def add_datepart(df: pd.DataFrame, col: str, drop: bool = True, prefix: str | None = None) -> pd.DataFrame:
    """Return a copy of ``df`` with the parts of date column ``col`` as new columns.

    Names are ``prefix + part`` (prefix defaults to ``col`` without a trailing
    "Date"). Week is the ISO week, Dayofweek is 0 for Monday, Elapsed is days since
    1970-01-01. A model cannot read "2015-07-31", but it can learn that Mondays,
    Decembers or month ends differ.

    Example:
        >>> out = add_datepart(pd.DataFrame({"Date": ["2015-12-31"]}), "Date")
        >>> [int(v) for v in out.loc[0, ["Year", "Week", "Dayofweek", "Is_year_end", "Elapsed"]]]
        [2015, 53, 3, 1, 16800]
    """
    out = df.copy()
    dates = pd.to_datetime(out[col])
    prefix = re.sub("[Dd]ate$", "", col) if prefix is None else prefix
    week = dates.dt.isocalendar().week
    parts = {
        "Year": dates.dt.year, "Month": dates.dt.month,
        "Week": week.astype("int64") if week.notna().all() else week.astype("float64"),
        "Day": dates.dt.day, "Dayofweek": dates.dt.dayofweek, "Dayofyear": dates.dt.dayofyear,
        "Is_month_end": dates.dt.is_month_end, "Is_month_start": dates.dt.is_month_start,
        "Is_quarter_end": dates.dt.is_quarter_end, "Is_quarter_start": dates.dt.is_quarter_start,
        "Is_year_end": dates.dt.is_year_end, "Is_year_start": dates.dt.is_year_start,
        "Elapsed": (dates - pd.Timestamp("1970-01-01")).dt.days,
    }
    for name in DATE_PARTS:
        out[prefix + name] = parts[name]
    return out.drop(columns=col) if drop else out


def add_durations(df: pd.DataFrame, fields: Sequence[str], date_col: str = "Date",
                  group_col: str = "Store", window: int = 7) -> pd.DataFrame:
    """Return a copy of ``df`` with, per group (store) and for each 0/1 column ``f`` in ``fields``:

    - ``After<f>``: days since the last day ``f`` was 1 (0 on the day itself; NaN before the first),
    - ``Before<f>``: days until the next day ``f`` is 1 (0 on the day; NaN after the last),
    - ``<f>_last<window>`` / ``<f>_next<window>``: days with ``f`` = 1 among the ``window``
      days ending / starting on this day (the day itself included).

    Rows may be in any order and dates may have gaps; each (group, date) must occur once.
    Shoppers stock up before a holiday and a promotion ending soon changes behaviour:
    these columns let a model see that.

    Example:
        >>> days = pd.DataFrame({"Store": 1, "Date": pd.date_range("2015-12-23", periods=5),
        ...                      "Hol": [0, 0, 1, 1, 0]})
        >>> out = add_durations(days, ["Hol"], window=2)
        >>> out[["AfterHol", "BeforeHol", "Hol_last2", "Hol_next2"]].values.tolist()
        [[nan, 2.0, 0.0, 0.0], [nan, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 2.0, 1.0], [1.0, nan, 1.0, 0.0]]
    """
    out = df.copy()
    days = (pd.to_datetime(out[date_col]) - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    if np.isnan(days.astype(float)).any():
        raise ValueError(f"add_durations: column {date_col!r} has missing dates.")
    group = pd.factorize(out[group_col])[0].astype(np.int64)
    # One integer key per (group, day); groups are spaced far enough apart that no window crosses them.
    span = int(days.max() - days.min()) + 2 * window + 2
    key = group * span + (days - days.min())
    if pd.Series(key).duplicated().any():
        raise ValueError(f"add_durations: some ({group_col}, {date_col}) pairs occur more than once; "
                         "durations need one row per group and day (drop duplicates first).")
    for f in fields:
        col = out[f]
        if col.isna().any() or not (pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col)):
            raise TypeError(f"add_durations: column {f!r} must hold 0/1 or booleans without missing values "
                            f"(got dtype {col.dtype}); convert it first, e.g. df[{f!r}] = df[{f!r}] != '0'.")
        events = np.sort(key[col.to_numpy().astype(bool)])
        out[f"After{f}"] = _gap_to_event(key, events, span, before=False)
        out[f"Before{f}"] = _gap_to_event(key, events, span, before=True)
        out[f"{f}_last{window}"] = (np.searchsorted(events, key, "right")
                                    - np.searchsorted(events, key - (window - 1), "left"))
        out[f"{f}_next{window}"] = (np.searchsorted(events, key + (window - 1), "right")
                                    - np.searchsorted(events, key, "left"))
    return out


def _gap_to_event(key: np.ndarray, events: np.ndarray, span: int, before: bool) -> np.ndarray:
    """Days to the nearest event key at or after (before=True) / at or before each key, in the same group."""
    if len(events) == 0:
        return np.full(len(key), np.nan)
    if before:
        i = np.searchsorted(events, key, "left")
        found = events[np.minimum(i, len(events) - 1)]
        ok = (i < len(events)) & (found // span == key // span)
        return np.where(ok, found - key, np.nan)
    i = np.searchsorted(events, key, "right") - 1
    found = events[np.maximum(i, 0)]
    ok = (i >= 0) & (found // span == key // span)
    return np.where(ok, key - found, np.nan)


# ----------------------------------------------------------------------------- preprocessing

def cont_cat_split(df: pd.DataFrame, max_card: int = 20, dep_var: str | None = None) -> tuple[list[str], list[str]]:
    """Suggest (continuous, categorical) column names: floats, and integers with more than
    ``max_card`` distinct values, are continuous; the rest (strings, booleans, small integers)
    categorical. Date columns and ``dep_var`` are left out. A suggestion: check it by eye.

    Example:
        >>> cont_cat_split(pd.DataFrame({"t": [1.5, 2.0], "shop": ["a", "b"], "dow": [1, 2]}))
        (['t'], ['shop', 'dow'])
    """
    cont, cat = [], []
    for name in df.columns:
        col = df[name]
        if name == dep_var or pd.api.types.is_datetime64_any_dtype(col):
            continue
        if pd.api.types.is_float_dtype(col) or (
                pd.api.types.is_integer_dtype(col) and not pd.api.types.is_bool_dtype(col)
                and col.nunique() > max_card):
            cont.append(name)
        else:
            cat.append(name)
    return cont, cat


def _sorted_values(values: Sequence) -> list:
    try:
        return sorted(values)
    except TypeError:  # mixed types: order by their text
        return sorted(values, key=str)


class TabularProcessor:
    """Turn a DataFrame into model inputs, with statistics learned from the training rows only.

    - categorical columns -> integer codes: 0 for a value never seen in training
      ("#unknown#"), 1 for a missing value ("#na#"), then one code per training value;
    - continuous columns with missing values in training -> filled with the training
      median, plus a categorical flag column ``<col>_na``;
    - continuous columns -> (x - training mean) / training std.

    Fit once on the training rows, then transform train, validation and test
    unchanged, so nothing about the validation or test rows leaks into the inputs.

    Example:
        >>> train = pd.DataFrame({"shop": ["a", "b"], "t": [1.0, np.nan]})
        >>> proc = TabularProcessor(["shop"], ["t"]).fit(train)
        >>> proc.transform(pd.DataFrame({"shop": ["b", "z"], "t": [3.0, np.nan]})).values.tolist()
        [[3.0, 2.0, 2.0], [0.0, 3.0, 0.0]]
    """

    def __init__(self, cat_names: Sequence[str], cont_names: Sequence[str]):
        self.cat_names, self.cont_names = list(cat_names), list(cont_names)
        self.vocab: dict[str, list] = {}
        self.medians: dict[str, float] = {}
        self.means: dict[str, float] = {}
        self.stds: dict[str, float] = {}
        self.na_names: list[str] = []

    @property
    def cat_names_out(self) -> list[str]:
        """The categorical columns of the output: the given ones, then the ``<col>_na`` flags."""
        return self.cat_names + [f"{c}_na" for c in self.na_names]

    def fit(self, df: pd.DataFrame) -> "TabularProcessor":
        """Learn vocabularies, medians, means and standard deviations from ``df`` (the training rows)."""
        absent = [c for c in self.cat_names + self.cont_names if c not in df.columns]
        if absent:
            raise KeyError(f"TabularProcessor.fit: columns {absent} are not in the DataFrame.")
        for c in self.cat_names:
            self.vocab[c] = [UNKNOWN_TOKEN, MISSING_TOKEN, *_sorted_values(df[c].dropna().unique().tolist())]
        self.na_names = [c for c in self.cont_names if df[c].isna().any()]
        for c in self.na_names:
            self.vocab[f"{c}_na"] = [UNKNOWN_TOKEN, MISSING_TOKEN, False, True]
        for c in self.cont_names:
            median = df[c].median()
            if pd.isna(median):
                raise ValueError(f"TabularProcessor.fit: continuous column {c!r} has no values in training.")
            filled = df[c].fillna(median).astype("float64")
            std = float(filled.std(ddof=0))
            self.medians[c], self.means[c] = float(median), float(filled.mean())
            self.stds[c] = std if std > 0 else 1.0  # a constant column stays constant (0) instead of NaN
        self._codes = {c: {v: i for i, v in enumerate(vocab)} for c, vocab in self.vocab.items()}
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Codes for ``cat_names_out`` (int64) then normalised ``cont_names`` (float32), same index as ``df``."""
        if not hasattr(self, "_codes"):
            raise RuntimeError("TabularProcessor: call fit(train_df) before transform.")
        out = {}
        for c in self.cat_names:
            col = df[c].astype(object)
            codes = col.map(self._codes[c]).fillna(UNKNOWN)
            out[c] = np.where(col.isna(), MISSING, codes).astype(np.int64)
        for c in self.na_names:
            out[f"{c}_na"] = np.where(df[c].isna(), self._codes[f"{c}_na"][True],
                                      self._codes[f"{c}_na"][False]).astype(np.int64)
        for c in self.cont_names:
            filled = df[c].astype("float64").fillna(self.medians[c])
            out[c] = ((filled - self.means[c]) / self.stds[c]).astype(np.float32).to_numpy()
        return pd.DataFrame(out, index=df.index)

    def decode(self, col: str, codes: Sequence[int]) -> list:
        """The values behind codes of a categorical column (for reading embeddings)."""
        return [self.vocab[col][int(i)] for i in codes]

    def cardinalities(self) -> list[int]:
        """Vocabulary size of each column of ``cat_names_out`` (the rows of its embedding)."""
        return [len(self.vocab[c]) for c in self.cat_names_out]

    def emb_szs(self, rule: Callable[[int], int] | None = None) -> list[tuple[int, int]]:
        """(vocabulary size, embedding width) per categorical column; ``rule`` defaults to emb_sz_rule."""
        rule = emb_sz_rule if rule is None else rule
        return [(n, rule(n)) for n in self.cardinalities()]

    def to_dataset(self, df: pd.DataFrame, y: Sequence[float] | np.ndarray | None = None) -> "TabularDataset":
        """Transform ``df`` and wrap it (with targets ``y``, if given) as a TabularDataset."""
        frame = self.transform(df)
        x_cat = torch.as_tensor(frame[self.cat_names_out].to_numpy(np.int64).reshape(len(frame), -1))
        x_cont = torch.as_tensor(frame[self.cont_names].to_numpy(np.float32).reshape(len(frame), -1))
        if y is None:
            return TabularDataset(x_cat, x_cont)
        y = torch.as_tensor(np.asarray(y, dtype=np.float32))
        return TabularDataset(x_cat, x_cont, y.reshape(len(frame), -1))


# ----------------------------------------------------------------------------- model

def emb_sz_rule(n_cat: int) -> int:
    """Embedding width for a column with ``n_cat`` codes: min(600, round(1.6 * n_cat**0.56)).

    An empirical rule reported by the fast.ai course (REFERENCE.md): width grows
    slower than the number of categories.

    Example:
        >>> emb_sz_rule(9), emb_sz_rule(1000)
        (5, 77)
    """
    return min(600, round(1.6 * n_cat**0.56))


class TabularModel(nn.Module):
    """Embeddings for categorical columns, batch-normed continuous columns, then an MLP.

    Each hidden block is Linear -> ReLU -> BatchNorm1d -> Dropout. With ``y_range=(lo, hi)``
    the output is squeezed into that interval by a sigmoid, so predictions can
    never be absurd (for log sales: never negative, never far above the record).

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
        for emb in self.embeds:
            # Small initial vectors: at the start every category looks alike, so the first
            # layer sees embeddings on the same scale as the normalised continuous inputs.
            nn.init.trunc_normal_(emb.weight, std=0.01, a=-0.02, b=0.02)
        self.emb_drop = nn.Dropout(emb_drop)
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont > 0 else None
        self.n_cont, self.y_range = n_cont, y_range
        sizes = [sum(d for _, d in emb_szs) + n_cont, *layers]
        blocks: list[nn.Module] = []
        for n_in, n_out, p in zip(sizes[:-1], sizes[1:], ps):
            blocks += [nn.Linear(n_in, n_out), nn.ReLU(inplace=True), nn.BatchNorm1d(n_out)]
            if p > 0:
                blocks.append(nn.Dropout(p))
        self.layers = nn.Sequential(*blocks)
        self.head = nn.Linear(sizes[-1], out_sz)

    def forward(self, x_cat: Tensor, x_cont: Tensor) -> Tensor:
        if x_cat.shape[1] != len(self.embeds) or x_cont.shape[1] != self.n_cont:
            raise ValueError(f"TabularModel expects {len(self.embeds)} categorical and {self.n_cont} continuous "
                             f"columns, got {x_cat.shape[1]} and {x_cont.shape[1]}.")
        parts = []
        if len(self.embeds):
            parts.append(self.emb_drop(torch.cat([emb(x_cat[:, i]) for i, emb in enumerate(self.embeds)], 1)))
        if self.bn_cont is not None:
            parts.append(self.bn_cont(x_cont))
        out = self.head(self.layers(torch.cat(parts, 1)))
        if self.y_range is not None:
            lo, hi = self.y_range
            out = lo + (hi - lo) * torch.sigmoid(out)
        return out


# ----------------------------------------------------------------------------- batches

class TabularDataset(Dataset):
    """Rows as ``(x_cat, x_cont, y)`` (or ``(x_cat, x_cont)`` without targets).

    Indexing with a list of row numbers returns a whole batch at once, which is
    what `tabular_loader` does: much faster than collating rows one by one.

    Example:
        >>> ds = TabularDataset(torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, 3), torch.zeros(4, 1))
        >>> [t.shape for t in ds[[0, 1]]]
        [torch.Size([2, 2]), torch.Size([2, 3]), torch.Size([2, 1])]
    """

    def __init__(self, x_cat: Tensor, x_cont: Tensor, y: Tensor | None = None):
        if len(x_cat) != len(x_cont) or (y is not None and len(y) != len(x_cat)):
            raise ValueError("TabularDataset: x_cat, x_cont and y must have the same number of rows.")
        self.x_cat, self.x_cont, self.y = x_cat, x_cont, y

    def __len__(self) -> int:
        return len(self.x_cat)

    def __getitem__(self, idx) -> tuple[Tensor, ...]:
        items = (self.x_cat[idx], self.x_cont[idx])
        return items if self.y is None else (*items, self.y[idx])


def tabular_loader(ds: TabularDataset, batch_size: int = 512, shuffle: bool = False,
                   generator: torch.Generator | None = None, drop_last: bool = False,
                   pin_memory: bool = False) -> DataLoader:
    """A DataLoader that fetches whole batches by index lists (see TabularDataset).

    Example:
        >>> ds = TabularDataset(torch.zeros(5, 1, dtype=torch.long), torch.zeros(5, 1))
        >>> [len(b[0]) for b in tabular_loader(ds, batch_size=2)]
        [2, 2, 1]
    """
    sampler = RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
    return DataLoader(ds, sampler=BatchSampler(sampler, batch_size, drop_last), batch_size=None,
                      pin_memory=pin_memory)


def tabular_dataloaders(train_ds: TabularDataset, valid_ds: TabularDataset, batch_size: int = 512,
                        device: torch.device | None = None,
                        generator: torch.Generator | None = None) -> DataLoaders:
    """DataLoaders for a Learner: shuffled training batches (the last partial one dropped,
    since BatchNorm cannot train on a batch of one row), validation in order at twice
    the batch size; ``n_inputs=2`` so the model is called as ``model(x_cat, x_cont)``."""
    device = default_device() if device is None else device
    pin = device.type == "cuda"
    train = tabular_loader(train_ds, batch_size, shuffle=True, generator=generator, drop_last=True, pin_memory=pin)
    valid = tabular_loader(valid_ds, batch_size * 2, shuffle=False, pin_memory=pin)
    return DataLoaders(train, valid, device=device, n_inputs=2)
