"""The training loop: `DataLoaders` (data on the device) and `Learner` (model + loss + optimizer).

A batch is a tuple ``(*inputs, target)``; the model is called as
``model(*inputs)`` and the loss as ``loss_func(output, target)``. Every step of
`Learner.fit` is the loop you would write by hand (forward, loss, backward,
step, zero_grad); the Learner adds the schedule, mixed precision, logging and
the checks that turn silent failures into clear errors.

Example:
    >>> from torch.utils.data import TensorDataset
    >>> x = torch.randn(64, 3); y = x @ torch.tensor([1., 2., 3.])
    >>> ds = TensorDataset(x, y)
    >>> dls = DataLoaders.from_datasets(ds, ds, batch_size=16, device=torch.device("cpu"))
    >>> learn = Learner(torch.nn.Linear(3, 1), dls, loss_func=torch.nn.MSELoss(), progress=False)
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from coursehelpers.core import default_device, seed_worker
from coursehelpers.schedule import LRSuggestion, one_cycle_lr, one_cycle_mom, spread_lrs, suggest_lrs

NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
# Losses that compare output and target element by element: their shapes must match exactly,
# or broadcasting silently computes the wrong thing.
ELEMENTWISE_LOSSES = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCEWithLogitsLoss, nn.BCELoss)


# ----------------------------------------------------------------------------- data on the device

def normalize(x: Tensor, stats: tuple[Sequence[float], Sequence[float]] | None) -> Tensor:
    """Per-channel (x - mean) / std over dim 1; no-op when stats is None."""
    if stats is None:
        return x
    shape = (1, -1) + (1,) * (x.dim() - 2)
    mean = torch.as_tensor(stats[0], dtype=x.dtype, device=x.device).view(shape)
    std = torch.as_tensor(stats[1], dtype=x.dtype, device=x.device).view(shape)
    return (x - mean) / std


def to_float_image(x: Tensor) -> Tensor:
    """uint8 images (0-255) become floats in [0, 1]; anything else is returned unchanged."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


class DataLoaders:
    """A training and a validation DataLoader, plus what a lesson needs to know about them.

    Batches leave the CPU with non-blocking copies (from pinned memory when the
    DataLoader pins it, as `from_datasets` does on CUDA). On the device the first
    input is turned from uint8 to float, transformed (``train_tfm`` on training
    batches, ``valid_tfm`` on validation batches) and normalised with ``norm_stats``.

    Example:
        >>> dls = DataLoaders.from_datasets(train_ds, valid_ds, batch_size=64)  # doctest: +SKIP
        >>> xb, yb = dls.one_batch()                                           # doctest: +SKIP
    """

    def __init__(self, train: DataLoader, valid: DataLoader, device: torch.device | None = None,
                 classes: list[str] | None = None,
                 norm_stats: tuple[Sequence[float], Sequence[float]] | None = None,
                 train_tfm: Callable[[Tensor], Tensor] | None = None,
                 valid_tfm: Callable[[Tensor], Tensor] | None = None, n_inputs: int = 1):
        self.train_dl, self.valid_dl = train, valid
        self.device = device if device is not None else default_device()
        self.classes, self.norm_stats, self.n_inputs = classes, norm_stats, n_inputs
        self.train_tfm, self.valid_tfm = train_tfm, valid_tfm

    @classmethod
    def from_datasets(cls, train_ds: Dataset, valid_ds: Dataset, batch_size: int = 64,
                      device: torch.device | None = None, num_workers: int = 0,
                      generator: torch.Generator | None = None, collate_fn: Callable | None = None,
                      drop_last: bool = False, **kwargs) -> "DataLoaders":
        """Build both DataLoaders: shuffled training batches, pinned memory on CUDA, seeded workers.

        Extra keyword arguments (classes, norm_stats, train_tfm, ...) go to `DataLoaders`.
        """
        device = device if device is not None else default_device()
        common = dict(batch_size=batch_size, num_workers=num_workers, collate_fn=collate_fn,
                      pin_memory=device.type == "cuda", worker_init_fn=seed_worker,
                      persistent_workers=num_workers > 0)
        train = DataLoader(train_ds, shuffle=True, drop_last=drop_last, generator=generator, **common)
        valid = DataLoader(valid_ds, shuffle=False, **common)
        return cls(train, valid, device=device, **kwargs)

    @property
    def c(self) -> int:
        """Number of classes."""
        return len(self.classes) if self.classes is not None else 0

    def to_device(self, batch) -> tuple:
        """Move every tensor of a batch to the device (non-blocking when the source is pinned)."""
        batch = batch if isinstance(batch, (tuple, list)) else (batch,)
        return tuple(t.to(self.device, non_blocking=True) if isinstance(t, Tensor) else t for t in batch)

    def prepare(self, batch, augment: bool) -> tuple:
        """Device copy, then uint8 -> float, transform and normalise the first input."""
        batch = self.to_device(batch)
        x = to_float_image(batch[0])
        tfm = self.train_tfm if augment else self.valid_tfm
        if tfm is not None:
            x = tfm(x)
        return (normalize(x, self.norm_stats), *batch[1:])

    def denormalize(self, x: Tensor) -> Tensor:
        """Undo the normalisation, for showing images."""
        if self.norm_stats is None:
            return x
        mean, std = self.norm_stats
        return normalize(x, ([-m / s for m, s in zip(mean, std)], [1 / s for s in std]))

    def batches(self, dl: DataLoader, augment: bool) -> "DeviceBatches":
        """Iterate any DataLoader as prepared batches on this device."""
        return DeviceBatches(self, dl, augment)

    @property
    def train(self) -> "DeviceBatches":
        return DeviceBatches(self, self.train_dl, augment=True)

    @property
    def valid(self) -> "DeviceBatches":
        return DeviceBatches(self, self.valid_dl, augment=False)

    def one_batch(self, split: str = "train") -> tuple:
        """The first prepared batch of ``split`` ("train" or "valid")."""
        return next(iter(self.train if split == "train" else self.valid))


class DeviceBatches:
    """An iterable over a DataLoader whose batches come out prepared on the device."""

    def __init__(self, dls: DataLoaders, dl: DataLoader, augment: bool):
        self.dls, self.dl, self.augment = dls, dl, augment

    def __len__(self) -> int:
        return len(self.dl)

    def __iter__(self):
        for batch in self.dl:
            yield self.dls.prepare(batch, self.augment)


# ----------------------------------------------------------------------------- learner pieces

def adamw(params, lr: float) -> torch.optim.Optimizer:
    """AdamW with fastai's defaults: betas (0.9, 0.99), eps 1e-5; weight decay is set per group."""
    return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), eps=1e-5)


def single_group(model: nn.Module) -> list[list[nn.Parameter]]:
    """The default splitter: all parameters in one group."""
    return [list(model.parameters())]


def default_activation(loss_func) -> Callable[[Tensor], Tensor]:
    """The function that turns raw outputs into predictions for this loss.

    softmax for cross-entropy, sigmoid for binary cross-entropy with logits, identity otherwise.
    """
    name = getattr(loss_func, "__name__", type(loss_func).__name__).lower()
    if "crossentropy" in name or name == "cross_entropy":
        return partial(torch.softmax, dim=-1)
    if "bcewithlogits" in name or name == "binary_cross_entropy_with_logits":
        return torch.sigmoid
    return nn.Identity()


def metric_name(metric: Callable) -> str:
    """A metric's column name: its function name (also through functools.partial)."""
    while isinstance(metric, partial):
        metric = metric.func
    return getattr(metric, "__name__", type(metric).__name__)


class Learner:
    """A model, its data, a loss and an optimizer, and the loop that trains them.

    Example:
        >>> learn = Learner(model, dls, nn.CrossEntropyLoss(), metrics=[accuracy])  # doctest: +SKIP
        >>> learn.fit_one_cycle(3, lr_max=1e-3)                                      # doctest: +SKIP
    """

    def __init__(self, model: nn.Module, dls: DataLoaders | None, loss_func: Callable,
                 metrics: Iterable[Callable] = (), opt_func: Callable = adamw, lr: float = 1e-3,
                 wd: float = 0.01, wd_bn_bias: bool = False, train_bn: bool = True,
                 splitter: Callable[[nn.Module], list[list[nn.Parameter]]] = single_group,
                 cbs: Iterable = (), mixed_precision: bool | None = None,
                 channels_last: bool = False, grad_clip: float | None = None,
                 progress: bool = True, log_epochs: bool = True, path: str | Path = ".",
                 device: torch.device | None = None):
        self.dls, self.loss_func, self.metrics = dls, loss_func, list(metrics)
        self.opt_func, self.lr, self.wd, self.wd_bn_bias, self.train_bn = opt_func, lr, wd, wd_bn_bias, train_bn
        self.splitter, self.cbs, self.grad_clip = splitter, list(cbs), grad_clip
        self.progress, self.log_epochs, self.path = progress, log_epochs, Path(path)
        self.device = device if device is not None else (dls.device if dls is not None else default_device())
        self.classes = dls.classes if dls is not None else None
        self.norm_stats = dls.norm_stats if dls is not None else None
        self.activation = default_activation(loss_func)
        self.channels_last = channels_last
        self.model = model.to(self.device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self._setup_precision(mixed_precision)
        self.opt: torch.optim.Optimizer | None = None
        self.history = pd.DataFrame()
        self.batch_losses: list[float] = []
        self.stop = False

    # ------------------------------------------------------------------ setup
    def _setup_precision(self, mixed_precision: bool | None) -> None:
        on_cuda = self.device.type == "cuda"
        self.mixed_precision = on_cuda if mixed_precision is None else mixed_precision
        # bf16 keeps fp32's range, so it needs no loss scaling; fp16 (older GPUs) does.
        bf16 = not on_cuda or torch.cuda.is_bf16_supported()
        self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        use_scaler = self.mixed_precision and on_cuda and not bf16
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.mixed_precision)

    def _param_groups(self) -> list[list[nn.Parameter]]:
        return [list(g) for g in self.splitter(self.model)]

    def _norm_param_ids(self) -> set[int]:
        """ids of the parameters of normalisation layers (BatchNorm, LayerNorm, ...)."""
        return {id(p) for m in self.model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters()}

    def _no_decay_ids(self) -> set[int]:
        """ids of norm-layer parameters and biases: by default they get no weight decay."""
        biases = {id(p) for name, p in self.model.named_parameters() if name.endswith("bias")}
        return self._norm_param_ids() | biases

    def create_opt(self) -> torch.optim.Optimizer:
        """Optimizer groups: each splitter group, split into decayed and non-decayed parameters."""
        no_decay = set() if self.wd_bn_bias else self._no_decay_ids()
        groups = []
        for i, params in enumerate(self._param_groups()):
            decay = [p for p in params if id(p) not in no_decay]
            other = [p for p in params if id(p) in no_decay]
            for ps, wd in ((decay, self.wd), (other, 0.0)):
                if ps:
                    groups.append({"params": ps, "weight_decay": wd, "layer_group": i})
        self.opt = self.opt_func(groups, lr=self.lr)
        return self.opt

    # ------------------------------------------------------------------ freezing
    def freeze_to(self, n: int) -> None:
        """Train only parameter groups n and after (norm layers stay trainable if train_bn)."""
        groups = self._param_groups()
        n = n % len(groups) if n < 0 else n
        norm_ids = self._norm_param_ids()
        for i, params in enumerate(groups):
            for p in params:
                p.requires_grad_(i >= n or (self.train_bn and id(p) in norm_ids))

    def freeze(self) -> None:
        """Train only the last group (the head)."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        """Train every group."""
        self.freeze_to(0)

    # ------------------------------------------------------------------ one step
    def _prepare_inputs(self, inputs: tuple) -> tuple:
        if self.channels_last:
            inputs = tuple(x.contiguous(memory_format=torch.channels_last)
                           if isinstance(x, Tensor) and x.dim() == 4 else x for x in inputs)
        return inputs

    def compute_loss(self, output: Tensor, target: Tensor) -> Tensor:
        """The loss, with a clear error when output and target shapes cannot be compared."""
        output = output.float()
        if isinstance(self.loss_func, ELEMENTWISE_LOSSES) and output.shape != target.shape:
            raise ValueError(
                f"The model's output has shape {tuple(output.shape)} but the targets have shape "
                f"{tuple(target.shape)}; {type(self.loss_func).__name__} compares them element by "
                "element, so they must be equal. Reshape the model's output (for example "
                "`.squeeze(-1)`) or the targets.")
        try:
            return self.loss_func(output, target)
        except (RuntimeError, ValueError, IndexError) as e:
            raise ValueError(
                f"The loss could not compare the model's output of shape {tuple(output.shape)} with "
                f"targets of shape {tuple(target.shape)} (dtype {target.dtype}): {e}") from e

    def train_step(self, inputs: tuple, target: Tensor) -> Tensor:
        """Forward, loss, backward, (clip), step, zero_grad. Returns the detached loss."""
        with self._autocast():
            self.pred = self.model(*self._prepare_inputs(inputs))
        loss = self.compute_loss(self.pred, target)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
        else:
            loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss.detach()

    def _set_hparams(self, lrs: list[float], mom: float | None) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lrs[group.get("layer_group", 0)]
            if mom is not None and "betas" in group:
                group["betas"] = (mom, group["betas"][1])
            elif mom is not None and "momentum" in group:
                group["momentum"] = mom

    def _run_cbs(self, hook: str) -> None:
        for cb in self.cbs:
            getattr(cb, hook)(self)

    def _reset_model(self) -> None:
        # Stateful models (an LSTM carrying its hidden state) start each pass fresh.
        if hasattr(self.model, "reset"):
            self.model.reset()

    # ------------------------------------------------------------------ the loop
    def _check_finite(self, losses: list[Tensor], lrs: list[float], first: int, epoch: int) -> None:
        window = torch.stack(losses[first:])
        if bool(torch.isfinite(window).all()):
            return
        bad = first + int((~torch.isfinite(window)).nonzero()[0])
        raise FloatingPointError(
            f"Training stopped: the loss became {losses[bad].item()} at epoch {epoch}, batch {bad} "
            f"(learning rate {lrs[bad]:.2e}). Try a lower learning rate (see lr_find), gradient "
            "clipping (grad_clip=1.0), or check the inputs and targets for NaN or infinite values.")

    def _fit(self, epochs: int, lr_max: float | slice, lr_at: Callable[[float], float],
             mom_at: Callable[[float], float | None]) -> None:
        """The loop behind fit and fit_one_cycle. lr_at(pct) scales each group's lr_max."""
        if self.opt is None:
            self.create_opt()
        group_lrs = spread_lrs(lr_max, len(self._param_groups()))
        n_batches = len(self.dls.train)
        total, step = epochs * n_batches, 0
        # A finiteness check forces a device sync; on a GPU do it every few batches, not every one.
        check_every = 1 if self.device.type == "cpu" else 32
        self.stop = False
        self._run_cbs("before_fit")
        for epoch in range(epochs):
            self.epoch, start = epoch, time.perf_counter()
            self._run_cbs("before_epoch")
            self.model.train()
            self._reset_model()
            losses, lrs, checked = [], [], 0
            bar = tqdm(self.dls.train, total=n_batches, disable=not self.progress, leave=False,
                       desc=f"epoch {epoch}")
            for i, batch in enumerate(bar):
                scale = lr_at(step / total)
                self._set_hparams([lr * scale for lr in group_lrs], mom_at(step / total))
                self.iter, self.xb, self.yb = i, batch[:-1], batch[-1]
                self._run_cbs("before_batch")
                try:
                    self.loss = self.train_step(self.xb, self.yb)
                except torch.cuda.OutOfMemoryError as e:
                    raise RuntimeError(
                        "CUDA ran out of memory. Use a smaller batch size or image size, or "
                        "mixed_precision=True; restart the kernel to free memory.") from e
                losses.append(self.loss)
                lrs.append(group_lrs[-1] * scale)
                self._run_cbs("after_batch")
                step += 1
                if step % check_every == 0 or i == n_batches - 1:
                    self._check_finite(losses, lrs, checked, epoch)
                    checked = len(losses)
            train_loss = torch.stack(losses).float().mean().item() if losses else math.nan
            self.batch_losses += torch.stack(losses).float().tolist() if losses else []
            self._log_epoch(epoch, train_loss, time.perf_counter() - start)
            self._run_cbs("after_epoch")
            if self.stop:
                break
        self._run_cbs("after_fit")

    def _log_epoch(self, epoch: int, train_loss: float, seconds: float) -> None:
        row = {"epoch": epoch, "train_loss": train_loss, **self.validate(), "time": seconds}
        self.history = pd.concat([self.history, pd.DataFrame([row])], ignore_index=True)
        if self.log_epochs:
            if epoch == 0:
                print("  ".join(f"{k:>12}" for k in row))
            print("  ".join(f"{v:>12}" if isinstance(v, int) else f"{v:>12.4f}" for v in row.values()))

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss and metrics over the whole validation set."""
        self.model.eval()
        self._reset_model()
        total, count, outputs, targets = 0.0, 0, [], []
        for batch in self.dls.valid:
            inputs, target = batch[:-1], batch[-1]
            with self._autocast():
                output = self.model(*self._prepare_inputs(inputs))
            n = target.numel()
            total += self.compute_loss(output, target).float() * n
            count += n
            if self.metrics:  # only keep outputs when a metric needs them (LM outputs are large)
                outputs.append(output.float())
                targets.append(target)
        result = {"valid_loss": (total / max(count, 1)).item() if count else math.nan}
        if self.metrics and outputs:
            output, target = torch.cat(outputs), torch.cat(targets)
            for m in self.metrics:
                result[metric_name(m)] = float(m(output, target))
        return result

    def fit(self, epochs: int, lr: float | slice | None = None) -> None:
        """Train for `epochs` at a constant learning rate (default: the Learner's lr)."""
        self._fit(epochs, lr if lr is not None else self.lr, lambda pct: 1.0, lambda pct: None)

    def fit_one_cycle(self, epochs: int, lr_max: float | slice | None = None, div: float = 25.0,
                      div_final: float = 1e5, pct_start: float = 0.25,
                      moms: tuple[float, float, float] = (0.95, 0.85, 0.95)) -> None:
        """Train with the one-cycle policy: LR warms up then anneals while momentum does the opposite."""
        self._fit(epochs, lr_max if lr_max is not None else self.lr,
                  lambda pct: one_cycle_lr(pct, 1.0, div, div_final, pct_start),
                  lambda pct: one_cycle_mom(pct, moms, pct_start))

    def fine_tune(self, epochs: int, base_lr: float = 2e-3, freeze_epochs: int = 1,
                  lr_mult: float = 100, pct_start: float = 0.3, div: float = 5.0) -> None:
        """Transfer learning: train the head with the body frozen, then everything with discriminative LRs."""
        self.freeze()
        self.fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99)
        self.unfreeze()
        self.fit_one_cycle(epochs, slice(base_lr / 2 / lr_mult, base_lr / 2), pct_start=pct_start, div=div)

    # ------------------------------------------------------------------ LR finder
    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100,
                stop_div: bool = True, smooth: float = 0.98, show_plot: bool = True) -> LRSuggestion:
        """Sweep the learning rate exponentially, record the smoothed loss, then restore everything.

        Stops when the smoothed loss exceeds 4x its best. Results are kept in
        ``learn.lr_find_results`` (columns lr, loss, smoothed_loss).
        """
        n_batches = len(self.dls.train)
        if n_batches < 10:
            warnings.warn(
                f"The training loader has only {n_batches} batches, so lr_find will cycle over the "
                f"same few batches {math.ceil(num_it / max(n_batches, 1))} times and its curve will be "
                "noisy or misleading. Use a smaller batch size (or more data) before lr_find.")
        had_opt = self.opt is not None
        if not had_opt:
            self.create_opt()
        saved_model = copy.deepcopy(self.model.state_dict())
        saved_opt = copy.deepcopy(self.opt.state_dict())
        rows, avg, best = [], 0.0, math.inf
        self.model.train()
        self._reset_model()
        batches = iter(self.dls.train)
        n_groups = len(self._param_groups())
        for i in range(num_it):
            lr = start_lr * (end_lr / start_lr) ** (i / (num_it - 1))
            self._set_hparams([lr] * n_groups, None)
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(self.dls.train)
                batch = next(batches)
            loss = self.train_step(batch[:-1], batch[-1]).float().item()
            avg = smooth * avg + (1 - smooth) * loss
            smoothed = avg / (1 - smooth ** (i + 1))  # debiased, as in Adam
            rows.append({"lr": lr, "loss": loss, "smoothed_loss": smoothed})
            best = min(best, smoothed)
            if stop_div and (not math.isfinite(smoothed) or smoothed > 4 * best):
                break
        self.model.load_state_dict(saved_model)
        self.opt.load_state_dict(saved_opt)
        if not had_opt:
            self.opt = None
        self.lr_find_results = pd.DataFrame(rows)
        # The last points are where the loss blew up: leave them out of the suggestion.
        curve = self.lr_find_results.iloc[: max(len(rows) - 3, 2)]
        curve = curve[curve.smoothed_loss.map(math.isfinite)]
        suggestion = suggest_lrs(curve.lr.to_numpy(), curve.smoothed_loss.to_numpy())
        if show_plot:
            from coursehelpers.plots import plot_lr_find
            plot_lr_find(self, suggestion)
        return suggestion

    # ------------------------------------------------------------------ predictions
    @torch.no_grad()
    def _outputs(self, batches: Iterable, n_inputs: int) -> tuple[Tensor, Tensor | None]:
        self.model.eval()
        self._reset_model()
        outputs, targets = [], []
        for batch in batches:
            with self._autocast():
                outputs.append(self.model(*self._prepare_inputs(batch[:n_inputs])).float())
            if len(batch) > n_inputs:
                targets.append(batch[n_inputs])
        return torch.cat(outputs), (torch.cat(targets) if targets else None)

    def get_preds(self, dl: DataLoader | None = None, activation: Callable | None = None,
                  augment: bool = False) -> tuple[Tensor, Tensor | None]:
        """Predictions (after the activation) and targets for a loader (default: validation).

        A plain DataLoader is prepared like the validation set; targets is None when
        its batches hold only inputs.
        """
        if self.dls is None:
            raise ValueError("This Learner has no DataLoaders (it came from load_learner): use "
                             "learn.predict(item), or set learn.dls to a DataLoaders first.")
        batches = self.dls.batches(dl if dl is not None else self.dls.valid_dl, augment=augment)
        outputs, targets = self._outputs(batches, self.dls.n_inputs)
        return (activation or self.activation)(outputs), targets

    def tta(self, dl: DataLoader | None = None, n: int = 4, beta: float = 0.25) -> tuple[Tensor, Tensor | None]:
        """Test-time augmentation: mean of `n` augmented passes, blended with the plain pass.

        Returns ``(1 - beta) * augmented + beta * plain``.
        """
        plain, targets = self.get_preds(dl)
        augmented = torch.stack([self.get_preds(dl, augment=True)[0] for _ in range(n)]).mean(0)
        return torch.lerp(augmented, plain, beta), targets

    @torch.no_grad()
    def predict(self, *item: Tensor) -> tuple[object, Tensor]:
        """Predict ONE item (inputs without a batch dimension).

        Image items are raw [0, 1] (or uint8) tensors at the model's size; they are
        normalised with the stored statistics. Returns (decoded, probabilities):
        decoded is a class name, a list of class names above 0.5 (multi-label),
        or the raw output (regression).
        """
        batch = tuple(t.unsqueeze(0).to(self.device) for t in item)
        batch = (normalize(to_float_image(batch[0]), self.norm_stats), *batch[1:])
        output, _ = self._outputs([batch], n_inputs=len(batch))
        probs = self.activation(output)[0]
        if self.classes is None:
            return probs, probs
        if self.activation is torch.sigmoid:
            return [c for c, p in zip(self.classes, probs) if p > 0.5], probs
        return self.classes[int(probs.argmax())], probs

    # ------------------------------------------------------------------ saving
    def save(self, name: str, with_opt: bool = True) -> Path:
        """Save the weights (and optimizer state) to ``<path>/models/<name>.pth``."""
        file = self.path / "models" / f"{name}.pth"
        file.parent.mkdir(parents=True, exist_ok=True)
        state = {"model": self.model.state_dict()}
        if with_opt and self.opt is not None:
            state["opt"] = self.opt.state_dict()
        torch.save(state, file)
        return file

    def load(self, name: str, with_opt: bool = True) -> "Learner":
        """Load weights (and optimizer state, if saved) from ``<path>/models/<name>.pth``."""
        state = torch.load(self.path / "models" / f"{name}.pth", map_location=self.device)
        self.model.load_state_dict(state["model"])
        if with_opt and "opt" in state:
            if self.opt is None:
                self.create_opt()
            self.opt.load_state_dict(state["opt"])
        return self

    def export(self, fname: str | Path = "export.pth") -> Path:
        """Save what inference needs: the model, its class names, normalisation and loss.

        Reload with `load_learner`. The model is pickled whole, so its class must
        be importable (define models in a module, not in a notebook cell).
        """
        file = self.path / fname
        file.parent.mkdir(parents=True, exist_ok=True)
        model = copy.deepcopy(self.model).to("cpu")
        torch.save({"model": model, "classes": self.classes, "norm_stats": self.norm_stats,
                    "loss_func": self.loss_func, "channels_last": self.channels_last}, file)
        return file


def load_learner(fname: str | Path, device: torch.device | None = None) -> Learner:
    """Load a Learner saved by `Learner.export`, ready for `predict` and `get_preds`.

    Only load files you trust: unpickling can run code.
    """
    device = device if device is not None else default_device()
    state = torch.load(fname, map_location=device, weights_only=False)
    learn = Learner(state["model"], None, state["loss_func"], channels_last=state["channels_last"],
                    device=device, progress=False)
    learn.classes, learn.norm_stats = state["classes"], state["norm_stats"]
    return learn
