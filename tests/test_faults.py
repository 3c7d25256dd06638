"""Faults during training lose nothing (issue 10, items 8-12): Ctrl-C, errors, NaN, out of memory, mistakes."""
import math
import os
import signal

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers.callbacks import Callback, EarlyStopping, SaveBestModel
from coursehelpers.config import TrainConfig
from coursehelpers.core import set_seed
from coursehelpers.dataloaders import DataLoaders, Prepare
from coursehelpers.faults import out_of_memory_advice
from coursehelpers.learner import Learner

CPU = torch.device("cpu")


def dls(n=480, bs=32, device=CPU):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).long()
    return DataLoaders.from_datasets(TensorDataset(x[:400], y[:400]), TensorDataset(x[400:], y[400:]),
                                     bs=bs, device=device, classes=["different", "same"])


def make_learner(model=None, device=CPU, **config):
    set_seed(0)
    model = model or nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    return Learner(model, dls(device=device), nn.CrossEntropyLoss(), activation="softmax",
                   config=TrainConfig(log=False, **config))


def weights(learn):
    return {k: v.clone() for k, v in learn.model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def after_steps(n, lr=1e-2):
    """The weights after exactly n steps of fit(1, lr) at a constant rate, stopped cleanly."""
    learn = make_learner()

    class Stop(Callback):
        def before_batch(self, state):
            if state.batch == n:
                raise StopIteration  # stop before step n (an error type the test does not otherwise use)

    learn.cbs = [Stop()]
    with pytest.raises(StopIteration):
        learn.fit(1, lr)
    return weights(learn)


class RaiseAt(Callback):
    """Raise ``error`` in ``hook`` at batch ``at`` of the first epoch."""

    def __init__(self, hook, at, error):
        self.hook, self.at, self.error = hook, at, error

    def __getattribute__(self, name):
        if name in ("before_batch", "after_batch") and name == object.__getattribute__(self, "hook"):
            def hook(state):
                if state.epoch == 0 and state.batch == object.__getattribute__(self, "at"):
                    raise object.__getattribute__(self, "error")
            return hook
        return object.__getattribute__(self, name)


def test_ctrl_c_before_a_step_leaves_the_last_completed_step_and_fit_continues():
    learn = make_learner()
    learn.cbs = [RaiseAt("before_batch", 5, KeyboardInterrupt())]
    with pytest.raises(KeyboardInterrupt):
        learn.fit(1, 1e-2)
    assert same(weights(learn), after_steps(5))
    assert all(p.grad is None for p in learn.model.parameters())
    assert len(learn.history) == 0 and len(learn.batch_losses) == len(learn.batch_lrs) == 5
    learn.cbs = []
    learn.fit(1, 1e-2)  # continues: the optimizer state is intact
    assert len(learn.history) == 1 and len(learn.batch_losses) == 5 + len(learn.dls.train)


class FailInBackward(torch.autograd.Function):
    """Identity forward; its backward raises, after the layers above it already got their gradients."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("an error in the backward pass")


def test_an_error_in_the_backward_pass_applies_nothing_and_clears_the_gradients():
    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.net, self.calls = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)), 0

        def forward(self, x):
            self.calls += 1
            h = self.net[1](self.net[0](x))
            return self.net[2](FailInBackward.apply(h) if self.calls == 4 else h)

    set_seed(0)  # the same initial weights as the reference
    learn = make_learner(model=Fails())
    with pytest.raises(RuntimeError, match="backward pass"):
        learn.fit(1, 1e-2)
    reference = after_steps(3)
    assert same({f"net.{k}": v for k, v in reference.items()}, weights(learn))
    assert all(p.grad is None for p in learn.model.parameters())  # the head's gradient was already there


def test_ctrl_c_inside_the_optimizer_step_waits_until_the_step_is_whole():
    learn = make_learner()
    opt = learn.create_opt()
    original, calls = opt.step, []

    def step_interrupted_halfway():
        calls.append(1)
        if len(calls) == 3:  # the signal arrives in the middle of the third step
            first = [p.clone() for g in opt.param_groups for p in g["params"]]
            os.kill(os.getpid(), signal.SIGINT)
            original()
            assert any(not torch.equal(a, p) for a, p in zip(first, (p for g in opt.param_groups for p in g["params"])))
        else:
            original()

    opt.step = step_interrupted_halfway
    with pytest.raises(KeyboardInterrupt):
        learn.fit(1, 1e-2)
    assert same(weights(learn), after_steps(3))  # the third step was applied whole
    assert len(learn.batch_losses) == 3


def test_a_nan_loss_on_the_cpu_is_stopped_before_its_step():
    class PoisonAt(Prepare):
        def __init__(self):
            self.n = 0

        def __call__(self, batch, train):
            self.n += train
            return (batch[0] * float("nan"), *batch[1:]) if train and self.n == 6 else batch

    learn = make_learner()
    learn.dls.prepare = PoisonAt()
    with pytest.raises(FloatingPointError, match=r"epoch 0, batch 5 .*That step was not applied.*used again"):
        learn.fit(1, 1e-2)
    assert same(weights(learn), after_steps(5))
    assert len(learn.batch_losses) == 5 and all(map(math.isfinite, learn.batch_losses))
    learn.fit(1, 1e-2)  # usable again
    assert math.isfinite(learn.history.valid_loss.iloc[-1])


def test_on_a_gpu_a_nan_found_at_the_periodic_check_rolls_back_to_the_last_good_check(monkeypatch, device):
    # The GPU path (check every 32 steps, snapshot at each good check). On the CPU it runs by making the
    # Learner believe it is on CUDA: tensors stay where the DataLoaders put them.
    if device.type == "cpu":
        monkeypatch.setattr(Learner, "device", property(lambda self: torch.device("cuda")))

    class PoisonAt(Prepare):
        def __init__(self):
            self.n = 0

        def __call__(self, batch, train):
            self.n += train
            return (batch[0] * float("nan"), *batch[1:]) if train and self.n == 40 else batch

    learn = make_learner(device=device)
    learn.dls.prepare = PoisonAt()
    with pytest.raises(FloatingPointError, match=r"epoch 3, batch 3 .*last 12 steps were undone"):
        learn.fit(10, 1e-3)  # 12 batches an epoch: the poison is step 40, checks at steps 32 and 36 (epoch end)
    reference = make_learner(device=device)
    reference.fit(3, 1e-3)  # 36 steps: the last good check was the end of epoch 2
    assert same(weights(learn), weights(reference))
    assert len(learn.batch_losses) == len(learn.batch_lrs) == 36


class OutOfMemoryAt(nn.Module):
    """A linear layer whose forward pass raises CUDA's out-of-memory error on call number ``n``."""

    def __init__(self, n: int):
        super().__init__()
        self.net, self.n, self.calls = nn.Linear(2, 2), n, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.n:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.net(x)


def test_cuda_out_of_memory_frees_the_gradients_and_gives_advice_true_for_the_settings():
    learn = make_learner(model=OutOfMemoryAt(3), precision="fp32")
    with pytest.raises(RuntimeError, match=r"now 32: try bs=16.*precision='fp32'") as info:
        learn.fit(1, 1e-2)
    assert "weights are as of the last completed step" in str(info.value)
    assert all(p.grad is None for p in learn.model.parameters()) and len(learn.batch_losses) == 2
    learn = make_learner(model=OutOfMemoryAt(3), precision="bf16")
    with pytest.raises(RuntimeError) as info:
        learn.fit(1, 1e-2)
    assert "mixed precision" not in str(info.value)  # already on: not advised


def test_out_of_memory_advice_fits_the_settings():
    assert out_of_memory_advice(None, "fp32", False, None) == (
        "CUDA ran out of memory. The batch and the gradients were freed, and the weights are as of the last "
        "completed step. Try a smaller batch size, or mixed precision (now precision='fp32': try "
        "TrainConfig(precision='bf16')); restarting the kernel frees everything else.")
    assert "Try a smaller batch size (now 5: try bs=2), or smaller images (now size=224);" in \
        out_of_memory_advice(5, "bf16", True, 224)
    assert "(now 1: try bs=1);" in out_of_memory_advice(1, "auto", True, None)


def test_out_of_memory_inside_the_optimizer_step_undoes_the_half_applied_step(monkeypatch):
    # On a GPU the snapshot of the last check (here: the start of the fit) is put back; faked as in the NaN test.
    monkeypatch.setattr(Learner, "device", property(lambda self: torch.device("cuda")))

    class Sized(Prepare):
        size = 224  # as ImagePrepare: the advice names the image size

    learn = make_learner(precision="fp32")
    learn.dls.prepare = Sized()
    start, opt = weights(learn), learn.create_opt()
    original, calls = opt.step, []

    def step_runs_out_of_memory_halfway():
        calls.append(1)
        if len(calls) < 3:
            return original()
        with torch.no_grad():
            next(learn.model.parameters()).add_(1.0)  # the first tensors were updated, then memory ran out
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    opt.step = step_runs_out_of_memory_halfway
    with pytest.raises(RuntimeError, match=r"now 32: try bs=16.*smaller images \(now size=224\)"):
        learn.fit(1, 1e-2)
    assert same(weights(learn), start) and learn.batch_losses == [] == learn.batch_lrs
    assert all(p.grad is None for p in learn.model.parameters())


def test_a_plain_function_loss_may_not_broadcast_a_column_against_a_vector():
    x = torch.randn(64, 3)
    ds = TensorDataset(x, x.sum(1))  # targets [B]
    learn = Learner(nn.Linear(3, 1), DataLoaders.from_datasets(ds, ds, bs=16, device=CPU), F.mse_loss,
                    config=TrainConfig(log=False))
    with pytest.raises(ValueError, match=r"\(16, 1\).*\(16,\).*mse_loss"):
        learn.fit(1)


def test_a_head_with_the_wrong_number_of_outputs_is_an_error_when_the_learner_is_made():
    with pytest.raises(ValueError, match="3 outputs but the DataLoaders have 2 classes"):
        Learner(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)), dls(), nn.CrossEntropyLoss(),
                activation="softmax")


def test_monitors_reject_an_unknown_mode_or_column():
    with pytest.raises(ValueError, match="'min'.*'max'"):
        EarlyStopping(mode="minimum")
    learn = make_learner()
    learn.cbs = [SaveBestModel(monitor="valid_accuracy")]
    with pytest.raises(ValueError, match=r"valid_accuracy.*\['train_loss', 'valid_loss'\]"):
        learn.fit(1, 1e-2)


def test_lr_find_puts_everything_back_even_after_ctrl_c():
    learn = make_learner()
    learn.fit(1, 1e-2)
    before, opt_before = weights(learn), {k: v.clone() for k, v in next(iter(learn.opt.state.values())).items()}
    learn.model.eval()
    calls = []

    def interrupted_loss(out, y):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return F.cross_entropy(out, y)

    learn.loss_func = interrupted_loss
    with pytest.raises(KeyboardInterrupt):
        learn.lr_find(num_it=50)
    assert same(weights(learn), before) and not learn.model.training
    assert same(opt_before, next(iter(learn.opt.state.values())))
    assert all(p.grad is None for p in learn.model.parameters())
    with pytest.raises(ValueError, match="at least 10 iterations"):
        learn.lr_find(num_it=5)


def test_a_checkpoint_holding_code_is_refused(tmp_path):
    learn = make_learner()
    learn.path = tmp_path
    (tmp_path / "models").mkdir()
    torch.save({"model": learn.model}, tmp_path / "models" / "pickled.pth")  # a module: needs unpickling code
    with pytest.raises(ValueError, match="refused: loading it could run code"):
        learn.load("pickled")


def test_on_a_gpu_out_of_memory_in_a_forward_pass_keeps_the_steps_already_taken(monkeypatch):
    # Outside the optimizer's step nothing is half-applied: the snapshot of the last check is not put back.
    monkeypatch.setattr(Learner, "device", property(lambda self: torch.device("cuda")))

    learn = make_learner(model=OutOfMemoryAt(4), precision="fp32")
    start = weights(learn)
    with pytest.raises(RuntimeError, match="CUDA ran out of memory"):
        learn.fit(1, 1e-2)
    assert len(learn.batch_losses) == len(learn.batch_lrs) == 3 and not same(weights(learn), start)
    assert all(p.grad is None for p in learn.model.parameters())


def test_on_a_gpu_a_nan_in_an_epochs_first_batch_is_reported_at_that_batch(monkeypatch):
    monkeypatch.setattr(Learner, "device", property(lambda self: torch.device("cuda")))

    class PoisonAt(Prepare):
        def __init__(self):
            self.n = 0

        def __call__(self, batch, train):
            self.n += train
            return (batch[0] * float("nan"), *batch[1:]) if train and self.n == 25 else batch

    learn = make_learner()
    learn.dls.prepare = PoisonAt()
    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 0 \(learning rate 1.00e-03\)"):
        learn.fit(5, 1e-3)  # 12 batches an epoch: the 25th is epoch 2's first, found at the epoch's end


def test_the_nan_messages_say_whether_steps_were_undone_and_what_to_try():
    from coursehelpers.faults import NonFiniteLoss, nan_message

    bad = NonFiniteLoss(float("inf"), 7, 3e-3)
    assert str(bad) == "loss inf at batch 7" and (bad.value, bad.batch, bad.lr) == (math.inf, 7, 3e-3)
    tail = (": the weights and optimizer are as after the last finite step, so the Learner can be used again. "
            "Try a lower learning rate (see lr_find), gradient clipping (TrainConfig(grad_clip=1.0)), or check "
            "the inputs and targets for NaN or infinite values.")
    assert nan_message(bad, 2, 0) == ("Training stopped: the loss became inf at epoch 2, batch 7 (learning rate "
                                      "3.00e-03). That step was not applied" + tail)
    assert nan_message(bad, 0, 5) == ("Training stopped: the loss became inf at epoch 0, batch 7 (learning rate "
                                      "3.00e-03). The last 5 steps were undone (a GPU checks every 32)" + tail)


def test_first_bad_finds_the_first_non_finite_loss():
    from coursehelpers.faults import first_bad

    t = torch.tensor
    assert first_bad([]) is None and first_bad([t(1.0), t(2.0)]) is None
    assert first_bad([t(1.0), t(float("nan")), t(float("inf"))]) == 1
    assert first_bad([t(float("-inf")), t(1.0)]) == 0


def test_a_snapshot_restores_weights_and_optimizer_and_counts_the_undone_steps():
    from coursehelpers.faults import Snapshot

    model = nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    snap = Snapshot(model, opt)
    start = weights_of(model)
    for _ in range(3):
        model(torch.ones(4, 2)).sum().backward()
        opt.step()
        snap.steps += 1
    assert snap.restore() == 3 and snap.steps == 0 and same(weights_of(model), start) and opt.state_dict()["state"] == {}
    assert snap.restore() == 0
    model(torch.ones(4, 2)).sum().backward()
    opt.step()
    snap.steps = 1
    snap.take()  # a new copy: restoring now changes nothing
    after_one = weights_of(model)
    assert snap.steps == 0 and snap.restore() == 0 and same(weights_of(model), after_one)
    moments = {k: v.clone() for k, v in opt.state[model.weight].items()}
    model(torch.ones(4, 2)).sum().backward()
    opt.step()  # Adam updates its moments in place: the copy, restored once already, must not share them
    snap.restore()
    assert same(weights_of(model), after_one) and same({k: v for k, v in opt.state[model.weight].items()}, moments)
    snap.take()  # the copy is taken of the moments, not of the tensors the next steps update in place
    for _ in range(2):
        model(torch.ones(4, 2)).sum().backward()
        opt.step()
    snap.restore()
    assert same(weights_of(model), after_one) and same({k: v for k, v in opt.state[model.weight].items()}, moments)


def weights_of(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_ctrl_c_outside_a_batch_is_raised_at_once_and_the_handler_is_put_back():
    from coursehelpers.faults import HeldInterrupts

    before = signal.getsignal(signal.SIGINT)
    with HeldInterrupts() as held:
        assert signal.getsignal(signal.SIGINT) == held._handler
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # not busy: raised by the handler at once
        held.busy = True
        os.kill(os.getpid(), signal.SIGINT)  # held
        assert held.pending
        with pytest.raises(KeyboardInterrupt):
            held.release()
        assert not held.busy and not held.pending
        held.release()  # nothing pending: nothing raised
    assert signal.getsignal(signal.SIGINT) == before


def test_held_interrupts_off_the_main_thread_installs_no_handler():
    import threading

    from coursehelpers.faults import HeldInterrupts

    before, seen = signal.getsignal(signal.SIGINT), []

    def in_thread():
        with HeldInterrupts() as held:
            seen.append((held.previous, signal.getsignal(signal.SIGINT)))

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen == [(None, before)] and signal.getsignal(signal.SIGINT) == before


def test_the_loss_is_computed_in_fp32_and_a_loss_that_cannot_compare_says_why():
    from coursehelpers.faults import checked_loss

    seen = []
    loss = checked_loss(lambda o, t: seen.append(o.dtype) or o.sum(), torch.ones(2, 3, dtype=torch.float16),
                        torch.ones(2, 3))
    assert seen == [torch.float32] and loss.dtype == torch.float32
    with pytest.raises(ValueError) as e:
        checked_loss(nn.MSELoss(), torch.ones(4, 1), torch.ones(4))
    assert str(e.value) == ("The model's output has shape (4, 1) but the targets have shape (4,); MSELoss compares "
                            "them element by element, so they must be equal. Reshape the output (for example "
                            "`.squeeze(-1)`) or the targets.")
    with pytest.raises(ValueError) as e:
        checked_loss(nn.CrossEntropyLoss(), torch.ones(4, 2), torch.tensor([0, 1, 5, 0]))
    assert str(e.value).startswith("The loss could not compare the model's output of shape (4, 2) with targets "
                                   "of shape (4,) (torch.int64): ")
    assert isinstance(e.value.__cause__, (IndexError, RuntimeError))
    assert checked_loss(nn.CrossEntropyLoss(), torch.zeros(3, 2), torch.tensor([0, 1, 0])) == pytest.approx(math.log(2))


def test_the_wrong_head_message_names_the_layer_and_the_classes():
    from coursehelpers.faults import check_n_outputs

    model = nn.Sequential(nn.Linear(2, 8), nn.Linear(8, 3))
    with pytest.raises(ValueError) as e:
        check_n_outputs(model, ["a", "b", "c", "d", "e", "f"])
    assert str(e.value) == ("The model's last layer, Linear(in_features=8, out_features=3, bias=True), has 3 outputs "
                            "but the DataLoaders have 6 classes (['a', 'b', 'c', 'd', 'e']...): build the head with "
                            "one output per class, e.g. n_out=dls.c.")
    check_n_outputs(model, ["a", "b", "c"])
    check_n_outputs(model, None)  # no classes: nothing to check
    check_n_outputs(nn.Conv2d(1, 3, 1), ["a"])  # no linear layer: nothing to check


def test_on_a_gpu_a_long_epoch_is_checked_every_32_steps(monkeypatch):
    from coursehelpers.schedule import one_cycle_lr

    monkeypatch.setattr(Learner, "device", property(lambda self: torch.device("cuda")))

    class PoisonAt(Prepare):
        def __init__(self):
            self.n = 0

        def __call__(self, batch, train):
            self.n += train
            return (batch[0] * float("nan"), *batch[1:]) if train and self.n == 35 else batch

    def learner():
        set_seed(0)
        return Learner(nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)), dls(bs=10),
                       nn.CrossEntropyLoss(), activation="softmax", config=TrainConfig(log=False))

    learn = learner()  # 40 batches an epoch: checks after step 32 and at the epoch's end
    learn.dls.prepare = PoisonAt()
    lr = f"{one_cycle_lr(34 / 40, 1e-2):.2e}"
    with pytest.raises(FloatingPointError, match=rf"the loss became nan at epoch 0, batch 34 \(learning rate {lr}\)"
                                                  r"\. The last 8 steps were undone"):
        learn.fit_one_cycle(1, 1e-2)
    assert len(learn.batch_losses) == len(learn.batch_lrs) == len(learn.batch_moms) == 32

    class StopAt32(Callback):
        def before_batch(self, state):
            if state.batch == 32:
                raise StopIteration

    reference = learner()
    reference.cbs = [StopAt32()]
    with pytest.raises(StopIteration):
        reference.fit_one_cycle(1, 1e-2)
    assert same(weights(learn), weights(reference))
