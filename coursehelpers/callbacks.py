"""Callbacks: small objects the training loop calls at fixed points, and the state of one fit they read.

`Learner.fit` makes one `FitState` per call and passes it to every callback's
``before_fit``, ``before_epoch``, ``before_batch``, ``after_batch``,
``after_epoch`` and ``after_fit``, in order. A callback reads ``state.learn``
(its ``history``, ``model``...), ``state.epoch``, ``state.batch`` and
``state.loss``, and may set ``state.stop = True`` to end training after the
current epoch.

Example:
    >>> class PrintEpoch(Callback):
    ...     def after_epoch(self, state):
    ...         print("finished epoch", state.epoch)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import Tensor

MODES = ("min", "max")


@dataclass
class FitState:
    """What one call of ``fit`` knows while it runs. ``epoch`` and ``batch`` count from 0 within this fit."""

    learn: Any
    n_epochs: int
    n_batches: int
    epoch: int = 0
    batch: int = 0
    loss: Tensor | None = None
    stop: bool = False


class Callback:
    """Base class: override the hooks you need; the others do nothing."""

    def before_fit(self, state: FitState) -> None: ...
    def before_epoch(self, state: FitState) -> None: ...
    def before_batch(self, state: FitState) -> None: ...
    def after_batch(self, state: FitState) -> None: ...
    def after_epoch(self, state: FitState) -> None: ...
    def after_fit(self, state: FitState) -> None: ...


class _Monitor(Callback):
    """Watches one column of ``learn.history`` and remembers its best value within a fit."""

    def __init__(self, monitor: str, mode: str):
        if mode not in MODES:
            raise ValueError(f"{type(self).__name__}(mode={mode!r}): use 'min' (a loss, an error) or 'max' "
                             "(an accuracy, an F-score).")
        self.monitor, self.mode = monitor, mode

    def before_fit(self, state: FitState) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None

    def improved(self, state: FitState) -> bool:
        """Read this epoch's value; True (and remember it) when it beats the best so far."""
        history = state.learn.history
        if self.monitor not in history.columns:
            valid = [c for c in history.columns if c not in ("epoch", "time")]
            raise ValueError(f"{type(self).__name__}(monitor={self.monitor!r}): the history has no such column. "
                             f"Monitor one of {valid}.")
        value = float(history.iloc[-1][self.monitor])
        better = value < self.best if self.mode == "min" else value > self.best
        if better:
            self.best, self.best_epoch = value, state.epoch
        return better


class SaveBestModel(_Monitor):
    """Save the weights whenever ``monitor`` improves, and reload the best ones when the fit ends.

    Example:
        >>> cb = SaveBestModel(monitor="valid_loss", mode="min", fname="best")
    """

    def __init__(self, monitor: str = "valid_loss", mode: str = "min", fname: str = "best"):
        super().__init__(monitor, mode)
        self.fname = fname

    def after_epoch(self, state: FitState) -> None:
        if self.improved(state):
            state.learn.save(self.fname, with_opt=False)

    def after_fit(self, state: FitState) -> None:
        if self.best_epoch is not None:
            state.learn.load(self.fname, with_opt=False)


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Example:
        >>> cb = EarlyStopping(monitor="valid_loss", mode="min", patience=2)
    """

    def __init__(self, monitor: str = "valid_loss", mode: str = "min", patience: int = 1):
        super().__init__(monitor, mode)
        self.patience = patience

    def before_fit(self, state: FitState) -> None:
        super().before_fit(state)
        self.waited = 0

    def after_epoch(self, state: FitState) -> None:
        self.waited = 0 if self.improved(state) else self.waited + 1
        if self.waited >= self.patience:
            state.stop = True
