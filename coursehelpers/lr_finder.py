"""The learning-rate finder: train one batch at each of exponentially growing rates, watch the loss.

`lr_find` sweeps from ``start_lr`` to ``end_lr`` over ``num_it`` batches and stops
early once the smoothed loss is 4x its best. Whatever happens (the sweep ends,
the loss diverges, an error or Ctrl-C), the model's weights, the optimizer's
state and the train/eval mode are put back as they were, so the Learner is
exactly as before. The suggestions are read off the curve by
`coursehelpers.schedule.suggest_lrs`; `coursehelpers.viz.plot_lr_find` draws it.

Example:
    >>> from torch import nn
    >>> from torch.utils.data import TensorDataset
    >>> from coursehelpers.dataloaders import DataLoaders
    >>> from coursehelpers.learner import Learner, TrainConfig
    >>> _ = torch.manual_seed(0); x = torch.randn(512, 4); ds = TensorDataset(x, x.sum(1, keepdim=True))
    >>> learn = Learner(nn.Linear(4, 1), DataLoaders.from_datasets(ds, ds, bs=16), nn.MSELoss())
    >>> before = learn.model.weight.clone()
    >>> result = lr_find(learn, num_it=30)
    >>> torch.equal(before, learn.model.weight), list(result.curve.columns)
    (True, ['lr', 'loss', 'smoothed_loss'])
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import pandas as pd
import torch

from coursehelpers.core import max_batches
from coursehelpers.learner import reset_state
from coursehelpers.param_groups import set_hparams
from coursehelpers.schedule import LRSuggestion, suggest_lrs


REHEARSAL_MIN_IT = 6


@dataclass
class LRFinderResult:
    """The sweep (columns lr, loss, smoothed_loss; one row per batch) and the rates read off it."""

    curve: pd.DataFrame
    suggestion: LRSuggestion


def lr_find(learn, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100,
            smooth: float = 0.98) -> LRFinderResult:
    """Sweep the learning rate exponentially over ``num_it`` batches, then restore the Learner."""
    if num_it < 10:
        raise ValueError(f"lr_find(num_it={num_it}): at least 10 iterations are needed to read a curve.")
    # COURSE_MAX_BATCHES (the full-mode rehearsal, in CI time) cuts the sweep too, to 6 steps at least:
    # enough for a suggestion to be computed (nobody reads a rehearsal's curve), and on a CPU each step
    # of a full-size network costs seconds.
    limit = max_batches()
    num_it = num_it if limit is None else min(num_it, max(limit, REHEARSAL_MIN_IT))
    n_batches = len(learn.dls.train)
    if n_batches < 10:
        warnings.warn(f"The training loader has only {n_batches} batches, so lr_find cycles over the same "
                      "few batches and its curve will be noisy. Use a smaller batch size (or more data).")
    opt_before = learn.opt
    opt = learn.opt or learn.create_opt()
    saved = (copy.deepcopy(learn.model.state_dict()), copy.deepcopy(opt.state_dict()), learn.model.training,
             learn.scaler.state_dict() if learn.scaler is not None else None)
    try:
        curve = pd.DataFrame(_sweep(learn, start_lr, end_lr, num_it, smooth))
    finally:
        learn.model.load_state_dict(saved[0])
        opt.load_state_dict(saved[1])
        learn.model.train(saved[2])
        if saved[3] is not None:
            learn.scaler.load_state_dict(saved[3])
        learn.model.zero_grad(set_to_none=True)
        learn.opt = opt_before
    # The last points are where the loss blew up: leave them out of the suggestion.
    usable = curve.iloc[: max(len(curve) - 3, 2)]
    usable = usable[usable.smoothed_loss.map(math.isfinite)]
    if len(usable) < 2:
        raise FloatingPointError(f"The loss diverged after {len(curve)} steps of lr_find, from "
                                 f"{start_lr:.0e}: try a smaller start_lr, or check the data for NaN.")
    return LRFinderResult(curve, suggest_lrs(usable.lr.to_numpy(), usable.smoothed_loss.to_numpy()))


def _sweep(learn, start_lr: float, end_lr: float, num_it: int, smooth: float) -> list[dict]:
    """Train one batch per rate; stop when the smoothed loss is 4x its best (or not finite)."""
    learn.model.train()
    reset_state(learn.model)
    n_groups, batches = len(learn.param_groups()), iter(learn.dls.train)
    rows, avg, best = [], 0.0, math.inf
    for i in range(num_it):
        lr = start_lr * (end_lr / start_lr) ** (i / (num_it - 1))
        set_hparams(learn.opt, [lr] * n_groups)
        batch = next(batches, None)
        if batch is None:  # a short loader: go round again
            batches = iter(learn.dls.train)
            batch = next(batches)
        loss = learn.train_step(batch).float().item()
        avg = smooth * avg + (1 - smooth) * loss
        smoothed = avg / (1 - smooth ** (i + 1))  # debiased, as in Adam
        rows.append({"lr": lr, "loss": loss, "smoothed_loss": smoothed})
        best = min(best, smoothed)
        if not math.isfinite(smoothed) or smoothed > 4 * best:
            break
    return rows
