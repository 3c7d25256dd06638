"""coursehelpers.features and coursehelpers.tabular on toy frames whose answers are known by hand."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from coursehelpers.config import TrainConfig
from coursehelpers.export import load_learner
from coursehelpers.features import add_datepart, add_durations, cont_cat_split, join_df
from coursehelpers.metrics import exp_rmspe
from coursehelpers.tabular import (MISSING, UNKNOWN, TabularModel, TabularProcessor, emb_sz_rule,
                                   tabular_dataloaders, tabular_learner)

CPU = torch.device("cpu")


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
    # Before Christmas: counting down to the 25th; after: counting up from the 26th.
    assert s1.BeforeHol.loc[20:26].tolist() == [5, 4, 3, 2, 1, 0, 0]
    assert s1.AfterHol.loc[25:31].tolist() == [0, 0, 1, 2, 3, 4, 5]
    assert s1.AfterHol.loc[20:24].isna().all() and s1.BeforeHol.loc[27:31].isna().all()
    # Holidays among the 7 days ending / starting on each day (the day itself included).
    assert s1.Hol_last7.loc[24:31].tolist() == [0, 1, 2, 2, 2, 2, 2, 2]
    assert s1.Hol_next7.loc[20:26].tolist() == [2, 2, 2, 2, 2, 2, 1]


def test_add_durations_keeps_stores_apart_and_row_order():
    df = _holiday_frame()
    out = add_durations(df, ["Hol"], window=7)
    assert out.index.equals(df.index) and out.Store.equals(df.Store)
    s2 = out[out.Store == 2].set_index(out[out.Store == 2].Date.dt.day).sort_index()
    assert s2.AfterHol.loc[20] != s2.AfterHol.loc[20]  # NaN: store 1's holidays do not count
    assert s2.AfterHol.loc[22:24].tolist() == [1, 2, 3] and s2.BeforeHol.loc[20] == 1
    assert s2.Hol_last7.loc[27] == 3  # the 21st, 25th and 26th


def test_add_durations_with_gaps_and_booleans():
    df = pd.DataFrame({"Store": 1, "Date": pd.to_datetime(["2015-01-01", "2015-01-05", "2015-01-20"]),
                       "Promo": [True, False, False]})
    out = add_durations(df, ["Promo"], window=7)
    assert out.AfterPromo.tolist() == [0, 4, 19]  # days of the calendar, not rows
    assert out.Promo_last7.tolist() == [1, 1, 0]


def test_add_durations_clear_errors():
    df = pd.DataFrame({"Store": [1, 1], "Date": pd.to_datetime(["2015-01-01", "2015-01-01"]), "f": [0, 1]})
    with pytest.raises(ValueError, match="more than once"):
        add_durations(df, ["f"])
    text = pd.DataFrame({"Store": [1], "Date": pd.to_datetime(["2015-01-01"]), "StateHoliday": ["a"]})
    with pytest.raises(TypeError, match="!= '0'"):
        add_durations(text, ["StateHoliday"])


# ----------------------------------------------------------------------------- preprocessing

def test_cont_cat_split():
    df = pd.DataFrame({"dist": [1.0, 2.0, np.nan] * 10, "store": list(range(30)), "dow": [1, 2, 3] * 10,
                       "kind": ["a", "b", "c"] * 10, "flag": [True, False, True] * 10,
                       "when": pd.date_range("2015-01-01", periods=30), "Sales": range(30)})
    assert cont_cat_split(df, max_card=20, dep_var="Sales") == (["dist", "store"], ["dow", "kind", "flag"])


def _frames():
    train = pd.DataFrame({"shop": ["b", "a", "b", None], "temp": [1.0, 3.0, np.nan, 5.0], "n": [1, 1, 1, 1]})
    valid = pd.DataFrame({"shop": ["a", "z", None, "b"], "temp": [100.0, np.nan, 200.0, 300.0], "n": [9, 9, 9, 9]})
    return train, valid


def test_processor_statistics_come_from_train_only():
    train, valid = _frames()
    proc = TabularProcessor(["shop"], ["temp", "n"]).fit(train)
    fitted = (dict(proc.medians), dict(proc.means), dict(proc.stds), {k: list(v) for k, v in proc.vocab.items()})
    # Train's temp: median 3; filled [1, 3, 3, 5]: mean 3, std sqrt(2). n is constant: std -> 1.
    assert proc.medians == {"temp": 3.0, "n": 1.0} and proc.means == {"temp": 3.0, "n": 1.0}
    assert proc.stds["temp"] == pytest.approx(np.sqrt(2)) and proc.stds["n"] == 1.0
    out = proc.transform(valid)
    assert out.temp.tolist() == pytest.approx([97 / np.sqrt(2), 0.0, 197 / np.sqrt(2), 297 / np.sqrt(2)])
    assert out.n.tolist() == [8.0, 8.0, 8.0, 8.0]
    proc.transform(valid)  # transforming changes nothing that was fitted
    assert fitted == (proc.medians, proc.means, proc.stds, {k: list(v) for k, v in proc.vocab.items()})


def test_processor_codes_unknown_missing_and_na_flags():
    train, valid = _frames()
    proc = TabularProcessor(["shop"], ["temp", "n"]).fit(train)
    assert proc.vocab["shop"] == ["#unknown#", "#na#", "a", "b"]
    assert proc.cat_names_out == ["shop", "temp_na"] and proc.na_names == ["temp"]
    out = proc.transform(valid)
    assert list(out.columns) == ["shop", "temp_na", "temp", "n"]
    assert out.shop.tolist() == [2, UNKNOWN, MISSING, 3]
    assert [proc.vocab["temp_na"][i] for i in out.temp_na] == [False, True, False, False]
    assert out.shop.dtype == np.int64 and out.temp.dtype == np.float32
    assert proc.emb_szs() == [(4, emb_sz_rule(4))] * 2


def test_processor_numbers_as_categories_and_errors():
    train = pd.DataFrame({"year": [2014.0, np.nan, 2015.0], "x": [1.0, 2.0, 3.0]})
    proc = TabularProcessor(["year"], ["x"]).fit(train)
    # Test files often read 2014 as an int where training read 2014.0: same code.
    assert proc.transform(pd.DataFrame({"year": [2014, 2015, 2016], "x": [1.0] * 3})).year.tolist() == [2, 3, 0]
    with pytest.raises(RuntimeError, match="fit"):
        TabularProcessor(["year"], ["x"]).transform(train)
    with pytest.raises(KeyError, match="nope"):
        TabularProcessor(["nope"], []).fit(train)


def test_processor_to_dataset():
    train, _ = _frames()
    proc = TabularProcessor(["shop"], ["temp", "n"]).fit(train)
    ds = proc.to_dataset(train, y=np.arange(4.0))
    x_cat, x_cont, y = ds[[0, 3]]
    assert x_cat.dtype == torch.int64 and x_cat.shape == (2, 2)
    assert x_cont.dtype == torch.float32 and x_cont.shape == (2, 2)
    assert y.shape == (2, 1) and y.flatten().tolist() == [0.0, 3.0]
    assert len(proc.to_dataset(train)[[0]]) == 2  # no targets: inputs only


# ----------------------------------------------------------------------------- model

def test_emb_sz_rule():
    assert [emb_sz_rule(n) for n in (2, 9, 14, 1117)] == [2, 5, 7, 81]
    assert emb_sz_rule(10**7) == 600


def test_tabular_model_shapes_layers_and_y_range():
    model = TabularModel([(10, 4), (5, 3)], n_cont=3, out_sz=1, layers=[16, 8], ps=[0.1, 0.2],
                         emb_drop=0.05, y_range=(0.0, 2.0))
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Linear", "ReLU", "BatchNorm1d", "Dropout"] * 2
    assert model.layers[0].in_features == 4 + 3 + 3 and isinstance(model.bn_cont, nn.BatchNorm1d)
    x_cat = torch.tensor([[0, 1], [9, 4], [3, 2]])
    out = model(x_cat, 1e6 * torch.randn(3, 3))
    assert out.shape == (3, 1) and bool(((out >= 0) & (out <= 2)).all())
    with pytest.raises(ValueError, match="2 categorical and 3 continuous"):
        model(x_cat[:, :1], torch.zeros(3, 3))
    with pytest.raises(ValueError, match="dropout"):
        TabularModel([(10, 4)], 1, 1, layers=[8, 4], ps=[0.1])


def test_tabular_model_without_continuous_or_categorical_columns():
    assert TabularModel([(10, 4)], n_cont=0, layers=[8])(torch.zeros(2, 1, dtype=torch.long),
                                                          torch.zeros(2, 0)).shape == (2, 1)
    assert TabularModel([], n_cont=2, layers=[8])(torch.zeros(2, 0, dtype=torch.long),
                                                  torch.zeros(2, 2)).shape == (2, 1)


# ----------------------------------------------------------------------------- batches, training, export

def _additive_problem(n=2048):
    # y = a[cat] + 2 * x + 5: an embedding model must learn it well beyond predicting the mean.
    g = torch.Generator().manual_seed(0)
    cat, x = torch.randint(0, 8, (n,), generator=g), torch.randn(n, generator=g)
    frame = pd.DataFrame({"c": cat.numpy(), "x": x.numpy()})
    frame.loc[::50, "x"] = np.nan  # a continuous column with missing values gets an x_na flag
    y = torch.linspace(-2, 2, 8)[cat] + 2 * torch.as_tensor(frame.x.fillna(0).to_numpy()) + 5
    return frame, y.float()


def test_tabular_dataloaders_slice_whole_seeded_batches():
    frame, y = _additive_problem(100)
    proc = TabularProcessor(["c"], ["x"]).fit(frame)
    ds = proc.to_dataset(frame, y)
    dls = tabular_dataloaders(ds, ds, bs=32, seed=3, device=torch.device("cpu"))
    x_cat, x_cont, yb = dls.one_batch()
    assert dls.n_inputs == 2 and dls.prepare is proc and len(dls.train) == 3  # the partial batch is dropped
    assert x_cat.shape == (32, 2) and x_cont.shape == (32, 1) and yb.shape == (32, 1)
    again = tabular_dataloaders(ds, ds, bs=32, seed=3, device=torch.device("cpu")).one_batch()
    assert torch.equal(again[2], yb)  # a fresh DataLoaders with the same seed repeats the batches


def test_tabular_learner_learns_and_its_export_predicts_rows_like_get_preds(tmp_path):
    frame, y = _additive_problem()
    proc = TabularProcessor(["c"], ["x"]).fit(frame[:1536])
    train_ds, valid_ds = proc.to_dataset(frame[:1536], y[:1536]), proc.to_dataset(frame[1536:], y[1536:])
    torch.manual_seed(0)
    dls = tabular_dataloaders(train_ds, valid_ds, bs=64, device=torch.device("cpu"))
    learn = tabular_learner(dls, [32], y_range=(0.0, 12.0), metrics=[exp_rmspe], config=TrainConfig(log=False))
    assert [e.num_embeddings for e in learn.model.embeds] == [10, 4] and learn.activation is None
    learn.fit_one_cycle(6, 1e-2)
    assert learn.history.valid_loss.iloc[-1] < 0.1 * float(y[1536:].var()), learn.history
    preds, targets = learn.get_preds()
    assert preds.shape == targets.shape == (512, 1)
    loaded = load_learner(learn.export(tmp_path / "tabular.pth"), device=torch.device("cpu"))
    for k in (0, 50, 100):  # row 50 has a missing x: filled and flagged as in training
        row = frame.iloc[1536 + k]
        assert torch.allclose(loaded.predict(row)[1], preds[k], atol=1e-5)
        assert torch.allclose(loaded.predict(dict(row))[1], preds[k], atol=1e-5)
    assert float(loaded.predict({"c": 99, "x": None})[1]) > 0  # an unseen code and a missing value
