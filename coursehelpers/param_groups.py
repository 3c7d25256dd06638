"""Parameter groups: which weights decay, which train, and at which learning rate.

A splitter cuts a model's parameters into groups, from the earliest layers to
the head (`single_group` makes one). From them come the optimizer's groups, each
splitter group split in two: weights that decay and those that do not (norm
layers and biases, as fastai does). Freezing turns ``requires_grad`` off for the
early groups; norm layers may keep training, since their statistics must follow
the new data.

Example:
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    >>> groups = [list(model[:2].parameters()), list(model[2].parameters())]
    >>> [(len(g["params"]), g["weight_decay"], g["layer_group"]) for g in optimizer_groups(model, groups, 0.01)]
    [(1, 0.01, 0), (3, 0.0, 0), (1, 0.01, 1), (1, 0.0, 1)]
    >>> freeze_to(model, groups, 1, train_bn=True); [p.requires_grad for p in model.parameters()]
    [False, False, True, True, True, True]
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
Groups = Sequence[Sequence[nn.Parameter]]


def single_group(model: nn.Module) -> list[list[nn.Parameter]]:
    """The default splitter: all parameters in one group."""
    return [list(model.parameters())]


def norm_param_ids(model: nn.Module) -> set[int]:
    """ids of the parameters of normalisation layers (BatchNorm, LayerNorm, ...)."""
    return {id(p) for m in model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters()}


def optimizer_groups(model: nn.Module, groups: Groups, wd: float, wd_bn_bias: bool = False) -> list[dict]:
    """Optimizer groups: each splitter group as decayed weights, then norm-layer parameters and biases."""
    no_decay = set() if wd_bn_bias else norm_param_ids(model) | {
        id(p) for name, p in model.named_parameters() if name.endswith("bias")}
    out = []
    for i, params in enumerate(groups):
        for decay, ps in ((wd, [p for p in params if id(p) not in no_decay]),
                          (0.0, [p for p in params if id(p) in no_decay])):
            if ps:
                out.append({"params": ps, "weight_decay": decay, "layer_group": i})
    return out


def freeze_to(model: nn.Module, groups: Groups, n: int, train_bn: bool = True) -> None:
    """Train only groups ``n`` and after (negative ``n`` counts from the end); norm layers too if ``train_bn``."""
    n = n % len(groups) if n < 0 else n
    norm = norm_param_ids(model) if train_bn else set()
    for i, params in enumerate(groups):
        for p in params:
            p.requires_grad_(i >= n or id(p) in norm)


def set_hparams(opt: torch.optim.Optimizer, lrs: Sequence[float], mom: float | None = None) -> None:
    """Each optimizer group's learning rate (one per splitter group) and momentum (Adam's beta1)."""
    for group in opt.param_groups:
        group["lr"] = lrs[group.get("layer_group", 0)]
        if mom is not None and "betas" in group:
            group["betas"] = (mom, group["betas"][1])
        elif mom is not None and "momentum" in group:
            group["momentum"] = mom
