"""Lesson 4 (Rossmann, tabular): what the run learned, against baselines measured in the same run.

Sample figures below are from the lesson with fast.ai's features (durations and rolling counts as
course-v3, codes as fastai's Categorify), seeds 42, 1, 2, 3.
"""


def test_network_beats_the_per_store_weekday_median(lesson_metrics):
    m = lesson_metrics("04_rossmann")
    # The median of each store's sales on that weekday ignores promotions, holidays, seasons and weather.
    # Sample runs: network 0.081-0.083 vs median 0.166; 20% is far inside that gap.
    assert m["exp_rmspe"] < 0.8 * m["median_baseline"], m


def test_network_against_the_random_forest(lesson_metrics):
    m = lesson_metrics("04_rossmann")
    print(f"network {m['exp_rmspe']:.4f} vs random forest {m['rf_baseline']:.4f} "
          f"({1 - m['exp_rmspe'] / m['rf_baseline']:+.1%}); forest on the network's embeddings "
          f"{m['rf_emb_exp_rmspe']:.4f}; average of network and forest {m['ensemble_exp_rmspe']:.4f}")
    if m["size"] == "sample":
        # On the sample the network was 13-16% better than the 40-tree forest on the same inputs in every
        # seed tried (0.081-0.083 vs 0.095-0.097); asking for 3% leaves room for platform drift.
        # Full mode is only reported (the fast.ai courses reported 0.0985 vs 0.116 there).
        assert m["exp_rmspe"] < 0.97 * m["rf_baseline"], m


def test_out_of_bag_error_is_more_optimistic_than_the_time_split(lesson_metrics):
    m = lesson_metrics("04_rossmann")
    if m["size"] != "sample":
        return  # on the real data the gap is reported by the lesson, not asserted
    # Out-of-bag rows are random training days, whose neighbours the other trees saw; validation days all
    # come after the training period. Sample seeds: OOB 0.0878-0.0881 vs validation 0.0951-0.0965 (7-9%
    # lower), which the lesson reads as the price of forecasting; 3% leaves room.
    assert m["rf_oob_exp_rmspe"] < 0.97 * m["rf_baseline"], m


def test_the_other_tables_and_features_help(lesson_metrics):
    m = lesson_metrics("04_rossmann")
    # The first model sees train.csv and store.csv only (sample seeds: 0.102-0.108 vs 0.081-0.083).
    assert m["exp_rmspe"] < m["first_model_exp_rmspe"], m


def test_embeddings_found_the_weekday_and_month_effects(lesson_metrics):
    m = lesson_metrics("04_rossmann")
    if m["size"] != "sample":
        return  # on the real data these are reported by the lesson, not planted, so not asserted
    # The sample plants a weekday pattern (Sunday lowest, only two stores open) and a December ramp.
    # Seeds 42, 1, 2, 3: Sunday was always the farthest weekday; the first principal component of the
    # weekday / month vectors correlated 0.96-0.97 / 0.83-0.89 with the mean relative log sales.
    # December's rank varied (1 to 6), so it is only reported.
    assert m["sunday_apart_rank"] <= 2, m
    assert m["dayofweek_pc1_corr"] > 0.8, m
    assert m["month_pc1_corr"] > 0.7, m
