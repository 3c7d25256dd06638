"""What lesson 02 (MNIST 3 vs 7) learned, checked against the baseline it measured in the same run.

The baseline is pixel similarity: the L1 distance to the mean 3 and the mean 7 of the
training images. Every trained model after the linear one must beat it. In sample mode
the validation set is small (73 images from scikit-learn's digits, so one image is worth
about 0.014 accuracy) and the baseline already gets all but one right, so "beat" means
"make fewer mistakes than the baseline"; these models make none with the lesson's seed
and with every other seed we tried. If a future sample had a perfect baseline, nothing
could beat it, and matching it (1.0) is the best possible result.
"""
import pytest

LESSON = "02_mnist_3v7"
MODELS_THAT_MUST_BEAT_BASELINE = ("mlp_acc", "learner_mlp_acc", "cnn_acc")
# Chance is 0.5 (the classes are balanced). A linear model that trained at all scores above
# 0.9; one stuck with saturated sigmoids stays near 0.5. 0.75 separates the two with margin.
LINEAR_MIN_ACC = 0.75


@pytest.fixture
def metrics(lesson_metrics):
    return lesson_metrics(LESSON)


def test_records_every_metric(metrics):
    expected = {"pixel_similarity_acc", "linear_acc", *MODELS_THAT_MUST_BEAT_BASELINE, "seconds"}
    missing = expected - set(metrics)
    assert not missing, f"{LESSON} did not record {sorted(missing)}"
    for key in expected - {"seconds"}:
        assert 0.0 <= metrics[key] <= 1.0, f"{key}={metrics[key]} is not an accuracy"


@pytest.mark.parametrize("key", MODELS_THAT_MUST_BEAT_BASELINE)
def test_model_beats_pixel_similarity(metrics, key):
    baseline, acc = metrics["pixel_similarity_acc"], metrics[key]
    beaten = acc > baseline or acc == baseline == 1.0
    assert beaten, (f"{key}={acc:.4f} does not beat the pixel-similarity baseline {baseline:.4f} "
                    "measured in the same run")


def test_linear_model_is_above_chance(metrics):
    assert metrics["linear_acc"] > LINEAR_MIN_ACC, (
        f"linear_acc={metrics['linear_acc']:.4f}: the hand-trained linear model did not learn "
        f"(chance is 0.5); check its learning rate and initialisation")
