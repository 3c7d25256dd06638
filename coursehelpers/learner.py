"""`Learner`: a model, its `DataLoaders`, a loss and an optimizer, and the loop that trains them.

A batch is ``(*inputs, target)``: the model is called as ``model(*inputs)`` and
the loss as ``loss_func(output, target)``. Every step of `Learner.fit` is the
loop you would write by hand (forward, loss, backward, step, zero_grad); the
Learner adds the schedule, mixed precision, one line of history per epoch, and
checks that turn silent failures into clear errors. How it trains beyond that
is one small `TrainConfig`.

Example:
    >>> from torch.utils.data import TensorDataset
    >>> from coursehelpers.dataloaders import DataLoaders
    >>> _ = torch.manual_seed(0); x = torch.randn(512, 3); y = x @ torch.tensor([[1.], [2.], [3.]])
    >>> dls = DataLoaders.from_datasets(TensorDataset(x, y), TensorDataset(x, y), bs=32)
    >>> learn = Learner(nn.Linear(3, 1), dls, nn.MSELoss(), config=TrainConfig(log=False))
    >>> learn.fit_one_cycle(5, 0.5)
    >>> bool(learn.history.valid_loss.iloc[-1] < 0.01)
    True
"""
from __future__ import annotations

import contextlib
import math
import os
import pickle
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn

from coursehelpers import distributed
from coursehelpers.callbacks import Callback, FitState
from coursehelpers.config import TrainConfig, autocast_dtype
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.faults import FitGuard, NonFiniteLoss, check_n_outputs, checked_loss, nan_message
from coursehelpers.param_groups import freeze_to, optimizer_groups, set_hparams, single_group
from coursehelpers.schedule import one_cycle_lr, one_cycle_mom, spread_lrs

ACTIVATIONS: dict[str | None, Callable[[Tensor], Tensor]] = {
    "softmax": lambda x: torch.softmax(x, dim=-1), "sigmoid": torch.sigmoid, None: lambda x: x}
Schedule = Callable[[float], tuple[float, float | None]]  # fraction of training -> (lr scale, momentum)


def decode(probs: Tensor, activation: str | None, classes: Sequence[str] | None) -> object:
    """One prediction in words: the class (softmax), the tags above 0.5 (sigmoid), else the raw output.

    Example:
        >>> decode(torch.tensor([0.2, 0.8]), "softmax", ["cat", "dog"]), decode(torch.tensor([0.9, 0.7]), "sigmoid", ["a", "b"])
        ('dog', ['a', 'b'])
    """
    if activation == "softmax" and classes is not None:
        return classes[int(probs.argmax())]
    if activation == "sigmoid" and classes is not None:
        return [c for c, p in zip(classes, probs) if p > 0.5]
    return probs


def progress_bar(batches: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    """``batches`` wrapped in a tqdm bar when ``enabled``."""
    if not enabled:
        return batches
    from tqdm.auto import tqdm  # imported only when a bar is wanted

    return tqdm(batches, total=total, leave=False, desc=desc)


def print_row(row: dict, header: bool) -> None:
    """One line of history, right-aligned columns (and the column names first when ``header``)."""
    if header:
        print("  ".join(f"{k:>12}" for k in row))
    print("  ".join(f"{v:>12}" if isinstance(v, int) else f"{v:>12.4f}" for v in row.values()))


def load_plain(file: str | os.PathLike) -> object:
    """``torch.load`` of a file of tensors and plain data only; anything else is refused, saying why.

    Every checkpoint and export of the course is loaded through this (``weights_only=True``).
    """
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(
            f"{file} holds more than tensors and plain data, so it is refused: loading it could run code. "
            "If it is an export or checkpoint from an older version of the course, load it where it was "
            "made and save it again (learn.export() or learn.save()).") from e


def reset_state(model: nn.Module) -> None:
    """Stateful models (a language model carrying its LSTM state) start each pass fresh."""
    if hasattr(model, "reset"):
        model.reset()


class Learner:
    """Train ``model`` on ``dls`` with ``loss_func``; predictions go through ``activation``.

    ``activation`` ("softmax", "sigmoid" or None) turns raw outputs into
    predictions and says how `predict` reads them: a class name, a list of tags,
    or the raw value. ``splitter(model)`` returns parameter groups (for
    discriminative learning rates and freezing). ``model_spec`` tells `export`
    how to rebuild the model; the ``*_learner`` factories set it.
    """

    def __init__(self, model: nn.Module, dls: DataLoaders, loss_func: Callable | None,
                 metrics: Sequence[Callable] = (), activation: str | None = None,
                 splitter: Callable[[nn.Module], list[list[nn.Parameter]]] = single_group,
                 cbs: Sequence[Callback] = (), config: TrainConfig | None = None, path: str | Path = "."):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: use 'softmax', 'sigmoid' or None.")
        self.dls, self.loss_func, self.metrics, self.activation = dls, loss_func, list(metrics), activation
        self.splitter, self.cbs, self.path = splitter, list(cbs), Path(path)
        self.config = config if config is not None else TrainConfig()
        if activation is not None:
            check_n_outputs(model, dls.classes)
        self.model = model.to(dls.device)
        self.train_model = self.model  # what the training step calls: DistributedDataParallel under torchrun
        self.amp_dtype = autocast_dtype(self.config.precision, dls.device)
        # fp16 overflows where bf16 and fp32 do not: it needs its loss scaled, and unscaled before stepping.
        self.scaler = torch.amp.GradScaler(dls.device.type) if self.amp_dtype == torch.float16 else None
        self.opt: torch.optim.Optimizer | None = None
        self._stepping = False  # inside the optimizer's step: an error there may have half-applied it
        self.model_spec: dict | None = None
        self.history = pd.DataFrame()
        self.batch_losses: list[float] = []
        self.batch_lrs: list[float] = []
        self.batch_moms: list[float | None] = []

    @property
    def device(self) -> torch.device:
        return self.dls.device

    # ------------------------------------------------------------------ parameters
    def param_groups(self) -> list[list[nn.Parameter]]:
        return [list(g) for g in self.splitter(self.model)]

    def create_opt(self) -> torch.optim.Optimizer:
        """The optimizer, over `param_groups.optimizer_groups` (no weight decay on norm layers and biases)."""
        groups = optimizer_groups(self.model, self.param_groups(), self.config.wd, self.config.wd_bn_bias)
        self.opt = self.config.opt_func(groups, lr=self.config.lr)
        return self.opt

    def freeze_to(self, n: int) -> None:
        """Train only parameter groups ``n`` and after (norm layers keep training if ``train_bn``)."""
        freeze_to(self.model, self.param_groups(), n, self.config.train_bn)

    def freeze(self) -> None:
        """Train only the last group (the head)."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        """Train every group."""
        self.freeze_to(0)

    # ------------------------------------------------------------------ one step
    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def compute_loss(self, output: Tensor, target: Tensor) -> Tensor:
        return checked_loss(self.loss_func, output, target)

    def train_step(self, batch: Sequence[Tensor]) -> Tensor:
        """Forward, loss, backward, (clip), step, zero_grad on one batch; returns the detached loss.

        On the CPU a NaN or infinite loss stops here, before anything is applied: its forward pass
        changed the running statistics of norm layers (BatchNorm), so they are put back too.
        """
        cpu = self.device.type == "cpu"
        buffers = [b.clone() for b in self.model.buffers()] if cpu else []  # tiny: norm layers' statistics
        with self.autocast():
            output = self.train_model(*batch[:-1])
        loss = self.compute_loss(output, batch[-1])
        if cpu and not math.isfinite(value := loss.item()):  # free on the CPU: no GPU to wait for
            with torch.no_grad():
                for b, saved in zip(self.model.buffers(), buffers):
                    b.copy_(saved)
            raise NonFiniteLoss(value, -1, math.nan)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self._stepping = True
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self._stepping = False
        self.opt.zero_grad(set_to_none=True)
        return loss.detach()

    # ------------------------------------------------------------------ the loop
    def _callback(self, hook: str, state: FitState) -> None:
        for cb in self.cbs:
            getattr(cb, hook)(state)

    def _fit(self, n_epochs: int, lr: float | slice, schedule: Schedule) -> None:
        """The loop behind fit and fit_one_cycle: ``schedule(pct)`` scales each group's peak rate."""
        if self.opt is None:
            self.create_opt()
        peaks = spread_lrs(lr, len(self.param_groups()))
        state, guard = FitState(self, n_epochs, len(self.dls.train)), FitGuard(self)
        self.train_model = distributed.wrap(self.model)  # made per fit: freezing changes what DDP syncs
        self._callback("before_fit", state)
        try:
            with guard.interrupts:
                for state.epoch in range(n_epochs):
                    start = time.perf_counter()
                    self._callback("before_epoch", state)
                    self.dls.set_epoch(len(self.history))
                    train_loss = self._train_epoch(state, peaks, schedule, guard)
                    self._log_epoch(train_loss, time.perf_counter() - start)
                    self._callback("after_epoch", state)
                    if state.stop:
                        break
        except NonFiniteLoss as bad:
            raise FloatingPointError(nan_message(bad, state.epoch, guard.roll_back())) from None
        except torch.cuda.OutOfMemoryError as e:
            raise guard.out_of_memory() from e
        self._callback("after_fit", state)

    def _train_epoch(self, state: FitState, peaks: list[float], schedule: Schedule, guard: FitGuard) -> float:
        self.model.train()
        reset_state(self.model)
        losses, lr = guard.start_epoch(), math.nan
        bar = progress_bar(self.dls.train, state.n_batches, f"epoch {state.epoch}",
                           self.config.progress and distributed.is_main())
        try:
            for state.batch, batch in enumerate(bar):
                scale, mom = schedule((state.epoch * state.n_batches + state.batch) / (state.n_epochs * state.n_batches))
                set_hparams(self.opt, [p * scale for p in peaks], mom)
                lr = peaks[-1] * scale
                self._callback("before_batch", state)
                guard.interrupts.busy = True  # Ctrl-C lets this batch finish: its step whole and recorded
                state.loss = self.train_step(batch)
                losses.append(state.loss)
                self.batch_lrs.append(lr)
                self.batch_moms.append(mom)
                guard.interrupts.release()
                self._callback("after_batch", state)
                guard.after_step(last=state.batch == state.n_batches - 1)
        except NonFiniteLoss as bad:
            if bad.batch < 0:  # found by train_step on the CPU, before its step: say where
                raise NonFiniteLoss(bad.value, state.batch, lr) from None
            raise
        finally:  # whatever stopped the epoch: no gradient left over, every applied step recorded
            self.opt.zero_grad(set_to_none=True)
            self.batch_losses += torch.stack(losses).float().tolist() if losses else []
        mean = sum(self.batch_losses[-len(losses):]) / len(losses) if losses else math.nan
        return distributed.mean_over_processes(mean, self.dls.device)

    def _log_epoch(self, train_loss: float, seconds: float) -> None:
        row = {"epoch": len(self.history), "train_loss": train_loss, **self.validate(), "time": seconds}
        self.history = pd.concat([self.history, pd.DataFrame([row])], ignore_index=True)
        if self.config.log and distributed.is_main():
            print_row(row, header=row["epoch"] == 0)

    def fit(self, n_epochs: int, lr: float | slice | None = None) -> None:
        """Train for ``n_epochs`` at a constant learning rate (default: ``config.lr``)."""
        self._fit(n_epochs, lr if lr is not None else self.config.lr, lambda pct: (1.0, None))

    def fit_one_cycle(self, n_epochs: int, lr_max: float | slice | None = None, div: float = 25.0,
                      div_final: float = 1e5, pct_start: float = 0.25,
                      moms: tuple[float, float, float] = (0.95, 0.85, 0.95)) -> None:
        """Train with the one-cycle policy: the rate warms up then anneals, momentum does the opposite."""
        def schedule(pct: float) -> tuple[float, float]:
            return one_cycle_lr(pct, 1.0, div, div_final, pct_start), one_cycle_mom(pct, moms, pct_start)
        self._fit(n_epochs, lr_max if lr_max is not None else self.config.lr, schedule)

    def fine_tune(self, n_epochs: int, base_lr: float = 2e-3, freeze_epochs: int = 1, lr_mult: float = 100,
                  pct_start: float = 0.3, div: float = 5.0) -> None:
        """Transfer learning: the head with the body frozen, then everything with discriminative rates."""
        self.freeze()
        self.fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99)
        self.unfreeze()
        self.fit_one_cycle(n_epochs, slice(base_lr / 2 / lr_mult, base_lr / 2), pct_start=pct_start, div=div)

    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100):
        """The LR finder (see `coursehelpers.lr_finder.lr_find`): returns its suggestions."""
        from coursehelpers.lr_finder import lr_find

        return lr_find(self, start_lr, end_lr, num_it)

    # ------------------------------------------------------------------ evaluation and prediction
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss and metrics over the whole validation set.

        A metric sees every output at once (exact for RMSE or F2) unless it is marked
        `coursehelpers.metrics.batchwise`: then it is averaged over batches, weighted by their size.
        """
        self.model.eval()
        reset_state(self.model)
        per_batch = [m for m in self.metrics if getattr(m, "batchwise", False)]
        whole = [m for m in self.metrics if m not in per_batch]
        sums, count, outputs, targets = 0, 0, [], []
        for batch in self.dls.valid:
            with self.autocast():
                output = self.model(*batch[:-1]).float()
            n, target = len(batch[-1]), batch[-1]
            values = [self.compute_loss(output, target)] + [m(output, target).float() for m in per_batch]
            sums = sums + torch.stack(values) * n  # stays on the device: no wait per batch
            count += n
            if whole:  # language-model outputs are large: keep them only when a metric needs them all
                outputs.append(output)
                targets.append(target)
        if distributed.is_distributed():  # every process holds a slice of the validation set
            sums, count = distributed.all_sum(sums), round(distributed.mean_over_processes(count, self.device)
                                                           * distributed.world_size())
        means = (sums / count).tolist() if count else [math.nan] * (1 + len(per_batch))
        found = {"valid_loss": means[0], **{metric_name(m): v for m, v in zip(per_batch, means[1:])}}
        if outputs:
            output, target = distributed.gather_rows(torch.cat(outputs)), distributed.gather_rows(torch.cat(targets))
            found.update({metric_name(m): float(m(output, target)) for m in whole})
        return {"valid_loss": found["valid_loss"], **{metric_name(m): found[metric_name(m)] for m in self.metrics}}

    @torch.no_grad()
    def outputs(self, batches: Iterable[Sequence[Tensor]]) -> tuple[Tensor, Tensor | None]:
        """Raw model outputs (fp32) for prepared batches, and their targets when the batches have them."""
        self.model.eval()
        reset_state(self.model)
        n, outs, targs = self.dls.n_inputs, [], []
        for batch in batches:
            with self.autocast():
                outs.append(self.model(*batch[:n]).float())
            if len(batch) > n:
                targs.append(batch[n])
        out = distributed.gather_rows(torch.cat(outs))  # the whole set, in order, on every process
        return out, (distributed.gather_rows(torch.cat(targs)) if targs else None)

    def get_preds(self, dl: Iterable | None = None, train_tfms: bool = False,
                  prepare: Callable | None = None) -> tuple[Tensor, Tensor | None]:
        """Predictions (after the activation) and targets for a DataLoader (default: validation).

        ``train_tfms`` prepares batches as for training (augmented); ``prepare``
        replaces the task's preparation for this call.
        """
        batches = self.dls.batches(dl if dl is not None else self.dls.valid_dl, train_tfms, prepare)
        out, targets = self.outputs(batches)
        return ACTIVATIONS[self.activation](out), targets

    def tta(self, dl: Iterable | None = None, n: int = 4, beta: float = 0.25,
            prepare: Callable | None = None) -> tuple[Tensor, Tensor | None]:
        """Test-time augmentation: ``(1 - beta) * mean of n augmented passes + beta * plain pass``."""
        plain, targets = self.get_preds(dl, prepare=prepare)
        augmented = torch.stack([self.get_preds(dl, True, prepare)[0] for _ in range(n)]).mean(0)
        return torch.lerp(augmented, plain, beta), targets

    @torch.no_grad()
    def predict(self, *item: object) -> tuple[object, Tensor]:
        """Predict ONE item, prepared exactly like a validation item; returns (decoded, probabilities).

        decoded is a class name (softmax), the tags above 0.5 (sigmoid) or the raw output.
        """
        batch = self.dls.prepare(self.dls.to_device(self.dls.prepare.encode(*item)), train=False)
        out, _ = self.outputs([batch])
        probs = ACTIVATIONS[self.activation](out)[0]
        return decode(probs, self.activation, self.dls.classes), probs

    # ------------------------------------------------------------------ saving
    def save(self, name: str, with_opt: bool = True) -> Path:
        """Save the weights (and optimizer state) to ``<path>/models/<name>.pth``."""
        file = self.path / "models" / f"{name}.pth"
        if distributed.is_main():  # under torchrun every process holds the same weights: one writes
            file.parent.mkdir(parents=True, exist_ok=True)
            state = {"model": self.model.state_dict()}
            if with_opt and self.opt is not None:
                state["opt"] = self.opt.state_dict()
            torch.save(state, file)
        distributed.barrier()  # the others may load it next
        return file

    def load(self, name: str, with_opt: bool = True) -> "Learner":
        """Load weights (and optimizer state, if saved) from ``<path>/models/<name>.pth``."""
        state = load_plain(self.path / "models" / f"{name}.pth")
        self.model.load_state_dict(state["model"])
        if with_opt and "opt" in state:
            (self.opt or self.create_opt()).load_state_dict(state["opt"])
        return self

    def export(self, fname: str | Path = "export.pth") -> Path:
        """Save what prediction needs to ``<path>/<fname>`` (see `coursehelpers.export`)."""
        from coursehelpers.export import export_learner

        return export_learner(self, self.path / fname)


def metric_name(metric: Callable) -> str:
    """A metric's column name: its function name (also through functools.partial)."""
    while hasattr(metric, "func"):
        metric = metric.func
    return getattr(metric, "__name__", type(metric).__name__)
