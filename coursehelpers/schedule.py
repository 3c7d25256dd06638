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
    """Learning rates read off an LR-finder curve, whether the loss fell at all, and the one to start from."""
    valley: float     # where the loss has made half its fall: the usual pick
    steep: float      # where the loss falls fastest during that fall
    min_div10: float  # a tenth of the rate with the lowest loss, past the first third (fastai: "minimum")
    rise: float       # from this rate on, the loss stays 10% above its level in the sweep's first half
    loss_fell: bool   # False: no rate beat the start, so the three rates above only mark the sweep's floor

    @property
    def pick(self) -> float:
        """The rate to start from: valley if the loss fell, else a tenth of where it starts to rise."""
        return self.valley if self.loss_fell else self.rise / 10

    def __str__(self) -> str:
        rates = f"valley {self.valley:.1e}, steep {self.steep:.1e}, min_div10 {self.min_div10:.1e}, rise {self.rise:.1e}"
        if self.loss_fell:
            return f"{rates} -> pick {self.pick:.1e} (valley)"
        return (f"{rates}: no rate made the loss fall below where it started, so valley, steep and min_div10 only "
                f"mark the sweep's floor -> pick {self.pick:.1e} (a tenth of rise, where the loss starts to rise)")


def rise_lr(lrs: np.ndarray, losses: np.ndarray) -> float:
    """The rate from which the loss stays above 1.1x its level (the median of the sweep's first half)."""
    level = float(np.median(losses[: max(len(losses) // 2, 1)]))
    below = np.nonzero(losses <= 1.1 * level)[0]
    return float(lrs[min(int(below[-1]) + 1, len(lrs) - 1)]) if len(below) else float(lrs[0])


def suggest_lrs(lrs: Sequence[float], losses: Sequence[float]) -> LRSuggestion:
    """Suggest learning rates from an LR-finder sweep of (rate, smoothed loss).

    In the first third of the sweep the rates are too small to change the weights
    much, so the loss there gives its level (the median) and its noise (the median
    absolute deviation); a dip in it is noise, not a fall. The loss fell if it
    later goes more than 3 noise widths below that level. Then "valley" is the
    rate where the loss has made half of its fall to its lowest point (the fall
    starts where the loss last stood at its level): the learning is fast there,
    well below where training turns unstable. "steep" is the steepest point of
    that fall. When the loss did not fall (a trained model), the three rates are
    the sweep's floor and ``pick`` is a tenth of ``rise``.

    Example:
        >>> lrs = np.geomspace(1e-6, 1, 60); losses = 1 / (1 + 1e3 * lrs) + lrs ** 2
        >>> s = suggest_lrs(lrs, losses); bool(1e-4 < s.valley < 1e-1), s.loss_fell, s.pick == s.valley
        (True, True, True)
        >>> s = suggest_lrs(lrs, 1 + lrs)   # a trained model: every rate only hurts
        >>> s.loss_fell, bool(s.valley == s.min_div10 == lrs[0]), bool(0.1 < s.rise <= 0.2), s.pick == s.rise / 10
        (False, True, True, True)
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    third, rise = max(len(losses) // 3, 1), rise_lr(lrs, losses)
    level = float(np.median(losses[:third]))
    noise = float(np.median(np.abs(losses[:third] - level)))
    bottom = third + int(np.argmin(losses[third:])) if len(losses) > third else 0
    if not level - losses[bottom] > 3 * noise:  # no fall to read
        return LRSuggestion(float(lrs[0]), float(lrs[0]), float(lrs[0]), rise, False)
    at_level = np.nonzero(losses[third: bottom + 1] >= level)[0]
    start = third + (int(at_level[-1]) if len(at_level) else 0)
    valley = start + int(np.argmax(losses[start: bottom + 1] <= level - 0.5 * (level - losses[bottom])))
    steep = start + int(np.argmin(np.gradient(losses, np.log10(lrs))[start: bottom + 1]))
    return LRSuggestion(float(lrs[valley]), float(lrs[steep]), float(lrs[bottom] / 10), rise, True)
