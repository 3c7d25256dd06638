"""What lesson 07 (production) measured, checked against the baselines it measured in the same run.

Baselines: always answering the commonest breed; the exported pipeline's own error (a service
that skips the normalisation must do worse); a guard that refuses requests at random (it refuses
pets and non-pets alike, AUROC 0.5); the share of views the most-watched movies had before any
recommendation. Timings are recorded, never asserted (benchmarks measure speed, not tests).
"""
import pytest

LESSON = "07_production"
RATES = {"error_rate", "majority_error", "no_norm_error", "threshold", "coverage", "test_error", "accepted_error",
         "other_rejected", "auroc", "rejected_photos", "rejected_digits", "rejected_tiles", "share_start",
         "share_popular", "share_explore"}
EXPECTED = RATES | {"by_hand_max_diff", "single_ms", "load_ms", "prepare_ms", "batch_ms", "model_ms_b1",
                    "model_ms_b64", "cross_species_errors", "reused_model", "n_valid", "size", "seconds"}


@pytest.fixture
def metrics(lesson_metrics):
    return lesson_metrics(LESSON)


def test_records_every_metric(metrics):
    missing = EXPECTED - set(metrics)
    assert not missing, f"{LESSON} did not record {sorted(missing)}"
    for key in RATES:
        assert 0.0 <= metrics[key] <= 1.0, f"{key}={metrics[key]} is not a rate"


def test_reloaded_model_far_below_majority_class(metrics):
    assert metrics["error_rate"] < 0.5 * metrics["majority_error"], (
        f"the reloaded model's error {metrics['error_rate']:.3f} is not under half the majority-class error "
        f"{metrics['majority_error']:.3f}")


def test_the_exported_pipeline_reproduces_predict(metrics):
    # The same steps in the same order differ by float32 rounding at most (the lesson printed the gap).
    assert metrics["by_hand_max_diff"] < 1e-5, (
        f"the pipeline written from the export's `prepare` differs from predict by {metrics['by_hand_max_diff']:.2e}")


def test_skipping_the_normalisation_costs_accuracy(metrics):
    assert metrics["no_norm_error"] > metrics["error_rate"], (
        f"without normalisation the error is {metrics['no_norm_error']:.3f}, not worse than "
        f"{metrics['error_rate']:.3f} with the exported pipeline")


def test_the_threshold_refuses_non_pets_more_than_a_random_guard(metrics):
    pets_refused = 1 - metrics["coverage"]
    assert metrics["other_rejected"] > pets_refused, (
        f"the threshold refuses {metrics['other_rejected']:.3f} of non-pets and {pets_refused:.3f} of pets: "
        "no better than refusing at random")
    assert metrics["auroc"] > 0.5, f"AUROC {metrics['auroc']:.3f} is not above chance (0.5)"


def test_the_threshold_holds_on_the_test_half(metrics):
    # Chosen to answer 90% of the calibration half: the test half (74 images in sample mode, a standard
    # error of about 0.035) must come close, and the pets it answers must not be answered worse.
    assert 0.75 <= metrics["coverage"] <= 1.0, f"coverage {metrics['coverage']:.3f} is far from the 0.9 chosen"
    assert metrics["accepted_error"] <= metrics["test_error"], (
        f"error on the answered pets {metrics['accepted_error']:.3f} exceeds the error on all "
        f"{metrics['test_error']:.3f}")


def test_the_feedback_loop_concentrates_views(metrics):
    assert metrics["share_popular"] > metrics["share_start"], (
        f"top-20 share {metrics['share_popular']:.3f} after the loop vs {metrics['share_start']:.3f} before")
    assert metrics["share_explore"] < metrics["share_popular"], (
        f"exploring gave a top-20 share of {metrics['share_explore']:.3f}, not below "
        f"{metrics['share_popular']:.3f} without it")
