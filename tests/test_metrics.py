"""metrics: each one against scikit-learn or a direct formula on random inputs."""
import numpy as np
import torch
from sklearn.metrics import accuracy_score, fbeta_score, mean_squared_error

from coursehelpers import metrics


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
