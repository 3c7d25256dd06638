"""lr_finder: the sweep's rates, its smoothing, when it stops, and that the Learner is put back after it.

Most tests script the losses (the Learner's ``train_step`` returns given values) so the curve can be
checked exactly; tests/test_learner.py runs real sweeps.
"""
import math

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import coursehelpers.lr_finder as lr_finder
from coursehelpers.config import TrainConfig
from coursehelpers.core import set_seed
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.learner import Learner
from coursehelpers.lr_finder import lr_find

CPU = torch.device("cpu")


class Stateful(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.resets = nn.Linear(3, 3), nn.Linear(3, 1), 0

    def reset(self):
        self.resets += 1

    def forward(self, x):
        return self.b(self.a(x))


def learner(n_batches=12, bs=4, **config):
    """Two parameter groups, ``n_batches`` training batches whose inputs start with the batch's number."""
    set_seed(0)
    x = torch.randn(n_batches * bs, 3)
    x[:, 0] = torch.arange(n_batches * bs).div(bs, rounding_mode="floor").float()
    ds = TensorDataset(x, torch.zeros(n_batches * bs, 1))
    in_order = lambda ds, bs, *_: [list(range(i, i + bs)) for i in range(0, len(ds), bs)]  # noqa: E731
    dls = DataLoaders.from_datasets(ds, ds, bs=bs, device=CPU, batches=in_order)
    return Learner(Stateful(), dls, nn.MSELoss(), splitter=lambda m: [list(m.a.parameters()), list(m.b.parameters())],
                   config=TrainConfig(log=False, **config))


def script(learn, losses):
    """Make ``learn.train_step`` return ``losses`` in turn; returns what each step saw."""
    seen = []

    def step(batch):
        seen.append({"batch": int(batch[0][0, 0]), "lrs": [g["lr"] for g in learn.opt.param_groups],
                     "training": learn.model.training})
        with torch.no_grad():  # a step that changes the weights and leaves gradients
            for p in learn.model.parameters():
                p.add_(1.0)
                p.grad = torch.ones_like(p)
        return torch.tensor(losses[len(seen) - 1])

    learn.train_step = step
    return seen


def test_the_rates_grow_exponentially_from_start_to_end_for_every_group():
    learn = learner()
    seen = script(learn, [1.0] * 10)
    result = lr_find(learn, start_lr=1e-4, end_lr=1e-2, num_it=10)
    expected = [1e-4 * 100 ** (i / 9) for i in range(10)]
    assert result.curve.lr.tolist() == pytest.approx(expected)
    assert [lr for s in seen for lr in s["lrs"]] == pytest.approx([lr for lr in expected for _ in range(4)])
    assert all(len(s["lrs"]) == 4 for s in seen)  # every optimizer group: 2 splitter groups, weights and biases
    assert result.curve.loss.tolist() == [1.0] * 10
    assert result.curve.smoothed_loss.tolist() == pytest.approx([1.0] * 10)  # debiased: no warm-up from 0
    assert [s["batch"] for s in seen] == list(range(10)) and all(s["training"] for s in seen)


def test_the_default_sweep_is_100_batches_from_1e_7_to_10():
    learn = learner(n_batches=100)
    script(learn, [1.0] * 100)
    curve = lr_find(learn).curve
    assert len(curve) == 100
    assert curve.lr.iloc[0] == pytest.approx(1e-7) and curve.lr.iloc[-1] == pytest.approx(10.0)
    assert curve.lr.iloc[50] == pytest.approx(1e-7 * 1e8 ** (50 / 99))


def test_the_loss_is_smoothed_as_a_debiased_moving_average():
    learn = learner()
    losses = [1.0, 3.0, 2.0, 2.5, 1.5, 1.0, 2.0, 1.0, 1.5, 1.25]
    script(learn, losses)
    curve = lr_find(learn, num_it=10, smooth=0.5).curve
    avg, expected = 0.0, []
    for i, loss in enumerate(losses):
        avg = 0.5 * avg + 0.5 * loss
        expected.append(avg / (1 - 0.5 ** (i + 1)))
    assert curve.smoothed_loss.tolist() == pytest.approx(expected)
    learn = learner()
    script(learn, losses)
    default = lr_find(learn, num_it=10).curve.smoothed_loss  # smooth=0.98
    assert default.iloc[1] == pytest.approx((0.98 * 0.02 * 1.0 + 0.02 * 3.0) / (1 - 0.98 ** 2))


def test_the_sweep_stops_once_the_smoothed_loss_is_more_than_four_times_its_best():
    learn = learner()
    script(learn, [2.0, 1.0, 1.5, 4.0, 4.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    curve = lr_find(learn, num_it=12, smooth=0.0).curve  # no smoothing: the losses themselves
    assert curve.loss.tolist() == [2.0, 1.0, 1.5, 4.0, 4.5]  # 4x the best goes on; above it stops


def test_the_sweep_stops_at_a_non_finite_loss_and_suggests_from_the_rows_before():
    learn = learner()
    script(learn, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, float("inf")] + [0.5] * 5)
    result = lr_find(learn, num_it=12)
    assert len(result.curve) == 7 and math.isinf(result.curve.loss.iloc[-1])
    assert result.suggestion.valley <= result.curve.lr.iloc[3]


def test_the_suggestions_leave_out_the_last_three_points_and_non_finite_ones(monkeypatch):
    calls = []
    monkeypatch.setattr(lr_finder, "suggest_lrs", lambda lrs, losses: calls.append((list(lrs), list(losses))) or "s")
    learn = learner()
    script(learn, [1.0] * 10)
    result = lr_find(learn, num_it=10, smooth=0.0)
    assert result.suggestion == "s" and calls[0] == (result.curve.lr.tolist()[:7], [1.0] * 7)
    learn = learner()
    script(learn, [1.0, 1.0, 1.0, 1.0, 5.0])  # stops at the 5th: keeps max(5 - 3, 2) = 2 rows
    lr_find(learn, num_it=10, smooth=0.0)
    assert calls[1][1] == [1.0, 1.0]
    learn = learner()
    script(learn, [1.0, 1.0, float("nan")])  # 3 rows: the first 2
    lr_find(learn, num_it=10, smooth=0.0)
    assert calls[2][1] == [1.0, 1.0]


def test_a_sweep_that_diverges_at_once_says_so_with_the_start_rate():
    learn = learner()
    script(learn, [1.0, float("nan")])
    with pytest.raises(FloatingPointError) as e:
        lr_find(learn, start_lr=1e-6, num_it=10, smooth=0.0)
    assert str(e.value) == ("The loss diverged after 2 steps of lr_find, from 1e-06: try a smaller start_lr, "
                            "or check the data for NaN.")


def test_fewer_than_ten_iterations_are_refused():
    learn = learner()
    script(learn, [1.0] * 10)
    with pytest.raises(ValueError) as e:
        lr_find(learn, num_it=9)
    assert str(e.value) == "lr_find(num_it=9): at least 10 iterations are needed to read a curve."
    assert len(lr_find(learn, num_it=10).curve) == 10


def test_a_short_loader_is_gone_round_again_with_a_warning():
    learn = learner(n_batches=4)
    seen = script(learn, [1.0] * 10)
    with pytest.warns(UserWarning) as warned:
        lr_find(learn, num_it=10)
    assert [s["batch"] for s in seen] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert str(warned[0].message) == ("The training loader has only 4 batches, so lr_find cycles over the same "
                                      "few batches and its curve will be noisy. Use a smaller batch size (or more data).")


def test_a_loader_of_ten_batches_gives_no_warning():
    import warnings

    learn = learner(n_batches=10)
    script(learn, [1.0] * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lr_find(learn, num_it=10)


@pytest.mark.parametrize("cap, num_it, expected", [("3", 100, 6), ("20", 100, 20), ("200", 30, 30)])
def test_course_max_batches_cuts_the_sweep_but_never_below_six(monkeypatch, cap, num_it, expected):
    monkeypatch.setenv("COURSE_MAX_BATCHES", cap)
    learn = learner(n_batches=100)
    learn.dls.train.limit = None  # the loader is not what is being cut here
    script(learn, [1.0] * 100)
    assert len(lr_find(learn, num_it=num_it).curve) == expected


def test_weights_optimizer_mode_and_gradients_are_put_back_and_no_optimizer_is_left():
    learn = learner()
    learn.model.eval()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    seen = script(learn, [1.0] * 10)
    lr_find(learn, num_it=10)
    assert all(s["training"] for s in seen) and not learn.model.training
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    assert all(p.grad is None for p in learn.model.parameters())
    assert learn.opt is None and learn.model.resets == 1


def test_an_existing_optimizer_is_kept_with_its_rates_and_state():
    learn = learner()
    learn.fit(1, lr=1e-3)
    opt = learn.opt
    state = opt.state_dict()
    saved_lrs = [g["lr"] for g in opt.param_groups]
    learn.model.train()
    script(learn, [1.0] * 10)
    lr_find(learn, num_it=10)
    assert learn.opt is opt and [g["lr"] for g in opt.param_groups] == saved_lrs
    after = opt.state_dict()["state"]
    assert all(torch.equal(state["state"][k][n], after[k][n]) for k in state["state"] for n in state["state"][k])
    assert learn.model.training  # as it was before


def test_the_fp16_loss_scale_is_put_back(monkeypatch):
    learn = learner(precision="fp16")
    learn.fit(1, lr=1e-3)
    scale = learn.scaler.get_scale()
    seen = script(learn, [1.0] * 10)
    real_step = learn.train_step

    def halving_step(batch):
        learn.scaler.update(new_scale=learn.scaler.get_scale() / 2)
        return real_step(batch)

    learn.train_step = halving_step
    lr_find(learn, num_it=10)
    assert len(seen) == 10 and learn.scaler.get_scale() == scale


def test_an_error_mid_sweep_still_puts_everything_back():
    learn = learner()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    seen = script(learn, [1.0, 1.0, "not a number"])
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        lr_find(learn, num_it=10)
    assert len(seen) == 3
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    assert learn.opt is None and all(p.grad is None for p in learn.model.parameters())
