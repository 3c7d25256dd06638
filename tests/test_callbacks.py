"""callbacks: SaveBestModel and EarlyStopping on histories whose values each test chooses."""
import math

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers.callbacks import Callback, EarlyStopping, SaveBestModel
from coursehelpers.config import TrainConfig
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.learner import Learner


class Scripted(Callback):
    """Overwrite this epoch's ``column`` in the history with the next value of ``values``."""

    def __init__(self, column, values):
        self.column, self.values = column, list(values)

    def after_epoch(self, state):
        state.learn.history.loc[state.learn.history.index[-1], self.column] = self.values[state.epoch]


class KeepWeights(Callback):
    """The weights at the end of each epoch."""

    def before_fit(self, state):
        self.weights = []

    def after_epoch(self, state):
        self.weights.append(state.learn.model.weight.detach().clone())


def learner(path, *cbs):
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    ds = TensorDataset(x, x.sum(1, keepdim=True))
    return Learner(nn.Linear(2, 1), DataLoaders.from_datasets(ds, ds, bs=16, device=torch.device("cpu")),
                   nn.MSELoss(), cbs=cbs, config=TrainConfig(log=False), path=path)


def test_save_best_in_max_mode_keeps_the_highest_value_and_a_tie_is_no_improvement(tmp_path):
    keep, save = KeepWeights(), SaveBestModel(monitor="score", mode="max")
    learn = learner(tmp_path, Scripted("score", [0.5, 0.7, 0.7, 0.6]), keep, save)
    learn.fit(4, 1e-2)
    assert (save.best, save.best_epoch) == (0.7, 1)  # epoch 2 only equals it
    assert torch.equal(learn.model.weight, keep.weights[1])  # the best weights are back
    assert set(torch.load(tmp_path / "models" / "best.pth", weights_only=True)) == {"model"}  # no optimizer


def test_save_best_in_min_mode_ignores_a_tie_too(tmp_path):
    save = SaveBestModel()  # valid_loss, min
    learn = learner(tmp_path, Scripted("valid_loss", [2.0, 1.0, 1.0]), KeepWeights(), save)
    learn.fit(3, 1e-2)
    assert (save.best, save.best_epoch) == (1.0, 1)


def test_a_fit_whose_monitored_value_is_never_a_number_ends_without_reloading(tmp_path):
    save = SaveBestModel()
    learn = learner(tmp_path, Scripted("valid_loss", [math.nan] * 2), save)
    learn.fit(2, 1e-2)  # nothing was ever saved, so nothing is loaded: no error at the end
    assert save.best_epoch is None and not (tmp_path / "models").exists()


def test_early_stopping_waits_patience_epochs_and_starts_afresh_each_fit(tmp_path):
    learn = learner(tmp_path, Scripted("valid_loss", [3.0, 4.0, 5.0, 6.0]), EarlyStopping())
    learn.fit(4, 1e-2)
    assert len(learn.history) == 2  # patience 1: stops after the first epoch without improvement
    scripted, stop = Scripted("valid_loss", [3.0, 3.0, 2.0, 4.0, 5.0, 6.0]), EarlyStopping(patience=2, mode="min")
    learn = learner(tmp_path, scripted, stop)
    learn.fit(6, 1e-2)
    assert len(learn.history) == 5 and stop.waited == 2
    scripted.values = [9.0, 8.0, 10.0, 11.0]  # a new fit: the best and the count start again
    learn.fit(4, 1e-2)
    assert len(learn.history) == 5 + 4 and stop.best == 8.0
    learn = learner(tmp_path, Scripted("valid_loss", [math.nan] * 4), EarlyStopping(patience=2))
    learn.fit(4, 1e-2)
    assert len(learn.history) == 2  # a loss that is not a number never improves


def test_the_errors_name_the_callback_and_the_choices():
    with pytest.raises(ValueError) as err:
        SaveBestModel(mode="minimum")
    assert str(err.value) == ("SaveBestModel(mode='minimum'): use 'min' (a loss, an error) or 'max' "
                              "(an accuracy, an F-score).")
    learn = learner(".", EarlyStopping(monitor="acuracy"))
    with pytest.raises(ValueError, match=r"^EarlyStopping\(monitor='acuracy'\): the history has no such column. "
                                         r"Monitor one of \['train_loss', 'valid_loss'\]"):
        learn.fit(1, 1e-2)
