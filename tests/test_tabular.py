"""coursehelpers.tabular on toy frames whose answers are known by hand, and against fastai's own output."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from coursehelpers.config import TrainConfig
from coursehelpers.export import load_learner
from coursehelpers.metrics import exp_rmspe
from coursehelpers.tabular import (NA, TabularModel, TabularProcessor, emb_sz_rule, tabular_dataloaders,
                                   tabular_learner)

CPU = torch.device("cpu")
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tabular_fastai.json"


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


def test_processor_codes_missing_and_unseen_as_na_and_flags():
    train, valid = _frames()
    proc = TabularProcessor(["shop"], ["temp", "n"]).fit(train)
    assert proc.vocab["shop"] == ["#na#", "a", "b"]
    assert proc.cat_names_out == ["shop", "temp_na"] and proc.na_names == ["temp"]
    with pytest.warns(UserWarning, match="'n'.*none in the training rows"):  # n was never missing in training
        out = proc.transform(valid.assign(n=[9, np.nan, 9, 9]))
    assert list(out.columns) == ["shop", "temp_na", "temp", "n"]
    assert out.shop.tolist() == [1, NA, NA, 2]  # "z" was never seen in training: like a missing value
    assert [proc.vocab["temp_na"][i] for i in out.temp_na] == [False, True, False, False]
    assert out.n.tolist() == [8.0, 0.0, 8.0, 8.0]  # filled with training's median, 1, which normalises to 0
    assert out.shop.dtype == np.int64 and out.temp.dtype == np.float32
    assert proc.emb_szs() == [(3, emb_sz_rule(3))] * 2


def test_processor_keeps_the_order_of_a_pandas_categorical():
    sizes = pd.Categorical(["large", "small", "medium"], categories=["small", "medium", "large"], ordered=True)
    proc = TabularProcessor(["size"], []).fit(pd.DataFrame({"size": sizes}))
    assert proc.vocab["size"] == ["#na#", "small", "medium", "large"]
    assert proc.transform(pd.DataFrame({"size": ["medium", "huge"]}))["size"].tolist() == [2, NA]


def test_processor_matches_fastai_categorify_fillmissing_normalize():
    # tests/fixtures/make_tabular_fixture.py: fastai 2.8.12's TabularPandas with [Categorify, FillMissing,
    # Normalize] fitted on the training split; text, integer, float-year and boolean categories with missing
    # and unseen values, continuous columns missing values in training (flagged) or only in validation.
    fx = json.loads(FIXTURE.read_text())["procs"]
    train, valid = pd.DataFrame(fx["train"]), pd.DataFrame(fx["valid"])
    proc = TabularProcessor(fx["cat_names"], fx["cont_names"]).fit(train)
    assert proc.cat_names_out == fx["cat_names_out"]
    assert {c: [str(v) for v in vocab] for c, vocab in proc.vocab.items()} == fx["vocab"]
    for split, frame in (("train", train), ("valid", valid)):
        out = proc.transform(frame)
        for c in proc.cat_names_out:
            assert out[c].tolist() == fx[f"{split}_codes"][c], (split, c)
        for c in proc.cont_names:
            np.testing.assert_allclose(out[c], fx[f"{split}_conts"][c], rtol=1e-5, atol=1e-6, err_msg=c)


def test_processor_numbers_as_categories_and_errors():
    train = pd.DataFrame({"year": [2014.0, np.nan, 2015.0], "x": [1.0, 2.0, 3.0]})
    proc = TabularProcessor(["year"], ["x"]).fit(train)
    # Test files often read 2014 as an int where training read 2014.0: same code.
    assert proc.transform(pd.DataFrame({"year": [2014, 2015, 2016], "x": [1.0] * 3})).year.tolist() == [1, 2, NA]
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
    assert [e.num_embeddings for e in learn.model.embeds] == [9, 3] and learn.activation is None
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
