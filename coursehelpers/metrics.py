"""Metrics: numbers a person reads to judge a model (losses are for the optimizer).

Each metric takes the model's raw outputs (logits for classifiers, log-space
predictions for `exp_rmspe`) and the targets, and returns a 0-d tensor. The
Learner computes them once per epoch on the whole validation set, so RMSE or F2
are exact rather than means of per-batch values. A metric that is itself a mean
over items can be marked `batchwise`: it is then averaged over batches, and the
outputs need not be kept (a language model's outputs are huge).

Use functools.partial for other settings; the Learner names the column after the
wrapped function:

    >>> from functools import partial
    >>> f2 = partial(fbeta_multi, beta=2, thresh=0.2)
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor


def batchwise(metric: Callable[[Tensor, Tensor], Tensor]) -> partial:
    """The same metric, marked to be averaged over validation batches (weighted by their size).

    Example:
        >>> batchwise(accuracy).batchwise, batchwise(accuracy).func is accuracy
        (True, True)
    """
    marked = partial(metric)
    marked.batchwise = True
    return marked


def accuracy(output: Tensor, target: Tensor) -> Tensor:
    """Fraction of rows whose highest-scoring class is the target class.

    Example:
        >>> accuracy(torch.tensor([[2., 1.], [0., 3.]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    return (output.argmax(dim=-1) == target).float().mean()


def error_rate(output: Tensor, target: Tensor) -> Tensor:
    """1 - accuracy.

    Example:
        >>> error_rate(torch.tensor([[2., 1.], [0., 3.]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    return 1 - accuracy(output, target)


def accuracy_multi(output: Tensor, target: Tensor, thresh: float = 0.5, sigmoid: bool = True) -> Tensor:
    """Multi-label accuracy: the fraction of (item, label) pairs predicted right.

    Example:
        >>> accuracy_multi(torch.tensor([[5., -5.]]), torch.tensor([[1., 1.]]))
        tensor(0.5000)
    """
    probs = output.sigmoid() if sigmoid else output
    return ((probs > thresh) == target.bool()).float().mean()


def fbeta_multi(output: Tensor, target: Tensor, beta: float = 2.0, thresh: float | Tensor = 0.2,
                sigmoid: bool = True, eps: float = 1e-9) -> Tensor:
    """F-beta per item, averaged over items (how Kaggle scored Planet, with beta=2).

    An item with no true and no predicted labels has precision and recall
    undefined; like scikit-learn (zero_division=0) it scores 0.

    Example:
        >>> fbeta_multi(torch.tensor([[5., -5.], [5., 5.]]), torch.tensor([[1., 0.], [1., 0.]]))
        tensor(0.9167)
    """
    pred = ((output.sigmoid() if sigmoid else output) > thresh).float()
    target = target.float()
    tp = (pred * target).sum(dim=1)
    precision, recall = tp / (pred.sum(dim=1) + eps), tp / (target.sum(dim=1) + eps)
    b2 = beta**2
    return ((1 + b2) * precision * recall / (b2 * precision + recall + eps)).mean()


def mse(output: Tensor, target: Tensor) -> Tensor:
    """Mean squared error.

    Example:
        >>> mse(torch.tensor([1., 3.]), torch.tensor([1., 1.]))
        tensor(2.)
    """
    return ((output.reshape(target.shape) - target) ** 2).mean()


def rmse(output: Tensor, target: Tensor) -> Tensor:
    """Root mean squared error.

    Example:
        >>> rmse(torch.tensor([1., 3.]), torch.tensor([1., 1.]))
        tensor(1.4142)
    """
    return mse(output, target).sqrt()


def exp_rmspe(output: Tensor, target: Tensor) -> Tensor:
    """Root mean squared percentage error of exp(output) against exp(target).

    Rossmann's score: models predict log(sales), the error is measured on sales.

    Example:
        >>> exp_rmspe(torch.log(torch.tensor([90.])), torch.log(torch.tensor([100.])))
        tensor(0.1000)
    """
    pred, targ = torch.exp(output.reshape(target.shape)), torch.exp(target)
    return torch.sqrt((((targ - pred) / targ) ** 2).mean())
