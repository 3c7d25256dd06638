"""The LR finder's suggestions (coursehelpers.schedule.suggest_lrs) on constructed curves."""
import numpy as np
import pytest

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


FIRST_THIRD = [5.0, 5.25, 4.75, 5.0, 5.25, 4.75, 5.0, 5.25, 4.75, 5.0]  # level 5.0, noise 0.25


def sweep(losses: list[float]) -> np.ndarray:
    """Rates one step of 10**0.2 apart, as lr_find's exponential sweep, for these smoothed losses."""
    return 10 ** (-6 + 0.2 * np.arange(len(losses)))


def test_each_suggestion_lands_on_the_point_the_rules_name():
    # After the first third: a dip (index 12) between two points at the level, then the real fall from
    # index 13, whose halfway loss (3.5) is reached exactly at 17, its steepest step into the bottom (20).
    losses = FIRST_THIRD + [5.1, 5.2, 3.0, 5.0, 4.6, 4.2, 3.8, 3.5, 3.4, 3.3, 2.0, 6.0, 7.0, 8.0]
    lrs = sweep(losses)
    s = suggest_lrs(lrs, losses)
    assert s.loss_fell is True
    assert (s.valley, s.steep, s.min_div10) == (lrs[17], lrs[19], lrs[20] / 10)
    assert s.rise == lrs[21]  # from here the loss stays above 1.1 x 5.0
    assert str(s) == (f"valley {lrs[17]:.1e}, steep {lrs[19]:.1e}, min_div10 {lrs[20] / 10:.1e}, "
                      f"rise {lrs[21]:.1e} -> pick {lrs[17]:.1e} (valley)")


def test_a_fall_must_exceed_three_noise_widths():
    lrs = sweep([0.0] * 30)
    at_three = suggest_lrs(lrs, FIRST_THIRD + [5.0, 4.25] + [5.0] * 18)
    assert at_three.loss_fell is False and at_three.pick == at_three.rise / 10  # 0.75 = 3 x 0.25: noise
    beyond = suggest_lrs(lrs, FIRST_THIRD + [5.0, 4.1] + [5.0] * 18)
    assert beyond.loss_fell is True and (beyond.valley, beyond.steep) == (lrs[11], lrs[10])


def test_rise_is_read_against_the_median_of_the_first_half():
    losses = [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0]  # first half: 2.0 (first third: 1.5)
    lrs = sweep(losses)
    assert suggest_lrs(lrs, losses).rise == lrs[10]
    at_edge = losses[:9] + [1.1 * 2.0, 3.0, 3.0]  # exactly 1.1 x the level still counts as not above it
    assert suggest_lrs(lrs, at_edge).rise == lrs[10]
    flat = [2.0] * 12  # never rises: the last rate
    assert suggest_lrs(lrs, flat).rise == lrs[-1]


def test_a_sweep_of_one_point_suggests_its_rate():
    s = suggest_lrs([1e-3], [0.7])
    assert s == (1e-3, 1e-3, 1e-3, 1e-3, False)


def test_momentum_falls_from_the_first_to_the_second_value_during_the_warm_up():
    from coursehelpers.schedule import one_cycle_mom

    assert one_cycle_mom(0.125) == pytest.approx(0.90)  # half-way through the default warm-up (pct_start 0.25)
    assert one_cycle_mom(0.1, (0.9, 0.7, 0.8), pct_start=0.4) == pytest.approx(0.9 - 0.2 * (1 - np.cos(np.pi / 4)) / 2)
    assert one_cycle_mom(0.25) == pytest.approx(0.85) and one_cycle_mom(1.0) == pytest.approx(0.95)


def test_a_slice_for_a_single_group_gives_it_the_top_rate():
    from coursehelpers.schedule import spread_lrs

    assert spread_lrs(slice(1e-4, 1e-2), 1) == [1e-2] and spread_lrs(slice(1e-2), 1) == [1e-2]


def test_rise_reads_the_level_off_the_first_half_of_the_sweep():
    from coursehelpers.schedule import rise_lr

    lrs = np.array([1e-3, 1e-2, 1e-1])
    assert rise_lr(lrs, np.array([1.0, 3.0, 1.5])) == 1e-2  # level: the first point alone (half of 3 is 1)
    assert rise_lr(lrs, np.array([1.0, 1.05, 1.08])) == 1e-1  # never above 1.1x the level: the last rate
