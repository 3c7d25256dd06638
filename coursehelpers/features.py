"""Feature engineering for tables: checked joins, date parts, durations, and which columns are categories."""
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd


def _example_keys(frame: pd.DataFrame, cols: list[str], n: int = 3) -> list:
    """A few keys of ``frame``, readable (dates at midnight as "2015-07-31", not Timestamp(...))."""
    def readable(v: object) -> object:
        return v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) and v == v.normalize() else v
    keys = [tuple(readable(v) for v in k) for k in frame[cols].drop_duplicates().head(n).itertuples(index=False)]
    return [k[0] for k in keys] if len(cols) == 1 else keys


def _check_join(left: pd.DataFrame, right: pd.DataFrame, left_on: list[str], right_on: list[str], how: str) -> None:
    """Refuse a join that cannot keep every left row exactly once, saying why."""
    if how not in ("left", "inner"):
        raise ValueError(f"how={how!r}: join_df does 'left' joins (keep every row) or 'inner' joins (lose none).")
    for name, frame, cols in (("left", left, left_on), ("right", right, right_on)):
        if absent := [c for c in cols if c not in frame.columns]:
            raise KeyError(f"join_df: the {name} table has no column(s) {absent}; it has {list(frame.columns)}.")
    if (dup := right.duplicated(right_on, keep=False)).any():
        raise ValueError(
            f"join_df: {int(dup.sum())} rows of the right table share a key {right_on} with another row "
            f"({right.loc[dup, right_on].drop_duplicates().shape[0]} keys), e.g. "
            f"{_example_keys(right[dup], right_on)}; each matching left row would be duplicated. "
            "Drop or aggregate the duplicates first, or join on more columns.")


def join_df(left: pd.DataFrame, right: pd.DataFrame, left_on: str | Sequence[str],
            right_on: str | Sequence[str] | None = None, suffix: str = "_y", how: str = "left",
            verbose: bool = True) -> pd.DataFrame:
    """Merge ``right`` into ``left`` keeping every left row exactly once, and say how well it matched.

    Raises ValueError when ``right`` has duplicate keys (rows would be duplicated) or when
    ``how="inner"`` would drop unmatched rows; a left join keeps and reports them.

    Example:
        >>> left, right = pd.DataFrame({"Store": [1, 2, 3]}), pd.DataFrame({"Store": [1, 2], "Type": ["a", "b"]})
        >>> join_df(left, right, "Store").Type.tolist()
        join_df: 3 rows; 2 matched, 1 unmatched on ['Store'] (33.3%), e.g. [3]
        ['a', 'b', nan]
    """
    left_on = [left_on] if isinstance(left_on, str) else list(left_on)
    right_on = left_on if right_on is None else [right_on] if isinstance(right_on, str) else list(right_on)
    _check_join(left, right, left_on, right_on, how)
    flag = "__join_df_match__"
    merged = left.merge(right, how="left", left_on=left_on, right_on=right_on, suffixes=("", suffix), indicator=flag)
    unmatched = (merged.pop(flag) == "left_only").to_numpy()
    n, n_bad = len(merged), int(unmatched.sum())
    report = (f"join_df: {n:,} rows; {n - n_bad:,} matched, {n_bad:,} unmatched on {left_on}"
              + (f" ({n_bad / max(n, 1):.1%}), e.g. {_example_keys(left[unmatched], left_on)}" if n_bad else ""))
    if how == "inner" and n_bad:
        raise ValueError(report + ". An inner join would silently drop these rows: fix the keys, "
                         "filter the left table first, or use how='left' to keep them with missing values.")
    if verbose:
        print(report)
    return merged


def add_datepart(df: pd.DataFrame, col: str, drop: bool = True, prefix: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` with the parts of date column ``col`` as columns ``prefix + part``: a model cannot read
    "2015-07-31", but it can learn that Mondays or month ends differ. ``prefix`` defaults to ``col`` without a
    trailing "Date"; Week is the ISO week, Dayofweek 0 for Monday, Elapsed the days since 1970-01-01.

    Example:
        >>> out = add_datepart(pd.DataFrame({"Date": ["2015-12-31"]}), "Date")
        >>> [int(v) for v in out.loc[0, ["Year", "Week", "Dayofweek", "Is_year_end", "Elapsed"]]]
        [2015, 53, 3, 1, 16800]
    """
    out, dates = df.copy(), pd.to_datetime(df[col])
    prefix = re.sub("[Dd]ate$", "", col) if prefix is None else prefix
    week = dates.dt.isocalendar().week
    special = {"Week": week.astype("int64") if week.notna().all() else week.astype("float64"),
               "Elapsed": (dates - pd.Timestamp("1970-01-01")).dt.days}
    for name in ("Year", "Month", "Week", "Day", "Dayofweek", "Dayofyear", "Is_month_end", "Is_month_start",
                 "Is_quarter_end", "Is_quarter_start", "Is_year_end", "Is_year_start", "Elapsed"):
        out[prefix + name] = special[name] if name in special else getattr(dates.dt, name.lower())
    return out.drop(columns=col) if drop else out


def _check_events(df: pd.DataFrame, fields: Sequence[str], date_col: str, group_col: str) -> None:
    """Refuse what durations cannot be computed from, saying which column and what to do."""
    for name in (date_col, group_col, *fields):
        if name not in df.columns:
            raise KeyError(f"add_durations: no column {name!r}; the table has {list(df.columns)}.")
    if pd.to_datetime(df[date_col]).isna().any():
        raise ValueError(f"add_durations: column {date_col!r} has missing dates; drop or fill those rows first.")
    if (dup := df.duplicated([group_col, date_col])).any():
        raise ValueError(f"add_durations: {int(dup.sum())} ({group_col}, {date_col}) pairs occur more than once; "
                         "durations need one row per group and day (drop duplicates first).")
    for f in fields:
        col = df[f]
        if col.isna().any() or not (pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col)):
            raise TypeError(f"add_durations: column {f!r} must hold 0/1 or booleans without missing values "
                            f"(got dtype {col.dtype}); convert it first, e.g. df[{f!r}] = df[{f!r}] != '0'.")


def add_durations(df: pd.DataFrame, fields: Sequence[str], date_col: str = "Date",
                  group_col: str = "Store", window: int = 7) -> pd.DataFrame:
    """A copy of ``df`` with, per group (store) and for each 0/1 column ``f`` in ``fields``, the features of
    fast.ai's Rossmann notebooks (course-v3's ``get_elapsed`` and rolling sums; fastai's ``add_elapsed_times``):

    - ``After<f>``: days since the last day with ``f`` (0 on the day), ``Before<f>``: days until the next one,
      counted negative (-2 is two days before); both 0 when the group has no such day before / after;
    - ``<f>_bw`` / ``<f>_fw``: how many of the ``window`` ROWS ending / starting here, in date order, have ``f``
      (fewer rows at a group's ends). Rows, not days: across a gap in a store's dates they reach further back.

    Rows may come in any order; each (group, date) must occur once.

    Example:
        >>> days = pd.DataFrame({"Store": 1, "Date": pd.date_range("2015-12-23", periods=5), "Hol": [0, 0, 1, 1, 0]})
        >>> add_durations(days, ["Hol"], window=2).iloc[:, 3:].values.tolist()
        [[0, -2, 0, 0], [0, -1, 0, 1], [0, 0, 1, 2], [0, 0, 2, 1], [1, 0, 1, 0]]
    """
    _check_events(df, fields, date_col, group_col)
    # Work on positions in (group, date) order, so any index (even a repeated one) comes back unchanged.
    days = (pd.to_datetime(df[date_col]) - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    order = np.lexsort((days, pd.factorize(df[group_col])[0]))
    groups, day = pd.Series(df[group_col].to_numpy()[order]), pd.Series(days[order], dtype="float64")
    features = {}
    for f in fields:
        happens = pd.Series(df[f].to_numpy()[order].astype(bool))
        event_day = day.where(happens)
        features[f"After{f}"] = day - event_day.groupby(groups).ffill()
        features[f"Before{f}"] = day - event_day.groupby(groups).bfill()
        for name, rows in ((f"{f}_bw", happens), (f"{f}_fw", happens[::-1])):  # [::-1]: the rows ahead
            features[name] = rows.groupby(groups[rows.index]).rolling(window, min_periods=1).sum().droplevel(0)
    out, back = df.copy(), np.argsort(order)  # back[i]: where row i of df sits in (group, date) order
    for name, values in features.items():
        out[name] = values.sort_index().fillna(0).to_numpy()[back].astype("int64")
    return out


def cont_cat_split(df: pd.DataFrame, max_card: int = 20, dep_var: str | None = None) -> tuple[list[str], list[str]]:
    """Suggest (continuous, categorical) column names, to be checked by eye: floats, and integers with more than
    ``max_card`` distinct values, are continuous; the rest categorical. Dates and ``dep_var`` are left out.

    Example:
        >>> cont_cat_split(pd.DataFrame({"t": [1.5, 2.0], "shop": ["a", "b"], "dow": [1, 2]}))
        (['t'], ['shop', 'dow'])
    """
    cont, cat = [], []
    for name, col in df.items():
        if name == dep_var or pd.api.types.is_datetime64_any_dtype(col):
            continue
        many_ints = (pd.api.types.is_integer_dtype(col) and not pd.api.types.is_bool_dtype(col)
                     and col.nunique() > max_card)
        (cont if pd.api.types.is_float_dtype(col) or many_ints else cat).append(name)
    return cont, cat
