"""`TrainConfig`: how a Learner trains beyond its model, data and loss, and what its settings mean.

Example:
    >>> TrainConfig(wd=0.1, precision="bf16")  # doctest: +ELLIPSIS
    TrainConfig(lr=0.001, wd=0.1, wd_bn_bias=False, train_bn=True, opt_func=<function adamw ...>, precision='bf16', grad_clip=None, progress=False, log=True)
    >>> autocast_dtype("auto", torch.device("cpu")) is None, autocast_dtype("bf16", torch.device("cpu"))
    (True, torch.bfloat16)
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch


def adamw(params: Iterable, lr: float) -> torch.optim.Optimizer:
    """AdamW with fastai's defaults: betas (0.9, 0.99), eps 1e-5; weight decay is set per group.

    PyTorch's fused kernel (every weight updated in one call: a step costs less) where this
    version of PyTorch has one for the device; the plain implementation otherwise.
    """
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), eps=1e-5, fused=True)
    except (RuntimeError, ValueError, TypeError):  # an older PyTorch, or no fused kernel for this device
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), eps=1e-5)


@dataclass
class TrainConfig:
    """How a Learner trains, beyond its model, data and loss.

    ``precision``: "auto" (bf16 autocast on a CUDA GPU that has it, else fp16 with
    loss scaling; fp32 elsewhere), or "fp32", "bf16", "fp16" on any device.
    """

    lr: float = 1e-3              # default rate of fit and fit_one_cycle
    wd: float = 0.01              # decoupled weight decay (AdamW)
    wd_bn_bias: bool = False      # decay norm-layer parameters and biases too (fastai: no)
    train_bn: bool = True         # norm layers keep training when their group is frozen
    opt_func: Callable = adamw
    precision: str = "auto"
    grad_clip: float | None = None
    progress: bool = False        # a progress bar per epoch
    log: bool = True              # print one line per epoch


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype autocast runs in for this precision and device; None means plain fp32."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    dtypes = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        raise ValueError(f"precision={precision!r}: use 'auto', 'fp32', 'bf16' or 'fp16'.")
    return dtypes[precision]
