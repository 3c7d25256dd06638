"""learner: the training loop on tiny synthetic tasks, each check able to fail."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers.callbacks import Callback, EarlyStopping, SaveBestModel
from coursehelpers.config import TrainConfig
from coursehelpers.core import set_seed
from coursehelpers.dataloaders import DataLoaders, Prepare
from coursehelpers.learner import Learner
from coursehelpers.metrics import accuracy, batchwise, mse
from coursehelpers.schedule import one_cycle_lr, one_cycle_mom, spread_lrs
from coursehelpers.viz import plot_losses, plot_schedule

CPU = torch.device("cpu")
QUIET = TrainConfig(log=False)


def regression_dls(n=512, bs=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = (x @ torch.tensor([1.0, -2.0, 3.0]) + 0.5).unsqueeze(1)
    return DataLoaders.from_datasets(TensorDataset(x[:400], y[:400]), TensorDataset(x[400:], y[400:]),
                                     bs=bs, device=CPU, seed=seed)


def classification_dls(n=600, bs=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long()  # XOR-like quadrants: needs a hidden layer
    return DataLoaders.from_datasets(TensorDataset(x[:480], y[:480]), TensorDataset(x[480:], y[480:]),
                                     bs=bs, device=CPU, classes=["different", "same"], seed=seed)


class BodyHead(nn.Module):
    """A tiny model with a 'body' and a 'head', split into two parameter groups."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU())
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        return self.head(self.body(x))


def body_head_splitter(m):
    return [list(m.body.parameters()), list(m.head.parameters())]


def make_learner(cbs=(), path=".", **config):
    set_seed(0)
    return Learner(BodyHead(), classification_dls(), nn.CrossEntropyLoss(), metrics=[accuracy],
                   activation="softmax", splitter=body_head_splitter, cbs=cbs,
                   config=TrainConfig(log=False, **config), path=path)


def test_fit_one_cycle_drives_linear_regression_to_low_loss():
    set_seed(0)
    learn = Learner(nn.Linear(3, 1), regression_dls(bs=16), nn.MSELoss(), metrics=[mse], config=QUIET)
    start = learn.validate()["valid_loss"]
    learn.fit_one_cycle(8, lr_max=0.1)
    assert start > 5
    assert learn.history["valid_loss"].iloc[-1] < 0.01
    assert list(learn.history.columns) == ["epoch", "train_loss", "valid_loss", "mse", "time"]
    assert len(learn.batch_losses) == 8 * len(learn.dls.train)


def test_history_epochs_keep_counting_across_fits():
    learn = make_learner()
    learn.fit(2, lr=1e-3)
    learn.fit_one_cycle(1, lr_max=1e-3)
    assert learn.history["epoch"].tolist() == [0, 1, 2]


def test_one_cycle_schedule_has_the_documented_shape():
    pcts = np.linspace(0, 1, 201)
    lrs = np.array([one_cycle_lr(p, 1e-2) for p in pcts])
    moms = np.array([one_cycle_mom(p) for p in pcts])
    peak = int(np.argmax(lrs))
    assert abs(pcts[peak] - 0.25) < 0.01
    assert math.isclose(lrs[0], 1e-2 / 25) and math.isclose(lrs[-1], 1e-2 / 1e5)
    assert np.all(np.diff(lrs[: peak + 1]) >= 0) and np.all(np.diff(lrs[peak:]) <= 0)
    assert math.isclose(moms[0], 0.95) and math.isclose(moms[peak], 0.85) and math.isclose(moms[-1], 0.95)
    # The loop really applies it: record the optimizer's lr and beta1 at each batch.
    seen = []

    class Record(Callback):
        def after_batch(self, state):
            g = state.learn.opt.param_groups[0]
            seen.append((g["lr"], g["betas"][0]))

    learn = make_learner(cbs=[Record()])
    learn.fit_one_cycle(2, lr_max=1e-2)
    lr_seen = np.array([s[0] for s in seen])
    assert math.isclose(lr_seen[0], 1e-2 / 25, rel_tol=1e-6)
    assert lr_seen.max() <= 1e-2 + 1e-12 and lr_seen[-1] < 1e-4
    assert min(s[1] for s in seen) < 0.86
    # ... and records what it applied, for plot_schedule
    assert learn.batch_lrs == pytest.approx(lr_seen.tolist()) and learn.batch_moms == [s[1] for s in seen]
    assert [ax.get_ylabel() for ax in plot_schedule(learn).axes] == ["learning rate", "momentum (beta1)"]


def test_lr_find_restores_weights_and_suggests_a_working_rate():
    learn = make_learner()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    result = learn.lr_find()
    after = learn.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats included
    assert learn.opt is None and learn.model.training  # no optimizer left behind, mode as before
    known_good = 3e-2  # fit_one_cycle at 3e-2 reaches > 0.9 accuracy on this task (see below)
    assert known_good / 10 <= result.suggestion.valley <= known_good * 10


def test_lr_find_stops_when_the_loss_diverges():
    set_seed(0)
    sgd = TrainConfig(log=False, opt_func=lambda params, lr: torch.optim.SGD(params, lr=lr))
    learn = Learner(nn.Linear(3, 1), regression_dls(bs=16), nn.MSELoss(), config=sgd)
    curve = learn.lr_find(end_lr=1e3).curve
    assert len(curve) < 100
    last = curve.smoothed_loss.iloc[-1]
    assert not math.isfinite(last) or last > 4 * curve.smoothed_loss.min()


def test_lr_find_restores_existing_optimizer_state_and_eval_mode():
    learn = make_learner()
    learn.fit(1, lr=1e-3)
    param = learn.opt.param_groups[0]["params"][0]
    opt_state = {k: v.clone() for k, v in learn.opt.state[param].items()}
    learn.model.eval()
    learn.lr_find(num_it=20)
    assert all(torch.equal(opt_state[k], learn.opt.state[param][k]) for k in opt_state)
    assert not learn.model.training


def test_lr_find_warns_when_the_loader_has_few_batches():
    set_seed(0)
    learn = Learner(nn.Linear(3, 1), regression_dls(bs=256), nn.MSELoss(), config=QUIET)
    with pytest.warns(UserWarning, match="only 1 batches"):
        learn.lr_find(num_it=10)


def test_freeze_keeps_body_weights_and_trains_head():
    learn = make_learner(train_bn=False)
    learn.freeze()
    body = {k: v.clone() for k, v in learn.model.body.named_parameters()}
    head = learn.model.head.weight.clone()
    learn.fit(1, lr=1e-2)
    for k, v in learn.model.body.named_parameters():
        assert torch.equal(v, body[k]), k
    assert not torch.equal(head, learn.model.head.weight)
    learn.unfreeze()
    learn.fit(1, lr=1e-2)
    assert not torch.equal(body["0.weight"], learn.model.body[0].weight)


def test_freeze_with_train_bn_keeps_norm_layers_trainable():
    learn = make_learner(train_bn=True)
    learn.freeze()
    assert not learn.model.body[0].weight.requires_grad
    assert learn.model.body[1].weight.requires_grad
    learn.freeze_to(0)
    assert all(p.requires_grad for p in learn.model.parameters())


def test_slice_gives_each_group_its_own_learning_rate():
    assert spread_lrs(slice(1e-5, 1e-3), 3) == pytest.approx([1e-5, 1e-4, 1e-3])
    assert spread_lrs(slice(1e-3), 3) == pytest.approx([1e-4, 1e-4, 1e-3])
    assert spread_lrs(3e-3, 2) == [3e-3, 3e-3]
    learn = make_learner()
    learn.fit(1, lr=slice(1e-4, 1e-2))
    by_group = {g["layer_group"]: g["lr"] for g in learn.opt.param_groups}
    assert by_group == pytest.approx({0: 1e-4, 1: 1e-2})


def test_weight_decay_skips_norm_and_bias_parameters():
    learn = make_learner(wd=0.1)
    opt = learn.create_opt()
    no_decay = {id(p) for g in opt.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    m = learn.model
    assert id(m.body[1].weight) in no_decay and id(m.head.bias) in no_decay
    assert id(m.body[0].weight) not in no_decay and id(m.head.weight) not in no_decay
    learn = make_learner(wd=0.1, wd_bn_bias=True)
    assert all(g["weight_decay"] == 0.1 for g in learn.create_opt().param_groups)


def test_set_seed_gives_bitwise_identical_losses():
    runs = []
    for _ in range(2):
        learn = make_learner()
        learn.fit_one_cycle(2, lr_max=1e-2)
        runs.append(learn.batch_losses)
    assert runs[0] == runs[1]


def test_training_learns_a_nonlinear_task_and_callbacks_fire_in_order():
    events = []

    class Log(Callback):
        def before_fit(self, state): events.append("before_fit")
        def before_epoch(self, state): events.append(f"before_epoch {state.epoch}")
        def after_epoch(self, state): events.append("after_epoch")
        def after_fit(self, state): events.append("after_fit")

    learn = make_learner(cbs=[Log()])
    learn.fit_one_cycle(6, lr_max=3e-2)
    assert learn.history["accuracy"].iloc[-1] > 0.9
    epochs = [e for i in range(6) for e in (f"before_epoch {i}", "after_epoch")]
    assert events == ["before_fit"] + epochs + ["after_fit"]


def test_early_stopping_and_save_best_reload_the_best_weights(tmp_path):
    class WorseEachEpoch(Callback):
        """Pretend the validation loss rises after the first epoch."""
        def after_epoch(self, state):
            state.learn.history.loc[state.learn.history.index[-1], "valid_loss"] = float(state.epoch)

    class Snapshot(Callback):
        def after_epoch(self, state):
            if state.epoch == 0:
                self.weights = state.learn.model.head.weight.clone()

    save, snap = SaveBestModel(fname="best"), Snapshot()
    learn = make_learner(cbs=[WorseEachEpoch(), save, snap, EarlyStopping(patience=2)], path=tmp_path)
    learn.fit(10, lr=1e-2)
    assert len(learn.history) == 3  # best at epoch 0, then two epochs without improvement
    assert save.best_epoch == 0 and (tmp_path / "models" / "best.pth").exists()
    assert torch.equal(learn.model.head.weight, snap.weights)  # the best epoch's weights are back


def test_grad_clip_bounds_the_gradient_norm():
    norms = []
    learn = make_learner(grad_clip=1e-3)
    opt = learn.create_opt()
    original_step = opt.step

    def step(*a, **k):
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.norm(torch.stack([g.norm() for g in grads]))))
        return original_step(*a, **k)

    opt.step = step
    learn.fit(1, lr=1e-3)
    assert norms and max(norms) <= 1e-3 * 1.001


class Poison(Prepare):
    """A preparation that turns every input into NaN."""

    def __call__(self, batch, train):
        return (batch[0] * float("nan"), *batch[1:])


def test_nan_loss_stops_training_with_epoch_batch_and_lr():
    learn = make_learner()
    learn.dls.prepare = Poison()
    with pytest.raises(FloatingPointError, match=r"epoch 0, batch 0 \(learning rate 1.00e-03"):
        learn.fit(1, lr=1e-3)


def test_shape_mismatch_reports_both_shapes():
    set_seed(0)
    learn = Learner(nn.Linear(3, 1), regression_dls(), nn.MSELoss(), config=QUIET)
    learn.dls.train_dl.dataset.tensors = (learn.dls.train_dl.dataset.tensors[0],
                                          learn.dls.train_dl.dataset.tensors[1].squeeze(1))
    with pytest.raises(ValueError, match=r"\(32, 1\).*\(32,\)"):
        learn.fit(1)


def conv_learner(device, **config):
    """A tiny CNN on random images, on ``device``: the layers autocast changes (conv, linear)."""
    set_seed(0)
    x = torch.rand(64, 3, 8, 8)
    y = (x.mean((1, 2, 3)) > 0.5).long()
    dls = DataLoaders.from_datasets(TensorDataset(x, y), TensorDataset(x, y), bs=16, device=device)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    return Learner(model, dls, nn.CrossEntropyLoss(), config=TrainConfig(log=False, **config))


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16),
                                              ("fp32", torch.float32)])
def test_precision_sets_the_autocast_dtype_and_only_fp16_scales_the_loss(device, precision, dtype):
    learn = conv_learner(device, precision=precision)
    seen = []
    learn.model[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = learn.model[0].weight.detach().clone()
    learn.fit(1, lr=1e-3)
    assert set(seen) == {dtype}  # training and validation passes alike
    assert learn.model[0].weight.dtype == torch.float32 and not torch.equal(before, learn.model[0].weight)
    assert all(map(math.isfinite, learn.batch_losses + learn.history.valid_loss.tolist()))
    assert (learn.scaler is not None) == (precision == "fp16")
    probs, _ = learn.get_preds()
    assert probs.dtype == torch.float32  # outputs leave autocast as fp32


def test_fp16_clips_the_unscaled_gradients(device):
    # fp16 scales the loss (here by 65536) so small gradients survive; clipping must see the real ones.
    # SGD: PyTorch's fused AdamW unscales inside its own step, where this test cannot see the gradients.
    sgd = lambda params, lr: torch.optim.SGD(params, lr=lr)  # noqa: E731
    learn = conv_learner(device, precision="fp16", grad_clip=1e-3, opt_func=sgd)
    opt = learn.create_opt()
    norms, original_step = [], opt.step

    def step(*a, **k):
        grads = [p.grad.float().norm() for g in opt.param_groups for p in g["params"] if p.grad is not None]
        norms.append(float(torch.stack(grads).norm()))
        return original_step(*a, **k)

    opt.step = step
    learn.fit(1, lr=1e-3)
    assert learn.scaler.get_scale() == 65536.0  # no overflow, so no step was skipped
    assert len(norms) == 4 and all(0.5e-3 < n <= 1e-3 * 1.001 for n in norms), norms


def test_activation_is_stated_not_guessed():
    learn = make_learner()
    learn.fit(1, lr=1e-2)
    probs, _ = learn.get_preds()
    assert torch.allclose(probs.sum(1), torch.ones(len(probs)))
    raw = Learner(learn.model, learn.dls, nn.CrossEntropyLoss(), config=QUIET)  # activation None: raw outputs
    logits, _ = raw.get_preds()
    assert torch.allclose(logits.softmax(1), probs, atol=1e-6)
    with pytest.raises(ValueError, match="'softmax', 'sigmoid' or None"):
        Learner(learn.model, learn.dls, nn.CrossEntropyLoss(), activation="relu")


def test_batchwise_metric_equals_the_whole_set_metric_for_a_mean():
    learn = make_learner()
    learn.fit(1, lr=1e-2)
    learn.metrics = [accuracy, batchwise(accuracy)]
    whole = learn.validate()["accuracy"]
    learn.metrics = [batchwise(accuracy)]
    assert learn.validate()["accuracy"] == pytest.approx(whole)


class Jitter(Prepare):
    """Training batches get noise from a seeded generator: each augmented pass differs, and repeats after reset()."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.generator = torch.Generator().manual_seed(0)

    def __call__(self, batch, train):
        if not train:
            return batch
        return (batch[0] + torch.randn(batch[0].shape, generator=self.generator), *batch[1:])


def test_get_preds_and_predict_agree_with_the_validation_pass():
    learn = make_learner()
    learn.fit_one_cycle(3, lr_max=3e-2)
    preds, targets = learn.get_preds()
    assert preds.shape == (120, 2)
    assert torch.equal(targets, learn.dls.valid_ds.tensors[1])
    for i in (0, 7):
        label, probs = learn.predict(learn.dls.valid_ds.tensors[0][i])
        assert label == learn.dls.classes[int(probs.argmax())]
        assert torch.allclose(probs, preds[i])


def test_tta_mixes_the_mean_of_n_augmented_passes_with_the_plain_pass():
    learn = make_learner()
    learn.fit(1, lr=1e-2)
    learn.dls.prepare = jitter = Jitter()
    plain, _ = learn.get_preds()
    augmented = [learn.get_preds(train_tfms=True)[0] for _ in range(3)]  # what tta's three passes will see
    assert not torch.allclose(augmented[0], augmented[1])
    jitter.reset()
    tta, targets = learn.tta(n=3, beta=0.25)
    assert torch.allclose(tta, 0.75 * torch.stack(augmented).mean(0) + 0.25 * plain, atol=1e-6)
    assert torch.equal(targets, learn.dls.valid_ds.tensors[1])


def test_export_needs_a_model_spec(tmp_path):
    learn = make_learner(path=tmp_path)
    with pytest.raises(ValueError, match="model_spec"):
        learn.export()
    assert not any(tmp_path.iterdir())


def test_load_learner_refuses_a_pickled_model(tmp_path):
    from coursehelpers.export import load_learner

    file = tmp_path / "old.pth"
    torch.save({"model": BodyHead(), "classes": ["a", "b"]}, file)  # the old format: a pickled module
    with pytest.raises(ValueError, match="refused.*re-export|could run code"):
        load_learner(file)


def test_save_and_load_restore_weights(tmp_path):
    learn = make_learner(path=tmp_path)
    learn.fit(1, lr=1e-2)
    saved = {k: v.clone() for k, v in learn.model.state_dict().items()}
    learn.save("checkpoint")
    learn.fit(1, lr=1e-2)
    learn.load("checkpoint")
    assert all(torch.equal(saved[k], v) for k, v in learn.model.state_dict().items())


def test_fine_tune_trains_frozen_then_unfrozen():
    learn = make_learner()
    body_before = learn.model.body[0].weight.clone()
    learn.fine_tune(2, base_lr=1e-2, freeze_epochs=1)
    assert len(learn.history) == 3
    assert all(p.requires_grad for p in learn.model.parameters())
    assert not torch.equal(body_before, learn.model.body[0].weight)
    assert plot_losses(learn).axes[0].get_ylabel() == "loss"


def test_course_max_batches_cuts_the_lr_finder_sweep_short(monkeypatch):
    monkeypatch.setenv("COURSE_MAX_BATCHES", "3")
    learn = make_learner()
    assert len(learn.lr_find(num_it=100).curve) <= 10  # of 100 (test_lr_finder.py pins the floor: 6)


# ---------------------------------------------------------------- what each part of the loop promises
def small_classification_dls(n_train=96, n_valid=32, bs=16):
    """The quadrants task of `classification_dls`, small: for checks of the loop, not of learning."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_valid, 2, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long()
    return DataLoaders.from_datasets(TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[n_train:], y[n_train:]),
                                     bs=bs, device=CPU, classes=["different", "same"])


def small_learner(cbs=(), path=".", **config):
    set_seed(0)
    return Learner(BodyHead(), small_classification_dls(), nn.CrossEntropyLoss(), metrics=[accuracy],
                   activation="softmax", splitter=body_head_splitter, cbs=cbs,
                   config=TrainConfig(log=False, **config), path=path)


class Record(Callback):
    """Each batch: every optimizer group's (layer_group, lr, beta1), and which parameters train."""

    def __init__(self):
        self.lrs, self.moms, self.epochs, self.batches = [], [], [], []

    def before_batch(self, state):
        self.epochs.append(state.epoch)
        self.batches.append(state.batch)

    def after_batch(self, state):
        groups = state.learn.opt.param_groups
        self.lrs.append({g["layer_group"]: g["lr"] for g in groups})
        self.moms.append(groups[0]["betas"][0])


def small_regression_dls(n_train=64, n_valid=16, bs=16):
    """``n_train`` rows to train on, ``n_valid`` to validate on (validation batches: ``2 * bs``)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_valid, 3, generator=g)
    y = (x @ torch.tensor([1.0, -2.0, 3.0]) + 0.5).unsqueeze(1)
    return DataLoaders.from_datasets(TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[n_train:], y[n_train:]),
                                     bs=bs, device=CPU)


def tiny_regression(n=64, bs=16, **config):
    set_seed(0)
    return Learner(nn.Linear(3, 1), small_regression_dls(n, 16, bs), nn.MSELoss(),
                   config=TrainConfig(**{"log": False, **config}))


def test_decode_gives_a_class_the_tags_strictly_above_one_half_or_the_raw_output():
    from coursehelpers.learner import decode

    probs = torch.tensor([0.5, 0.51, 0.2])
    assert decode(probs, "softmax", ["a", "b", "c"]) == "b"
    assert decode(probs, "sigmoid", ["a", "b", "c"]) == ["b"]  # 0.5 itself is not a tag
    for activation in ("softmax", "sigmoid", None):
        assert decode(probs, activation, None) is probs
    assert decode(probs, None, ["a", "b", "c"]) is probs


def test_progress_bar_wraps_the_batches_only_when_enabled():
    from coursehelpers.learner import progress_bar

    batches = [1, 2, 3]
    assert progress_bar(batches, 3, "epoch 0", enabled=False) is batches
    bar = progress_bar(iter(batches), 3, "epoch 4", enabled=True)  # an iterator: only the total given sizes the bar
    assert list(bar) == [1, 2, 3] and bar.total == 3 and bar.desc == "epoch 4" and bar.leave is False


def test_config_progress_shows_a_bar_per_epoch_and_log_prints_one_aligned_line_per_epoch(capsys):
    learn = tiny_regression(progress=True, log=True)
    learn.fit(2, lr=1e-2)
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "time"]
    assert len(lines) == 3 and all(len(line) == len(lines[0]) == 4 * 12 + 3 * 2 for line in lines)
    assert lines[1].split()[0] == "0" and lines[2].split()[0] == "1"
    assert lines[1].split()[1] == f"{learn.history.train_loss[0]:.4f}"
    assert "epoch 1" in out.err  # the bar, on stderr
    learn.fit(1, lr=1e-2)  # a later fit: its row, no second header
    assert capsys.readouterr().out.split() == ["2", *[f"{v:.4f}" for v in learn.history.iloc[-1, 1:]]]


def test_log_false_and_progress_false_print_nothing(capsys):
    learn = tiny_regression()
    learn.fit(1)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_load_plain_refuses_a_pickle_naming_the_file_and_loads_tensors_to_the_cpu(tmp_path):
    from coursehelpers.learner import load_plain

    good = tmp_path / "good.pth"
    torch.save({"w": torch.ones(2), "n": 3}, good)
    loaded = load_plain(good)
    assert torch.equal(loaded["w"], torch.ones(2)) and loaded["n"] == 3 and loaded["w"].device.type == "cpu"
    bad = tmp_path / "bad.pth"
    torch.save({"model": nn.Linear(1, 1)}, bad)
    with pytest.raises(ValueError) as e:
        load_plain(bad)
    assert str(e.value) == (
        f"{bad} holds more than tensors and plain data, so it is refused: loading it could run code. "
        "If it is an export or checkpoint from an older version of the course, load it where it was "
        "made and save it again (learn.export() or learn.save()).")


def test_load_plain_loads_a_checkpoint_made_on_any_device_to_the_cpu(tmp_path, device):
    from coursehelpers.learner import load_plain

    torch.save({"w": torch.ones(2, device=device)}, tmp_path / "w.pth")
    assert load_plain(tmp_path / "w.pth")["w"].device == CPU


def test_the_model_is_moved_to_the_loaders_device(device):
    learn = conv_learner(device)
    assert {p.device.type for p in learn.model.parameters()} == {device.type}


class Stateful(nn.Module):
    """A model with a ``reset`` (like a language model carrying state): counts the resets."""

    def __init__(self):
        super().__init__()
        self.lin, self.resets = nn.Linear(3, 1), 0

    def reset(self):
        self.resets += 1

    def forward(self, x):
        return self.lin(x)


def test_a_stateful_model_is_reset_before_each_training_validation_and_prediction_pass():
    set_seed(0)
    learn = Learner(Stateful(), small_regression_dls(), nn.MSELoss(), config=QUIET)
    learn.fit(2)
    assert learn.model.resets == 4  # each epoch: training, then validation
    learn.get_preds()
    assert learn.model.resets == 5


def test_a_new_learner_is_empty_on_its_device_with_the_default_config(tmp_path):
    from coursehelpers.config import TrainConfig as Config

    model = nn.Linear(3, 1)
    learn = Learner(model, small_regression_dls(), nn.MSELoss(), path=str(tmp_path))
    assert learn.config == Config() and learn.path == tmp_path and learn.device == CPU
    assert learn.model is model and learn.train_model is model and learn.opt is None
    assert learn.scaler is None and learn.amp_dtype is None and learn.model_spec is None
    assert learn.history.empty and learn.batch_losses == learn.batch_lrs == learn.batch_moms == []
    assert learn.metrics == [] and learn.cbs == [] and learn.activation is None
    assert Learner(model, small_regression_dls(), nn.MSELoss()).path == Path(".")


def test_only_a_classifier_has_its_head_checked_against_the_classes():
    dls = classification_dls(n=80)  # two classes
    Learner(nn.Linear(2, 3), dls, nn.CrossEntropyLoss(), config=QUIET)  # no activation: raw outputs, no check
    for activation in ("softmax", "sigmoid"):
        with pytest.raises(ValueError, match="3 outputs but the DataLoaders have 2 classes"):
            Learner(nn.Linear(2, 3), dls, nn.CrossEntropyLoss(), activation=activation, config=QUIET)


def test_create_opt_uses_the_configs_optimizer_rate_and_weight_decay():
    made = []

    def sgd(groups, lr):
        made.append(lr)
        return torch.optim.SGD(groups, lr=lr)

    learn = small_learner(lr=0.123, wd=0.05, opt_func=sgd)
    opt = learn.create_opt()
    assert learn.opt is opt and made == [0.123] and isinstance(opt, torch.optim.SGD)
    assert sorted({g["weight_decay"] for g in opt.param_groups}) == [0.0, 0.05]
    assert sorted({g["layer_group"] for g in opt.param_groups}) == [0, 1]
    assert all(g["lr"] == 0.123 for g in opt.param_groups)


def test_fit_without_a_rate_uses_the_configs_and_keeps_momentum_untouched():
    rec = Record()
    learn = small_learner(cbs=[rec], lr=0.02)
    learn.fit(1)
    assert rec.lrs == [{0: 0.02, 1: 0.02}] * len(learn.dls.train)
    assert set(rec.moms) == {0.9}  # adamw's beta1: a constant-rate fit sets no momentum
    assert learn.batch_lrs == [0.02] * len(learn.dls.train) and learn.batch_moms == [None] * len(learn.dls.train)


def test_fit_one_cycle_without_a_rate_uses_the_configs_and_its_default_shape():
    rec = Record()
    learn = small_learner(cbs=[rec], lr=0.02)
    learn.fit_one_cycle(2)
    n = 2 * len(learn.dls.train)
    expected = [one_cycle_lr(i / n, 0.02, 25.0, 1e5, 0.25) for i in range(n)]
    assert [r[1] for r in rec.lrs] == pytest.approx(expected) and learn.batch_lrs == pytest.approx(expected)
    assert rec.moms == pytest.approx([one_cycle_mom(i / n, (0.95, 0.85, 0.95), 0.25) for i in range(n)])


def test_fit_one_cycle_passes_div_div_final_pct_start_and_moms_through():
    rec = Record()
    learn = small_learner(cbs=[rec])
    learn.fit_one_cycle(1, 0.1, div=10.0, div_final=100.0, pct_start=0.5, moms=(0.9, 0.7, 0.8))
    n = len(learn.dls.train)
    assert [r[0] for r in rec.lrs] == pytest.approx([one_cycle_lr(i / n, 0.1, 10.0, 100.0, 0.5) for i in range(n)])
    assert rec.moms == pytest.approx([one_cycle_mom(i / n, (0.9, 0.7, 0.8), 0.5) for i in range(n)])


def test_the_schedule_runs_over_the_whole_fit_and_callbacks_see_epoch_and_batch():
    rec = Record()
    learn = small_learner(cbs=[rec])
    nb = len(learn.dls.train)
    learn.fit_one_cycle(3, slice(1e-3, 1e-2))
    assert rec.epochs == [e for e in range(3) for _ in range(nb)] and rec.batches == list(range(nb)) * 3
    n = 3 * nb
    assert [r[1] for r in rec.lrs] == pytest.approx([one_cycle_lr(i / n, 1e-2) for i in range(n)])
    assert [r[0] for r in rec.lrs] == pytest.approx([one_cycle_lr(i / n, 1e-3) for i in range(n)])
    assert learn.batch_lrs == pytest.approx([r[1] for r in rec.lrs])  # the head's rate is the one recorded


def test_fine_tune_trains_the_head_frozen_then_all_groups_at_discriminative_rates():
    seen = []

    class Phase(Callback):
        def before_fit(self, state):
            seen.append({"frozen": not state.learn.model.body[0].weight.requires_grad, "lrs": []})

        def after_batch(self, state):
            seen[-1]["lrs"].append({g["layer_group"]: g["lr"] for g in state.learn.opt.param_groups})

    learn = small_learner(cbs=[Phase()])
    learn.fine_tune(2, base_lr=1e-2, freeze_epochs=1, lr_mult=10, pct_start=0.5, div=4.0)
    nb = len(learn.dls.train)
    frozen, unfrozen = seen
    assert frozen["frozen"] and not unfrozen["frozen"] and len(frozen["lrs"]) == nb
    assert [r[1] for r in frozen["lrs"]] == pytest.approx([one_cycle_lr(i / nb, 1e-2, pct_start=0.99)
                                                         for i in range(nb)])
    assert [r[0] for r in frozen["lrs"]] == pytest.approx([one_cycle_lr(i / nb, 1e-3, pct_start=0.99)
                                                         for i in range(nb)])
    n = 2 * nb
    assert [r[1] for r in unfrozen["lrs"]] == pytest.approx([one_cycle_lr(i / n, 5e-3, 4.0, pct_start=0.5)
                                                           for i in range(n)])
    assert [r[0] for r in unfrozen["lrs"]] == pytest.approx([one_cycle_lr(i / n, 5e-4, 4.0, pct_start=0.5)
                                                           for i in range(n)])


def test_fine_tune_defaults():
    seen = []

    class FirstRates(Callback):
        def after_batch(self, state):
            seen.append({g["layer_group"]: g["lr"] for g in state.learn.opt.param_groups})

    learn = small_learner(cbs=[FirstRates()])
    learn.fine_tune(1)
    nb = len(learn.dls.train)
    assert len(learn.history) == 2 and len(seen) == 2 * nb
    assert seen[0] == pytest.approx({0: 2e-4 / 25, 1: 2e-3 / 25})  # slice(2e-3): body 2e-4; div 25
    assert seen[nb] == pytest.approx({0: 1e-5 / 5, 1: 1e-3 / 5})  # base_lr / 2 / 100 and base_lr / 2; div 5
    assert max(r[1] for r in seen[nb:]) == pytest.approx(1e-3, rel=0.05)
    peak = max(range(nb, 2 * nb), key=lambda i: seen[i][1]) - nb
    assert abs(peak / nb - 0.3) <= 1 / nb + 1e-9  # pct_start 0.3


def test_each_fit_continues_the_same_optimizer_and_its_state():
    learn = small_learner()
    learn.fit(1, lr=1e-3)
    opt = learn.opt
    param = opt.param_groups[0]["params"][0]
    steps = float(opt.state[param]["step"])
    learn.fit(1, lr=1e-3)
    assert learn.opt is opt and float(opt.state[param]["step"]) == steps + len(learn.dls.train)


def test_after_a_fit_no_gradient_is_left_and_train_step_returns_a_detached_loss():
    learn = tiny_regression()
    learn.create_opt()
    batch = next(iter(learn.dls.train))
    loss = learn.train_step(batch)
    assert loss.ndim == 0 and not loss.requires_grad and loss.grad_fn is None
    assert all(p.grad is None for p in learn.model.parameters())
    learn.fit(1)
    assert all(p.grad is None for p in learn.model.parameters())


def test_train_loss_is_the_mean_of_the_epochs_batch_losses():
    learn = tiny_regression(n=96)
    learn.fit(2, lr=1e-2)
    nb = len(learn.dls.train)
    assert nb == 6
    for epoch in range(2):
        losses = learn.batch_losses[epoch * nb:(epoch + 1) * nb]
        assert learn.history.train_loss[epoch] == pytest.approx(sum(losses) / nb)
    assert learn.history.train_loss[0] != learn.history.train_loss[1]


def test_the_history_records_the_validation_and_a_duration_per_epoch():
    learn = small_learner()
    learn.fit(2, lr=1e-2)
    assert list(learn.history.columns) == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    last = learn.validate()
    assert learn.history.valid_loss.iloc[-1] == pytest.approx(last["valid_loss"])
    assert learn.history.accuracy.iloc[-1] == pytest.approx(last["accuracy"])
    assert all(0 < t < 60 for t in learn.history.time)


def test_model_is_in_train_mode_while_training_and_eval_mode_while_validating():
    modes = []

    class Spy(nn.Linear):
        def forward(self, x):
            modes.append(self.training)
            return super().forward(x)

    set_seed(0)
    learn = Learner(Spy(3, 1), small_regression_dls(), nn.MSELoss(), config=QUIET)
    learn.fit(1)
    assert modes == [True] * 4 + [False]  # 64 rows: 4 training batches, then 16 rows at 32


def test_every_epoch_tells_the_loaders_which_epoch_starts():
    learn = tiny_regression()
    epochs = []
    learn.dls.set_epoch = epochs.append
    learn.fit(2)
    learn.fit(1)
    assert epochs == [0, 1, 2]  # counted across fits, like the history


def test_a_callback_stopping_ends_the_fit_after_that_epoch_and_after_fit_still_runs():
    events = []

    class StopAt1(Callback):
        def after_epoch(self, state):
            events.append(state.epoch)
            state.stop = state.epoch == 1

        def after_fit(self, state):
            events.append("after_fit")

    learn = small_learner(cbs=[StopAt1()])
    learn.fit(5, lr=1e-3)
    assert events == [0, 1, "after_fit"] and len(learn.history) == 2


def test_every_callback_gets_every_hook_in_order():
    calls = []

    class Named(Callback):
        def __init__(self, name):
            self.name = name

        def before_batch(self, state):
            calls.append((self.name, "before_batch", state.batch))

        def after_batch(self, state):
            calls.append((self.name, "after_batch", float(state.loss) > 0))

    learn = tiny_regression(n=32)
    learn.cbs = [Named("a"), Named("b")]
    learn.fit(1)
    assert calls == [("a", "before_batch", 0), ("b", "before_batch", 0), ("a", "after_batch", True),
                     ("b", "after_batch", True), ("a", "before_batch", 1), ("b", "before_batch", 1),
                     ("a", "after_batch", True), ("b", "after_batch", True)]


def test_a_nan_loss_message_says_where_and_that_nothing_was_applied():
    learn = small_learner()
    learn.fit(1, lr=1e-3)
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    n_losses = len(learn.batch_losses)
    learn.dls.prepare = Poison()
    with pytest.raises(FloatingPointError) as e:
        learn.fit(1, lr=2e-3)
    assert "the loss became nan at epoch 0, batch 0 (learning rate 2.00e-03). That step was not applied" in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__
    # BatchNorm's running statistics included: its forward pass saw the NaN batch
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    assert len(learn.batch_losses) == n_losses and len(learn.history) == 1


def test_after_a_nan_mid_epoch_the_learner_validates_and_trains_again():
    learn = small_learner()
    learn.dls.prepare = PoisonFrom(2)
    with pytest.raises(FloatingPointError):
        learn.fit(1, lr=1e-2)
    assert bool(torch.isfinite(learn.model.body[1].running_mean).all())
    learn.dls.prepare = Prepare()
    learn.fit(1, lr=1e-2)
    assert math.isfinite(learn.validate()["valid_loss"]) and math.isfinite(learn.history.valid_loss.iloc[-1])


class PoisonFrom(Prepare):
    """Training batches turn to NaN from the ``n``-th training batch on."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self, batch, train):
        if not train:
            return batch
        self.seen += 1
        return (batch[0] * float("nan"), *batch[1:]) if self.seen > self.n else batch


def test_a_nan_later_in_an_epoch_reports_that_batch_and_keeps_the_steps_before_it():
    learn = small_learner()
    learn.dls.prepare = PoisonFrom(3)
    with pytest.raises(FloatingPointError, match=r"epoch 0, batch 3 \(learning rate 1.00e-02"):
        learn.fit(1, lr=1e-2)
    assert len(learn.batch_losses) == len(learn.batch_lrs) == len(learn.batch_moms) == 3
    assert all(map(math.isfinite, learn.batch_losses))
    assert all(p.grad is None for p in learn.model.parameters())


def test_validate_weights_batchwise_metrics_by_batch_size_and_names_the_columns():
    import functools

    def first_output(output, target):  # a mean over the batch's first column
        return output[:, 0].mean()

    set_seed(0)
    x = torch.randn(40, 3)
    y = torch.randn(40, 1)
    dls = DataLoaders.from_datasets(TensorDataset(x, y), TensorDataset(x[:25], y[:25]), bs=8, device=CPU)
    model = nn.Linear(3, 1)
    scaled = functools.partial(mse)
    learn = Learner(model, dls, nn.MSELoss(), metrics=[batchwise(first_output), scaled], config=QUIET)
    found = learn.validate()  # batches of 16 and 9: a weighted mean equals the whole-set mean
    with torch.no_grad():
        out = model(x[:25])
    assert list(found) == ["valid_loss", "first_output", "mse"]
    assert found["first_output"] == pytest.approx(float(out[:, 0].mean()), abs=1e-6)
    assert found["valid_loss"] == pytest.approx(float(nn.functional.mse_loss(out, y[:25])), abs=1e-6)
    assert found["mse"] == pytest.approx(found["valid_loss"], abs=1e-6)
    assert not model.training


def test_validate_an_empty_validation_set_is_nan():
    set_seed(0)
    x = torch.randn(16, 3)
    y = torch.randn(16, 1)
    dls = DataLoaders.from_datasets(TensorDataset(x, y), TensorDataset(x[:0], y[:0]), bs=8, device=CPU)
    found = Learner(nn.Linear(3, 1), dls, nn.MSELoss(), metrics=[batchwise(mse)], config=QUIET).validate()
    assert list(found) == ["valid_loss", "mse"] and all(math.isnan(v) for v in found.values())


def test_metric_name_reads_through_partials_and_falls_back_to_the_class_name():
    import functools

    from coursehelpers.learner import metric_name

    class Score:
        def __call__(self, output, target):
            return output.mean()

    assert metric_name(accuracy) == "accuracy"
    assert metric_name(functools.partial(functools.partial(accuracy))) == "accuracy"
    assert metric_name(Score()) == "Score"


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 1), nn.Linear(1, 1)

    def forward(self, x1, x2):
        return self.a(x1) + self.b(x2)


def test_a_model_with_two_inputs_trains_and_predicts_and_unlabelled_batches_give_no_targets():
    set_seed(0)
    x1, x2 = torch.randn(48, 2), torch.randn(48, 1)
    y = x1.sum(1, keepdim=True) + x2
    ds = TensorDataset(x1, x2, y)
    dls = DataLoaders.from_datasets(ds, ds, bs=16, device=CPU, n_inputs=2)
    learn = Learner(TwoInputs(), dls, nn.MSELoss(), config=QUIET)
    learn.fit(1, lr=1e-2)
    preds, targets = learn.get_preds()
    assert preds.shape == (48, 1) and torch.equal(targets, y)
    unlabelled = [(x1[:16], x2[:16]), (x1[16:], x2[16:])]
    out, none = learn.outputs(unlabelled)
    assert none is None and torch.allclose(out, preds, atol=1e-6)
    _, probs = learn.predict(x1[0], x2[0])
    assert torch.allclose(probs, preds[0], atol=1e-6)


def test_get_preds_reads_the_loader_given_and_prepares_it_as_asked():
    learn = small_learner()
    other = DataLoaders.from_datasets(*(TensorDataset(torch.randn(10, 2), torch.zeros(10).long()),) * 2,
                                      bs=4, device=CPU).valid_dl
    preds, targets = learn.get_preds(other)
    assert preds.shape == (10, 2) and torch.equal(targets, torch.zeros(10).long())

    class Shift(Prepare):
        def __init__(self):
            self.trains = []

        def __call__(self, batch, train):
            self.trains.append(train)
            return batch

    shift = Shift()
    learn.get_preds(other, train_tfms=True, prepare=shift)
    assert shift.trains == [True, True]
    learn.get_preds(other, prepare=shift)
    assert shift.trains == [True, True, False, False]


def test_tta_defaults_to_four_augmented_passes_weighted_three_quarters():
    learn = small_learner()
    learn.dls.prepare = jitter = Jitter()
    plain, _ = learn.get_preds()
    augmented = [learn.get_preds(train_tfms=True)[0] for _ in range(4)]
    jitter.reset()
    tta, _ = learn.tta()
    assert torch.allclose(tta, 0.75 * torch.stack(augmented).mean(0) + 0.25 * plain, atol=1e-6)
    jitter.reset()
    passes = []
    counting = type("Counting", (Prepare,), {"__call__": lambda s, b, t: passes.append((len(b[0]), t)) or b})()
    other = DataLoaders.from_datasets(*(TensorDataset(torch.randn(10, 2), torch.zeros(10).long()),) * 2,
                                      bs=4, device=CPU).valid_dl  # one batch of 8, one of 2
    tta, targets = learn.tta(dl=other, prepare=counting)  # both passed on to every pass
    assert passes == [(8, False), (2, False)] + [(8, True), (2, True)] * 4
    assert tta.shape == (10, 2) and torch.equal(targets, torch.zeros(10).long())


def test_predict_decodes_tags_for_a_multi_label_learner():
    set_seed(0)
    x = torch.randn(32, 2)
    y = torch.stack([x[:, 0] > 0, x[:, 1] > 0], 1).float()
    dls = DataLoaders.from_datasets(TensorDataset(x, y), TensorDataset(x, y), bs=8, device=CPU,
                                    classes=["left", "up"])
    learn = Learner(nn.Linear(2, 2), dls, nn.BCEWithLogitsLoss(), activation="sigmoid", config=QUIET)
    with torch.no_grad():
        learn.model.weight.copy_(torch.eye(2) * 10)
        learn.model.bias.zero_()
    assert learn.predict(torch.tensor([1.0, -1.0]))[0] == ["left"]
    tags, probs = learn.predict(torch.tensor([1.0, 1.0]))
    assert tags == ["left", "up"] and probs.shape == (2,) and bool((probs > 0.99).all())


def test_save_writes_under_models_with_or_without_the_optimizer_and_load_restores_both(tmp_path):
    learn = small_learner(path=tmp_path)
    assert learn.save("untrained") == tmp_path / "models" / "untrained.pth"
    assert set(torch.load(tmp_path / "models" / "untrained.pth", weights_only=True)) == {"model"}  # no opt yet
    learn.fit(1, lr=1e-2)
    learn.save("full")
    learn.save("weights", with_opt=False)
    assert set(torch.load(tmp_path / "models" / "full.pth", weights_only=True)) == {"model", "opt"}
    assert set(torch.load(tmp_path / "models" / "weights.pth", weights_only=True)) == {"model"}
    param = learn.opt.param_groups[0]["params"][0]
    saved_avg = learn.opt.state[param]["exp_avg"].clone()
    fresh = small_learner(path=tmp_path)
    assert fresh.load("full") is fresh and fresh.opt is not None  # an optimizer made to take the state
    fresh_param = fresh.opt.param_groups[0]["params"][0]
    assert torch.equal(fresh.opt.state[fresh_param]["exp_avg"], saved_avg)
    assert all(torch.equal(a, b) for a, b in zip(fresh.model.state_dict().values(), learn.model.state_dict().values()))
    no_opt = small_learner(path=tmp_path)
    no_opt.load("full", with_opt=False)
    assert no_opt.opt is None
    weights_only = small_learner(path=tmp_path)
    weights_only.load("weights")
    assert weights_only.opt is None


def test_save_creates_the_folders_it_needs(tmp_path):
    learn = small_learner(path=tmp_path / "runs" / "first")
    assert learn.save("m").is_file() and learn.load("m") is learn


def test_freeze_trains_only_the_last_of_three_groups():
    set_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 4), nn.Linear(4, 2))
    learn = Learner(model, classification_dls(n=100), nn.CrossEntropyLoss(), activation="softmax",
                    splitter=lambda m: [list(m[0].parameters()), list(m[1].parameters()), list(m[2].parameters())],
                    config=QUIET)
    learn.freeze()
    assert [p.requires_grad for p in model.parameters()] == [False, False, False, False, True, True]
    learn.unfreeze()
    assert all(p.requires_grad for p in model.parameters())


def test_an_epoch_without_training_batches_logs_a_nan_training_loss():
    from torch.utils.data import IterableDataset

    class Empty(IterableDataset):  # a stream of whole batches, as a language model's, that has none
        def __iter__(self):
            return iter(())

        def __len__(self):
            return 0

    set_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    dls = DataLoaders.from_datasets(Empty(), TensorDataset(x, y), bs=8, device=CPU)
    learn = Learner(nn.Linear(3, 1), dls, nn.MSELoss(), config=QUIET)
    learn.fit(1)
    assert math.isnan(learn.history.train_loss[0]) and math.isfinite(learn.history.valid_loss[0])
    assert learn.batch_losses == []


def test_export_writes_to_the_learners_path(tmp_path, monkeypatch):
    import coursehelpers.export as export

    written = []
    monkeypatch.setattr(export, "export_learner", lambda learn, file: written.append(file) or file)
    learn = small_learner(path=tmp_path)
    assert learn.export() == tmp_path / "export.pth" and learn.export("m.pth") == tmp_path / "m.pth"
    assert written == [tmp_path / "export.pth", tmp_path / "m.pth"]


def test_lr_find_passes_its_range_and_number_of_steps_through(monkeypatch):
    import coursehelpers.lr_finder as lr_finder

    calls = []
    monkeypatch.setattr(lr_finder, "lr_find", lambda *a: calls.append(a) or "result")
    learn = small_learner()
    assert learn.lr_find() == "result" and learn.lr_find(1e-5, 1.0, 30) == "result"
    assert calls == [(learn, 1e-7, 10.0, 100), (learn, 1e-5, 1.0, 30)]
