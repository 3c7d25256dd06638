"""metrics: each one against scikit-learn or a direct formula on random inputs."""
import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, fbeta_score, mean_squared_error
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers import metrics
from coursehelpers.config import TrainConfig
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.learner import Learner
from coursehelpers.metrics import batchwise


def random_multilabel(seed=0, n=200, k=17):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g) * 2
    target = (torch.rand(n, k, generator=g) < 0.3).float()
    return logits, target


def test_accuracy_and_error_rate_match_sklearn():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(300, 5, generator=g), torch.randint(0, 5, (300,), generator=g)
    expected = accuracy_score(target.numpy(), logits.argmax(1).numpy())
    assert abs(float(metrics.accuracy(logits, target)) - expected) < 1e-6
    assert abs(float(metrics.error_rate(logits, target)) - (1 - expected)) < 1e-6


def test_accuracy_multi_matches_elementwise_sklearn():
    logits, target = random_multilabel()
    pred = (logits.sigmoid() > 0.4).numpy().ravel()
    expected = accuracy_score(target.numpy().ravel(), pred)
    assert abs(float(metrics.accuracy_multi(logits, target, thresh=0.4)) - expected) < 1e-6


def test_fbeta_multi_matches_sklearn_samples_average():
    logits, target = random_multilabel(seed=1)
    for thresh in (0.2, 0.5):
        pred = (logits.sigmoid() > thresh).numpy()
        expected = fbeta_score(target.numpy(), pred, beta=2, average="samples", zero_division=0)
        got = float(metrics.fbeta_multi(logits, target, beta=2, thresh=thresh))
        assert abs(got - expected) < 1e-5


def test_regression_metrics():
    g = torch.Generator().manual_seed(2)
    pred, targ = torch.randn(100, generator=g), torch.randn(100, generator=g)
    expected = mean_squared_error(targ.numpy(), pred.numpy())
    assert abs(float(metrics.mse(pred, targ)) - expected) < 1e-5
    assert abs(float(metrics.rmse(pred, targ)) - np.sqrt(expected)) < 1e-5
    sales, guess = torch.rand(100, generator=g) * 1000 + 10, torch.rand(100, generator=g) * 1000 + 10
    rmspe = np.sqrt(np.mean(((sales - guess) / sales).numpy() ** 2))
    assert abs(float(metrics.exp_rmspe(guess.log(), sales.log())) - rmspe) < 1e-4


def test_multi_label_metrics_count_a_probability_at_the_threshold_as_off():
    at_half = torch.zeros(1, 2)  # logits 0: probability exactly 0.5, the default threshold
    assert float(metrics.accuracy_multi(at_half, torch.tensor([[0.0, 1.0]]))) == 0.5
    probs = torch.tensor([[0.2, 0.9, 0.1]])  # already probabilities: sigmoid=False uses them as they are
    target = torch.tensor([[1.0, 1.0, 0.0]])
    assert float(metrics.accuracy_multi(probs, target, thresh=0.2, sigmoid=False)) == pytest.approx(2 / 3)
    # F2 at the default threshold 0.2: the first label is not predicted, so precision 1, recall 1/2
    assert float(metrics.fbeta_multi(probs, target, sigmoid=False)) == pytest.approx(5 * 0.5 / (4 + 0.5))


def test_fbeta_multi_defaults_are_kaggles_f2_at_0_2_and_beta_is_used():
    logits, target = random_multilabel(seed=3)
    pred = (logits.sigmoid() > 0.2).numpy()
    f2 = fbeta_score(target.numpy(), pred, beta=2, average="samples", zero_division=0)
    assert float(metrics.fbeta_multi(logits, target)) == pytest.approx(f2, abs=1e-5)
    half = fbeta_score(target.numpy(), pred, beta=0.5, average="samples", zero_division=0)
    assert float(metrics.fbeta_multi(logits, target, beta=0.5)) == pytest.approx(half, abs=1e-5)
    assert abs(half - f2) > 0.01  # beta matters on this data


def test_a_batchwise_metric_sees_one_batch_at_a_time_and_a_plain_one_the_whole_set():
    seen = {"plain": [], "batchwise": []}

    def recorder(key):
        def rows(output, target):
            seen[key].append(len(output))
            return torch.tensor(0.0)
        rows.__name__ = key
        return rows

    x = torch.randn(100, 3)
    dls = DataLoaders.from_datasets(TensorDataset(x, x.sum(1, keepdim=True)), TensorDataset(x, x.sum(1, keepdim=True)),
                                    bs=20, device=torch.device("cpu"))
    learn = Learner(nn.Linear(3, 1), dls, nn.MSELoss(), metrics=[recorder("plain"), batchwise(recorder("batchwise"))],
                    config=TrainConfig(log=False))
    assert list(learn.validate()) == ["valid_loss", "plain", "batchwise"]
    assert seen == {"plain": [100], "batchwise": [40, 40, 20]}  # validation batches of 2 x bs


def test_accuracy_reads_the_class_off_the_last_dimension_of_sequence_outputs():
    g = torch.Generator().manual_seed(0)
    output = torch.randn(2, 5, 7, generator=g)  # a language model: [batch, sequence, vocabulary]
    target = torch.randint(0, 7, (2, 5), generator=g)
    assert float(metrics.accuracy(output, target)) == pytest.approx(float((output.argmax(-1) == target).float().mean()))
    assert float(metrics.accuracy(output, output.argmax(-1))) == 1.0


def test_accuracy_multi_defaults_to_sigmoid_at_one_half_and_can_take_probabilities():
    logits = torch.tensor([[0.1, -0.1, 3.0], [-2.0, 0.4, 0.0]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    assert float(metrics.accuracy_multi(logits, target)) == pytest.approx(5 / 6)  # sigmoid(0) = 0.5 is not above
    probs = torch.tensor([[0.6, 0.4, 0.2], [0.1, 0.9, 0.55]])
    assert float(metrics.accuracy_multi(probs, target, sigmoid=False)) == pytest.approx(5 / 6)
    assert float(metrics.accuracy_multi(probs, target, thresh=0.3, sigmoid=False)) == pytest.approx(4 / 6)
