"""learner: the training loop on tiny synthetic tasks, each check able to fail."""
import math

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


def test_course_max_batches_cuts_the_lr_finder_sweep_short_but_not_below_ten(monkeypatch):
    monkeypatch.setenv("COURSE_MAX_BATCHES", "3")
    learn = make_learner()
    assert len(learn.lr_find(num_it=100).curve) <= 10
