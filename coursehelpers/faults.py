"""When training goes wrong (a NaN loss, Ctrl-C, an error mid-step, a GPU out of memory) and mistakes
that would train the wrong thing silently (output and target shapes, a head of the wrong size).

The Learner's promise: whatever stops `fit`, the model and optimizer are as of the
last completed step (never half-applied), gradients are cleared, and the history
records only the steps the weights reflect, so calling `fit` again just continues.

- Ctrl-C while a batch trains lets that batch finish, its step whole and recorded
  (`HeldInterrupts`); between batches it stops at once. An error in the forward or
  backward pass stops before the step, which is then not applied at all.
- A NaN or infinite loss: on the CPU each loss is checked before its step (that costs
  nothing there), so the bad step never happens. On a GPU a check makes the GPU wait
  for the CPU, so losses are checked every 32 steps, and a copy of the weights and
  optimizer state taken at the last good check (`Snapshot`) is put back.
- CUDA out of memory: gradients are freed and the error says what to change.

Example:
    >>> from torch import nn
    >>> model = nn.Linear(2, 1); snap = Snapshot(model, torch.optim.SGD(model.parameters(), lr=0.1))
    >>> with torch.no_grad(): _ = model.weight.add_(1.0)
    >>> _ = snap.restore(); torch.equal(model.weight, snap.model_state["weight"])
    True
"""
from __future__ import annotations

import copy
import signal
import threading
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


class HeldInterrupts:
    """While ``busy``, a Ctrl-C (SIGINT) is held and raised by `release`; otherwise it is raised at once.

    Used as ``with HeldInterrupts() as held:`` around a whole fit (one signal handler, not one per
    batch); the loop sets ``busy`` while a batch trains and calls ``release()`` once it is recorded.

    Example:
        >>> import os
        >>> with HeldInterrupts() as held:
        ...     held.busy = True
        ...     os.kill(os.getpid(), signal.SIGINT)   # arrives mid-batch: held
        ...     try:
        ...         held.release()
        ...     except KeyboardInterrupt:
        ...         print("raised once the batch was done")
        raised once the batch was done
    """

    def __init__(self):
        self.busy = self.pending = False
        self.previous = None

    def __enter__(self) -> "HeldInterrupts":
        if threading.current_thread() is threading.main_thread():  # only the main thread gets signals
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handler(self, signum: int, frame: object) -> None:
        if not self.busy:
            raise KeyboardInterrupt
        self.pending = True

    def release(self) -> None:
        self.busy = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


class NonFiniteLoss(FloatingPointError):
    """A NaN or infinite loss at ``batch`` (of this epoch) with learning rate ``lr``."""

    def __init__(self, value: float, batch: int, lr: float):
        super().__init__(f"loss {value} at batch {batch}")
        self.value, self.batch, self.lr = value, batch, lr


class Snapshot:
    """A copy of a model's and optimizer's state, kept on their device, and the steps taken since."""

    def __init__(self, model: nn.Module, opt: torch.optim.Optimizer):
        self.model, self.opt = model, opt
        self.take()

    def take(self) -> None:
        self.model_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.opt_state = copy.deepcopy(self.opt.state_dict())
        self.steps = 0

    def restore(self) -> int:
        """Go back to the copy (it stays intact: it can be restored again); returns how many steps were undone."""
        self.model.load_state_dict(self.model_state)
        # an optimizer loads state tensors without copying them, and its next step updates them in place
        self.opt.load_state_dict(copy.deepcopy(self.opt_state))
        undone, self.steps = self.steps, 0
        return undone


def first_bad(losses: list[torch.Tensor]) -> int | None:
    """Index of the first NaN or infinite loss (one wait for the device), or None if all are finite."""
    if not losses:
        return None
    finite = torch.isfinite(torch.stack(losses))
    return None if bool(finite.all()) else int((~finite).nonzero()[0])


def nan_message(bad: NonFiniteLoss, epoch: int, undone: int) -> str:
    where = ("That step was not applied" if undone == 0 else
             f"The last {undone} steps were undone (a GPU checks every 32)")
    return (f"Training stopped: the loss became {bad.value} at epoch {epoch}, batch {bad.batch} (learning rate "
            f"{bad.lr:.2e}). {where}: the weights and optimizer are as after the last finite step, so the "
            "Learner can be used again. Try a lower learning rate (see lr_find), gradient clipping "
            "(TrainConfig(grad_clip=1.0)), or check the inputs and targets for NaN or infinite values.")


def out_of_memory_advice(bs: int | None, precision: str, amp_on: bool, image_size: object) -> str:
    """What to change after CUDA ran out of memory, true for the current settings."""
    tips = [f"a smaller batch size (now {bs}: try bs={max(bs // 2, 1)})" if bs else "a smaller batch size"]
    if not amp_on:
        tips.append(f"mixed precision (now precision={precision!r}: try TrainConfig(precision='bf16'))")
    if image_size:
        tips.append(f"smaller images (now size={image_size})")
    return ("CUDA ran out of memory. The batch and the gradients were freed, and the weights are as of the "
            f"last completed step. Try {', or '.join(tips)}; restarting the kernel frees everything else.")


class FitGuard:
    """One fit's safety net. On a GPU it checks the losses every ``every`` steps and keeps a snapshot
    of the weights and optimizer state at the last good check; on the CPU `Learner.train_step`
    checks each loss itself, before its step, so there is nothing to roll back."""

    def __init__(self, learn, every: int = 32):
        self.learn, self.every, self.interrupts = learn, every, HeldInterrupts()
        self.snapshot = Snapshot(learn.model, learn.opt) if learn.device.type != "cpu" else None
        self.losses: list[Tensor] = []
        self.checked = 0

    def start_epoch(self) -> list[Tensor]:
        """A fresh list for this epoch's losses (the loop appends to it)."""
        self.losses, self.checked = [], 0
        return self.losses

    def after_step(self, last: bool) -> None:
        """Count the step; every ``every`` steps (and at the epoch's end) check the losses since the last check."""
        if self.snapshot is None:
            return
        self.snapshot.steps += 1
        if self.snapshot.steps < self.every and not last:
            return
        bad = first_bad(self.losses[self.checked:])
        if bad is not None:
            i = self.checked + bad
            raise NonFiniteLoss(self.losses[i].item(), i, self.learn.batch_lrs[i - len(self.losses)])
        self.snapshot.take()
        self.checked = len(self.losses)

    def roll_back(self, restore: bool = True) -> int:
        """Back to the snapshot (if any); drop the records of the undone steps; returns how many."""
        learn = self.learn
        undone = self.snapshot.restore() if self.snapshot is not None and restore else 0
        for record in (learn.batch_losses, learn.batch_lrs, learn.batch_moms):
            del record[len(record) - undone:]
        learn._stepping = False
        return undone

    def out_of_memory(self) -> RuntimeError:
        """Free what can be freed (undoing a half-applied step) and say what to change."""
        learn = self.learn
        self.roll_back(restore=learn._stepping)
        learn.opt.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        return RuntimeError(out_of_memory_advice(learn.dls.bs, learn.config.precision, learn.amp_dtype is not None,
                                                 getattr(learn.dls.prepare, "size", None)))


def checked_loss(loss_func: Callable, output: Tensor, target: Tensor) -> Tensor:
    """``loss_func(output, target)`` in fp32, with a clear error when the shapes cannot be compared.

    Float targets (regression, multi-hot tags) are compared element by element by every loss the
    course uses, and broadcasting [B, 1] against [B] would silently compute the wrong thing: their
    shapes must match exactly, whatever the loss (an nn.Module or a plain function).
    """
    output = output.float()
    if target.is_floating_point() and output.shape != target.shape:
        name = getattr(loss_func, "__name__", type(loss_func).__name__)
        raise ValueError(
            f"The model's output has shape {tuple(output.shape)} but the targets have shape "
            f"{tuple(target.shape)}; {name} compares them element by element, so they must be equal. "
            "Reshape the output (for example `.squeeze(-1)`) or the targets.")
    try:
        return loss_func(output, target)
    except (RuntimeError, ValueError, IndexError) as e:
        raise ValueError(f"The loss could not compare the model's output of shape {tuple(output.shape)} "
                         f"with targets of shape {tuple(target.shape)} ({target.dtype}): {e}") from e


def check_n_outputs(model: nn.Module, classes: Sequence[str] | None) -> None:
    """A classifier's last linear layer must have one output per class (checked when the Learner is made)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if classes is not None and linears and linears[-1].out_features != len(classes):
        raise ValueError(f"The model's last layer, {linears[-1]}, has {linears[-1].out_features} outputs but "
                         f"the DataLoaders have {len(classes)} classes ({list(classes)[:5]}...): build the "
                         "head with one output per class, e.g. n_out=dls.c.")
