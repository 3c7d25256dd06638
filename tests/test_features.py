"""coursehelpers.features on toy frames whose answers are known by hand, and against fastai's own output."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coursehelpers.features import add_datepart, add_durations, cont_cat_split, join_df

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tabular_fastai.json"


# ----------------------------------------------------------------------------- join_df

def test_join_df_keeps_rows_and_reports_matches(capsys):
    left = pd.DataFrame({"Store": [1, 2, 3, 1], "Sales": [10, 20, 30, 40]})
    right = pd.DataFrame({"Store": [1, 2], "Type": ["a", "b"]})
    out = join_df(left, right, "Store")
    assert out.Store.tolist() == [1, 2, 3, 1] and out.Sales.tolist() == [10, 20, 30, 40]
    assert out.Type.tolist()[:2] == ["a", "b"] and pd.isna(out.Type[2]) and out.Type[3] == "a"
    report = capsys.readouterr().out
    assert "4 rows; 3 matched, 1 unmatched" in report and "[3]" in report


def test_join_df_reports_example_keys_of_several_columns(capsys):
    left = pd.DataFrame({"State": ["HB,NI", "BE"], "Week": [1, 1]})
    right = pd.DataFrame({"State": ["NI", "BE"], "Week": [1, 1], "trend": [50, 60]})
    join_df(left, right, ["State", "Week"])
    assert "('HB,NI', 1)" in capsys.readouterr().out
    days = pd.DataFrame({"Date": pd.to_datetime(["2015-07-31"])})
    join_df(days, pd.DataFrame({"Date": pd.to_datetime(["2015-07-30"]), "x": [1]}), "Date")
    assert "e.g. ['2015-07-31']" in capsys.readouterr().out  # dates read as dates, not Timestamp(...)


def test_join_df_refuses_duplicate_right_keys():
    left = pd.DataFrame({"Store": [1, 2]})
    right = pd.DataFrame({"Store": [1, 1, 2, 3, 3, 3], "x": range(6)})
    with pytest.raises(ValueError, match=r"5 rows .* \(2 keys\), e\.g\. \[1, 3\]"):
        join_df(left, right, "Store")


def test_join_df_inner_refuses_row_loss_but_allows_full_match():
    left = pd.DataFrame({"k": [1, 2, 3]})
    right = pd.DataFrame({"k": [1, 2], "v": [5, 6]})
    with pytest.raises(ValueError, match="1 unmatched"):
        join_df(left, right, "k", how="inner")
    assert len(join_df(left, pd.DataFrame({"k": [1, 2, 3, 4], "v": 0}), "k", how="inner", verbose=False)) == 3


def test_join_df_different_key_names_suffix_and_clear_errors():
    left = pd.DataFrame({"file": ["Berlin"], "temp": [20]})
    right = pd.DataFrame({"StateName": ["Berlin"], "State": ["BE"], "temp": [99]})
    out = join_df(left, right, "file", "StateName", verbose=False)
    assert out.loc[0, "State"] == "BE" and out.loc[0, "temp"] == 20 and out.loc[0, "temp_y"] == 99
    with pytest.raises(KeyError, match="no column"):
        join_df(left, right, "Store")
    with pytest.raises(ValueError, match="how="):
        join_df(left, right, "file", "StateName", how="outer")


# ----------------------------------------------------------------------------- dates

def test_add_datepart_known_values():
    df = pd.DataFrame({"Date": ["2015-03-31", "2015-12-31", "2016-01-01"], "x": [1, 2, 3]})
    out = add_datepart(df, "Date")
    assert "Date" not in out.columns and "Date" in df.columns  # a copy; the input is untouched
    assert out.Year.tolist() == [2015, 2015, 2016]
    assert out.Month.tolist() == [3, 12, 1] and out.Day.tolist() == [31, 31, 1]
    assert out.Week.tolist() == [14, 53, 53]  # ISO weeks: 2016-01-01 belongs to 2015's week 53
    assert out.Dayofweek.tolist() == [1, 3, 4]  # Tuesday, Thursday, Friday
    assert out.Dayofyear.tolist() == [90, 365, 1]
    assert out.Is_quarter_end.tolist() == [True, True, False]
    assert out.Is_year_start.tolist() == [False, False, True]
    assert out.Is_month_start.tolist() == [False, False, True]
    assert out.Elapsed.tolist() == [16525, 16800, 16801]


def test_add_datepart_prefix_and_keep():
    df = pd.DataFrame({"CompetitionOpenDate": pd.to_datetime(["2014-01-06"])})
    out = add_datepart(df, "CompetitionOpenDate", drop=False)
    assert "CompetitionOpenDate" in out.columns and out.CompetitionOpenYear[0] == 2014
    assert add_datepart(df, "CompetitionOpenDate", prefix="c_").c_Dayofweek[0] == 0


# ----------------------------------------------------------------------------- durations

def _holiday_frame() -> pd.DataFrame:
    # Two stores over 2015-12-20 .. 12-31; Christmas (25, 26) is a holiday for both, store 2
    # also has one on the 21st. Rows are shuffled: the answer must not depend on their order.
    dates = pd.date_range("2015-12-20", "2015-12-31")
    rows = [(s, d, int(d.day in (25, 26) or (s == 2 and d.day == 21))) for s in (1, 2) for d in dates]
    df = pd.DataFrame(rows, columns=["Store", "Date", "Hol"])
    return df.sample(frac=1, random_state=0)


def test_add_durations_around_christmas():
    out = add_durations(_holiday_frame(), ["Hol"], window=7)
    s1 = out[out.Store == 1].set_index(out[out.Store == 1].Date.dt.day).sort_index()
    # Before Christmas: counting up to the 25th from below (negative, as fast.ai's notebooks count);
    # after: counting up from the 26th. No holiday before / after within the data: 0, as they fill it.
    assert s1.BeforeHol.loc[20:26].tolist() == [-5, -4, -3, -2, -1, 0, 0]
    assert s1.AfterHol.loc[25:31].tolist() == [0, 0, 1, 2, 3, 4, 5]
    assert (s1.AfterHol.loc[20:24] == 0).all() and (s1.BeforeHol.loc[27:31] == 0).all()
    # Holidays among the 7 rows ending / starting on each day (the day itself included).
    assert s1.Hol_bw.loc[24:31].tolist() == [0, 1, 2, 2, 2, 2, 2, 2]
    assert s1.Hol_fw.loc[20:26].tolist() == [2, 2, 2, 2, 2, 2, 1]
    assert all(out[c].dtype == np.int64 for c in ("AfterHol", "BeforeHol", "Hol_bw", "Hol_fw"))


def test_add_durations_keeps_stores_apart_and_row_order():
    df = _holiday_frame().set_index(np.arange(24) % 5)  # any index, even a repeated one, comes back as it was
    out = add_durations(df, ["Hol"], window=7)
    assert out.index.equals(df.index) and out.Store.equals(df.Store) and out.Date.equals(df.Date)
    s2 = out[out.Store == 2].set_index(out[out.Store == 2].Date.dt.day).sort_index()
    assert s2.AfterHol.loc[20] == 0  # store 1's holidays do not count for store 2
    assert s2.AfterHol.loc[22:24].tolist() == [1, 2, 3] and s2.BeforeHol.loc[20] == -1
    assert s2.Hol_bw.loc[27] == 3  # the 21st, 25th and 26th


def test_add_durations_count_days_but_roll_over_rows():
    df = pd.DataFrame({"Store": 1, "Date": pd.to_datetime(["2015-01-01", "2015-01-05", "2015-01-20"]),
                       "Promo": [True, False, False]})
    out = add_durations(df, ["Promo"], window=7)
    assert out.AfterPromo.tolist() == [0, 4, 19]  # days of the calendar
    assert out.Promo_bw.tolist() == [1, 1, 1]  # the 7 rows ending on the 20th reach back to the 1st
    assert out.Promo_fw.tolist() == [1, 0, 0]


def test_add_durations_match_fastai_on_a_shuffled_table_with_gaps():
    # tests/fixtures/make_tabular_fixture.py: fastai 2.8.12's add_elapsed_times on four shuffled stores,
    # one with a 20-day gap, one that never has a promotion, holidays on the first and last days.
    fixture = json.loads(FIXTURE.read_text())["durations"]
    days = pd.DataFrame(fixture["input"]).assign(Date=lambda d: pd.to_datetime(d.Date))
    ours = add_durations(days, fixture["fields"])
    agree = {c: float(np.mean(ours[c].to_numpy() == np.asarray(v))) for c, v in fixture["output"].items()}
    assert len(agree) == 12 and all(a == 1.0 for a in agree.values()), agree


def test_add_durations_clear_errors():
    df = pd.DataFrame({"Store": [1, 1], "Date": pd.to_datetime(["2015-01-01", "2015-01-01"]), "f": [0, 1]})
    with pytest.raises(ValueError, match="1 .*more than once"):
        add_durations(df, ["f"])
    text = pd.DataFrame({"Store": [1], "Date": pd.to_datetime(["2015-01-01"]), "StateHoliday": ["a"]})
    with pytest.raises(TypeError, match="!= '0'"):
        add_durations(text, ["StateHoliday"])
    with pytest.raises(KeyError, match="'Promo'"):
        add_durations(text, ["Promo"])
    with pytest.raises(ValueError, match="missing dates"):
        add_durations(text.assign(Date=pd.NaT, StateHoliday=0), ["StateHoliday"])


# ----------------------------------------------------------------------------- columns

def test_cont_cat_split():
    df = pd.DataFrame({"dist": [1.0, 2.0, np.nan] * 10, "store": list(range(30)), "dow": [1, 2, 3] * 10,
                       "kind": ["a", "b", "c"] * 10, "flag": [True, False, True] * 10,
                       "when": pd.date_range("2015-01-01", periods=30), "Sales": range(30)})
    assert cont_cat_split(df, max_card=20, dep_var="Sales") == (["dist", "store"], ["dow", "kind", "flag"])
