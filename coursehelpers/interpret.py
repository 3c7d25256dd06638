"""The numbers behind the plots of `coursehelpers.viz`: confusion, top losses, Grad-CAM, a layer summary.

Predictions are what ``learn.get_preds()`` returns: probabilities [N, C] (or class indices [N]), and targets.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, n_classes: int | None = None) -> np.ndarray:
    """Counts [actual, predicted] of single-label predictions (probabilities [N, C] or indices [N]).

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1])).tolist()
        [[1, 1], [0, 1]]
    """
    preds = torch.as_tensor(preds)
    p, t = (preds.argmax(1) if preds.ndim == 2 else preds.long()).cpu(), torch.as_tensor(targets).long().cpu()
    n = n_classes or (preds.shape[1] if preds.ndim == 2 else int(max(p.max(), t.max())) + 1)
    return torch.bincount(t * n + p, minlength=n * n).reshape(n, n).numpy()


def most_confused(preds: torch.Tensor, targets: torch.Tensor, classes: Sequence[str],
                  min_val: int = 1) -> list[tuple[str, str, int]]:
    """(actual, predicted, count) for every off-diagonal cell with count >= ``min_val``, largest first.

    Example:
        >>> most_confused(torch.tensor([1, 1, 0, 2]), torch.tensor([0, 0, 0, 1]), ["a", "b", "c"])
        [('a', 'b', 2), ('b', 'c', 1)]
    """
    cm = confusion_matrix(preds, targets, len(classes))
    pairs = [(classes[i], classes[j], int(cm[i, j])) for i in range(len(classes)) for j in range(len(classes))
             if i != j and cm[i, j] >= min_val]
    return sorted(pairs, key=lambda pair: -pair[2])  # stable: ties keep the class order


def most_confused_classes(cm: np.ndarray, k: int) -> list[int]:
    """The indices (in class order) of the ``k`` classes with the most errors, as actual or as predicted.

    Example:
        >>> most_confused_classes(np.array([[5, 1, 0], [2, 3, 0], [0, 0, 4]]), 2)
        [0, 1]
    """
    errors = cm.sum(0) + cm.sum(1) - 2 * np.diag(cm)
    return sorted(np.argsort(-errors, kind="stable")[:k].tolist())


def top_losses(preds: torch.Tensor, targets: torch.Tensor, k: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest per-item losses and their indices, from probabilities (softmax or sigmoid).

    Single-label: ``-log p[target]``; multi-label (targets [N, C]): the mean binary cross-entropy.
    """
    preds, targets = preds.float().cpu(), targets.cpu()
    if targets.ndim == 2:
        losses = F.binary_cross_entropy(preds.clamp(1e-7, 1 - 1e-7), targets.float(), reduction="none").mean(1)
    else:
        losses = -preds.gather(1, targets.long()[:, None]).squeeze(1).clamp_min(1e-12).log()
    return losses.topk(min(k, len(losses)))


def grad_cam(model: nn.Module, x: torch.Tensor, layer: nn.Module, class_idx: int | None = None
             ) -> tuple[torch.Tensor, int]:
    """Grad-CAM heat map [H, W] in [0, 1] of one prepared image ``x`` [C, H, W], and the class it explains.

    Hooks record the ``layer``'s activations and the gradient of the class score
    (default: the predicted class) with respect to them; each channel is weighted
    by its mean gradient, summed, passed through ReLU and upsampled to the image.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        ...                     nn.Flatten(), nn.Linear(4, 2))
        >>> grad_cam(net, torch.rand(3, 8, 8), layer=net[0])[0].shape
        torch.Size([8, 8])
    """
    if not any(m is layer for m in model.modules()):
        raise ValueError("grad_cam: `layer` is not a module of this model (was it taken from another "
                         "model?). Pass e.g. layer=learn.model[0].layer4, the body's last block.")
    saved: dict[str, torch.Tensor] = {}
    hooks = [layer.register_forward_hook(lambda m, i, out: saved.__setitem__("act", out)),
             layer.register_full_backward_hook(lambda m, gi, go: saved.__setitem__("grad", go[0]))]
    was_training = model.training
    model.eval()
    try:
        out = model(x[None].to(next(model.parameters()).device).requires_grad_(True))
        cls = int(out.argmax(1)) if class_idx is None else class_idx
        model.zero_grad()
        out[0, cls].backward()
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    act, grad = saved["act"][0].detach(), saved["grad"][0]
    cam = F.relu((grad.mean((1, 2), keepdim=True) * act).sum(0))
    cam = F.interpolate(cam[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return (cam / cam.max().clamp_min(1e-12)).cpu(), cls


def summary(model: nn.Module, *inputs: torch.Tensor) -> pd.DataFrame:
    """One row per layer that holds parameters or has no children: name, type, output shape, params, trainable.

    The model runs once (eval mode, no gradients) on ``inputs`` to record the shapes.

    Example:
        >>> df = summary(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), torch.rand(2, 3))
        >>> df[["layer", "output_shape", "params"]].values.tolist()
        [['0', '[2, 4]', 16], ['1', '[2, 4]', 0]]
    """
    rows, shapes, hooks = [], {}, []

    def record(module: nn.Module, args: tuple, out: object) -> None:  # returning a value would replace the output
        out = out[0] if isinstance(out, (tuple, list)) and out else out
        shapes.setdefault(id(module), str(list(out.shape)) if isinstance(out, torch.Tensor) else "-")

    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        if own or not list(module.children()):
            rows.append((name or type(module).__name__, module, own))
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return pd.DataFrame(
        [{"layer": name, "type": type(m).__name__, "output_shape": shapes.get(id(m), "-"),
          "params": sum(p.numel() for p in own), "trainable": any(p.requires_grad for p in own) if own else None}
         for name, m, own in rows])
