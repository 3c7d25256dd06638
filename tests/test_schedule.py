"""The LR finder's suggestions (coursehelpers.schedule.suggest_lrs) on constructed curves."""
import numpy as np

from coursehelpers.schedule import suggest_lrs

LRS = np.geomspace(1e-7, 1, 71)  # ten points a decade


def noisy_start_then_fall() -> np.ndarray:
    """Level at 5 with a sharp dip-and-recover in the first decades (noise), then a slow real fall to 4."""
    losses = np.full(len(LRS), 5.0)
    losses[10], losses[11] = 5.4, 4.9           # around 1e-6: one sharp step down, then back up
    fall = (LRS > 1e-3) & (LRS <= 1e-1)          # the real fall: 1 over two decades
    losses[fall] = 5.0 - np.linspace(0, 1, fall.sum())
    losses[LRS > 1e-1] = 4.0 + 20 * (LRS[LRS > 1e-1] - 1e-1)
    return losses


def test_steep_and_valley_are_in_the_real_fall_not_in_the_noisy_start():
    s = suggest_lrs(LRS, noisy_start_then_fall())
    assert s.loss_fell
    assert 1e-3 < s.steep <= 1e-1 and 1e-3 < s.valley <= 1e-1, s


def test_min_div10_is_a_tenth_of_the_rate_with_the_lowest_loss():
    losses = noisy_start_then_fall()
    s = suggest_lrs(LRS, losses)
    assert s.min_div10 == LRS[np.argmin(losses)] / 10 and not hasattr(s, "minimum")


def test_a_loss_that_never_falls_is_reported_as_such_and_picks_a_tenth_of_the_rise():
    losses = 1.3 + LRS  # an already trained model: every rate only makes the loss worse
    losses[:3] = [1.25, 1.2, 1.28]  # and a lucky low first batch or two, as in a real sweep
    s = suggest_lrs(LRS, losses)
    assert not s.loss_fell and s.valley == s.steep == s.min_div10 == LRS[0]
    assert 0.1 < s.rise <= 0.2 and s.pick == s.rise / 10  # 1.3 + lr first stays above 1.1 * 1.3 at lr = 0.13
    assert "no rate made the loss fall" in str(s) and "floor" in str(s) and f"pick {s.pick:.1e}" in str(s)
    fell = suggest_lrs(LRS, noisy_start_then_fall())
    assert "floor" not in str(fell) and fell.pick == fell.valley


def test_a_dip_in_the_noisy_first_third_is_not_a_fall():
    # A trained model (lesson 3 at the larger size): the first few smoothed points average only a
    # few batches, and one lucky stretch dips below the level; the loss never really falls.
    losses = np.full(len(LRS), 0.112) + 0.002 * np.sin(np.arange(len(LRS)))
    losses[2:8] = [0.107, 0.095, 0.092, 0.100, 0.104, 0.107]
    losses[LRS > 1e-2] = 0.112 + 0.3 * LRS[LRS > 1e-2]
    s = suggest_lrs(LRS, losses)
    assert not s.loss_fell and s.pick == s.rise / 10 and 1e-2 < s.rise < 1, s
