"""Callbacks: small objects the training loop calls at fixed points.

The loop in `Learner.fit` calls, for every callback in order,
``before_fit``, ``before_epoch``, ``before_batch``, ``after_batch``,
``after_epoch`` and ``after_fit``, passing the learner. A callback reads the
learner's state (``learn.epoch``, ``learn.loss``, ``learn.history``...) and may
set ``learn.stop = True`` to end training after the current epoch.

Example:
    >>> class PrintEpoch(Callback):
    ...     def after_epoch(self, learn):
    ...         print("finished epoch", learn.epoch)
"""
from __future__ import annotations

import math


class Callback:
    """Base class: override the hooks you need; the others do nothing."""

    def before_fit(self, learn) -> None: ...
    def before_epoch(self, learn) -> None: ...
    def before_batch(self, learn) -> None: ...
    def after_batch(self, learn) -> None: ...
    def after_epoch(self, learn) -> None: ...
    def after_fit(self, learn) -> None: ...


def _improved(value: float, best: float, mode: str) -> bool:
    return value < best if mode == "min" else value > best


class SaveBestModel(Callback):
    """Save the model whenever `monitor` improves, and reload the best at the end.

    Example:
        >>> cb = SaveBestModel(monitor="valid_loss", mode="min", fname="best")
    """

    def __init__(self, monitor: str = "valid_loss", mode: str = "min", fname: str = "best"):
        self.monitor, self.mode, self.fname = monitor, mode, fname

    def before_fit(self, learn) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None

    def after_epoch(self, learn) -> None:
        value = float(learn.history.iloc[-1][self.monitor])
        if _improved(value, self.best, self.mode):
            self.best, self.best_epoch = value, learn.epoch
            learn.save(self.fname, with_opt=False)

    def after_fit(self, learn) -> None:
        if self.best_epoch is not None:
            learn.load(self.fname, with_opt=False)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved for `patience` epochs.

    Example:
        >>> cb = EarlyStopping(monitor="valid_loss", mode="min", patience=2)
    """

    def __init__(self, monitor: str = "valid_loss", mode: str = "min", patience: int = 1):
        self.monitor, self.mode, self.patience = monitor, mode, patience

    def before_fit(self, learn) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.waited = 0

    def after_epoch(self, learn) -> None:
        value = float(learn.history.iloc[-1][self.monitor])
        if _improved(value, self.best, self.mode):
            self.best, self.waited = value, 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            learn.stop = True
