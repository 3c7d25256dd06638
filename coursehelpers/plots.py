"""Training-curve plots: the losses of a fit and the LR finder's sweep.

Each function returns its matplotlib Figure and never needs a live display.

Example:
    >>> fig = plot_losses(learn)      # doctest: +SKIP
    >>> fig.savefig("losses.png")     # doctest: +SKIP
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from coursehelpers.schedule import LRSuggestion


def plot_losses(learn, figsize: tuple[float, float] = (6, 4)) -> Figure:
    """Training loss per batch, and validation loss at the end of each epoch."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.plot(np.arange(1, len(learn.batch_losses) + 1), learn.batch_losses, label="train (per batch)", alpha=0.7)
    if len(learn.history):
        n_batches = len(learn.batch_losses) / len(learn.history)
        steps = np.arange(1, len(learn.history) + 1) * n_batches
        ax.plot(steps, learn.history["valid_loss"], "o-", label="valid (per epoch)")
    ax.set_xlabel("batches seen")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_lr_find(learn, suggestion: LRSuggestion | None = None,
                 figsize: tuple[float, float] = (6, 4)) -> Figure:
    """The LR finder's smoothed loss against the learning rate (log scale), with suggestions marked."""
    results = learn.lr_find_results
    fig, ax = plt.subplots(figsize=figsize)
    ax.plot(results["lr"], results["smoothed_loss"])
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    if suggestion is not None:
        for (name, lr), marker in zip(suggestion._asdict().items(), "o^s"):
            loss = np.interp(np.log(lr), np.log(results["lr"]), results["smoothed_loss"])
            ax.plot(lr, loss, marker, markersize=8, label=f"{name}: {lr:.1e}")
        ax.legend()
    fig.tight_layout()
    return fig
