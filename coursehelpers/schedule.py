"""Learning-rate schedules and the LR finder's suggestions, as plain functions.

`one_cycle_lr` and `one_cycle_mom` give the value at a point ``pct`` (0 to 1)
of training. `suggest_lrs` reads an LR-finder curve. Nothing here touches a
model, so each function can be plotted or tested on its own.

Example:
    >>> round(one_cycle_lr(0.25, lr_max=1e-3), 6)   # the peak, at pct_start
    0.001
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np


def cosine_between(start: float, end: float, pct: float) -> float:
    """Cosine interpolation: ``start`` at pct=0, ``end`` at pct=1, flat at both ends."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))


def one_cycle_lr(pct: float, lr_max: float, div: float = 25.0, div_final: float = 1e5,
                 pct_start: float = 0.25) -> float:
    """One-cycle learning rate: cosine warm-up from lr_max/div to lr_max, then anneal to lr_max/div_final."""
    if pct < pct_start:
        return cosine_between(lr_max / div, lr_max, pct / pct_start)
    return cosine_between(lr_max, lr_max / div_final, (pct - pct_start) / (1 - pct_start))


def one_cycle_mom(pct: float, moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
                  pct_start: float = 0.25) -> float:
    """One-cycle momentum (beta1 for Adam): moves opposite to the learning rate."""
    if pct < pct_start:
        return cosine_between(moms[0], moms[1], pct / pct_start)
    return cosine_between(moms[1], moms[2], (pct - pct_start) / (1 - pct_start))


def spread_lrs(lr: float | slice, n_groups: int) -> list[float]:
    """One learning rate per parameter group.

    A number gives every group that rate; ``slice(lo, hi)`` spreads rates
    geometrically from lo (first group, the earliest layers) to hi (the head);
    ``slice(hi)`` gives the head hi and every other group hi/10.

    Example:
        >>> spread_lrs(slice(1e-4, 1e-2), 3)
        [0.0001, 0.001, 0.01]
    """
    if not isinstance(lr, slice):
        return [float(lr)] * n_groups
    if lr.start is None:
        return [lr.stop / 10] * (n_groups - 1) + [float(lr.stop)]
    if n_groups == 1:
        return [float(lr.stop)]
    lo, hi = float(lr.start), float(lr.stop)
    return [float(x) for x in np.geomspace(lo, hi, n_groups)]


class LRSuggestion(NamedTuple):
    """Learning rates read off an LR-finder curve."""
    valley: float    # where the loss has made half its fall: the usual pick
    steep: float     # where the loss falls fastest
    minimum: float   # a tenth of the rate with the lowest loss


def suggest_lrs(lrs: Sequence[float], losses: Sequence[float]) -> LRSuggestion:
    """Suggest learning rates from an LR-finder sweep of (rate, smoothed loss).

    The loss starts flat (the median of the first tenth of the sweep stands for
    that level), falls to its lowest point, then blows up. "valley" is the rate
    where the loss has made half of that fall: the learning is fast there, and
    the rate is well below the one where training turns unstable.

    Example:
        >>> lrs = np.geomspace(1e-6, 1, 60); losses = 1 / (1 + 1e3 * lrs) + lrs ** 2
        >>> 1e-4 < suggest_lrs(lrs, losses).valley < 1e-1
        True
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    bottom = int(np.argmin(losses))
    head = max(len(losses) // 10, 1)
    first = float(np.median(losses[:head]))
    if bottom < head:  # no fall to read: the loss was lowest at the start
        return LRSuggestion(float(lrs[bottom]), float(lrs[bottom]), float(lrs[bottom] / 10))
    fallen = losses[head: bottom + 1] <= first - 0.5 * (first - losses[bottom])
    valley = head + int(np.argmax(fallen))
    steep = head + int(np.argmin(np.gradient(losses, np.log10(lrs))[head: bottom + 1]))
    return LRSuggestion(float(lrs[valley]), float(lrs[steep]), float(lrs[bottom] / 10))
