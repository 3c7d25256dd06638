"""Figures: images, batches, mistakes, Grad-CAM, filters, augmentations, and training curves.

Every function builds and returns a ``matplotlib.figure.Figure`` without pyplot,
so pyplot's state is left alone and a notebook shows the figure ending a cell,
once. Images are [C, H, W] tensors, uint8 or floats in [0, 1]; the numbers
behind the plots are in `coursehelpers.interpret`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import nn

from coursehelpers.dataloaders import DataLoaders
from coursehelpers.interpret import grad_cam, most_confused_classes, top_losses
from coursehelpers.learner import Learner
from coursehelpers.lr_finder import LRFinderResult


# ---------------------------------------------------------------- images
def to_hwc(img: torch.Tensor) -> np.ndarray:
    """An image [C, H, W] (uint8, or floats in [0, 1]) as an [H, W, C] (or [H, W] grey) array in [0, 1]."""
    img = (img.detach().cpu().float() / (255 if img.dtype == torch.uint8 else 1)).clamp(0, 1)
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def show_images(images: torch.Tensor | Sequence[torch.Tensor], titles: Sequence[str] | None = None,
                ncols: int | None = None, cell: float = 2.0) -> Figure:
    """A grid of images, with a title above each if ``titles`` are given.

    Example:
        >>> [ax.get_title() for ax in show_images(torch.rand(3, 3, 8, 8), titles=list("abc")).axes]
        ['a', 'b', 'c', '']
        >>> show_images([]).texts[0].get_text()   # nothing to show (say, no mistakes) is a figure that says so
        'no images to show'
    """
    if len(images) == 0:
        fig = Figure(figsize=(3, 0.6))
        fig.text(0.5, 0.5, "no images to show", ha="center", va="center")
        return fig
    ncols = ncols or min(len(images), max(1, math.ceil(math.sqrt(len(images)))))
    nrows = math.ceil(len(images) / ncols)
    fig = Figure(figsize=(cell * ncols, cell * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    for ax in axes:
        ax.set_axis_off()
    for i, (ax, img) in enumerate(zip(axes, images)):
        ax.imshow(to_hwc(img), cmap="gray" if img.shape[0] == 1 else None, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    return fig


def _name(target: torch.Tensor, classes: Sequence[str] | None) -> str:
    """A target as text: a class name, or the tags of a multi-hot vector joined by ';'."""
    if target.ndim == 0:
        return classes[int(target)] if classes is not None else str(target.item())
    on = (target > 0.5).nonzero().flatten().tolist()
    return ";".join(classes[i] if classes is not None else str(i) for i in on)


def show_batch(dls: DataLoaders, n: int = 9, split: str = "train", ncols: int | None = None) -> Figure:
    """The first ``n`` images of a batch as the model sees them (augmented for "train"), with their labels."""
    batch = dls.one_batch(split)
    xb, yb = batch[0][:n], batch[-1][:n]
    return show_images(dls.prepare.denormalize(xb), [_name(y, dls.classes) for y in yb.cpu()], ncols)


def show_augmentations(img: torch.Tensor, tfm: nn.Module, n: int = 8, ncols: int = 4) -> Figure:
    """One image [C, H, W] through a random batch transform ``n`` times."""
    was_training = tfm.training
    with torch.no_grad():
        out = tfm.train()(img[None].repeat(n, 1, 1, 1))
    tfm.train(was_training)
    return show_images(out, ncols=ncols)


# ---------------------------------------------------------------- mistakes
def plot_confusion_matrix(cm: np.ndarray, classes: Sequence[str], top_k: int | None = None,
                          cell: float = 0.32) -> Figure:
    """The confusion matrix as a heat map: rows are actual classes, columns predicted ones.

    With ``top_k``, only the ``top_k`` classes with the most errors (see
    `coursehelpers.interpret.most_confused_classes`): with 37 classes the whole
    matrix is mostly an empty square.

    Example:
        >>> fig = plot_confusion_matrix(np.array([[5, 1, 0], [2, 3, 0], [0, 0, 4]]), list("abc"), top_k=2)
        >>> [t.get_text() for t in fig.axes[0].get_xticklabels()], fig.axes[0].get_title()
        (['a', 'b'], 'the 2 of 3 classes with the most errors')
    """
    keep = most_confused_classes(cm, top_k) if top_k else list(range(len(classes)))
    cm, names = cm[np.ix_(keep, keep)], [classes[i] for i in keep]
    side, fontsize = max(4.0, cell * len(names) + 2.5), 8 if len(names) > 15 else 10
    fig = Figure(figsize=(side + 1, side), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(names)), names, fontsize=fontsize)
    ax.set(xlabel="predicted", ylabel="actual")
    if top_k:
        ax.set_title(f"the {len(names)} of {len(classes)} classes with the most errors")
    for i, j in zip(*np.nonzero(cm)):
        ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=fontsize - 1,
                color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax, shrink=0.7, label="number of images")
    return fig


def plot_top_losses(learn: Learner, k: int = 9, preds: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                    ncols: int | None = None) -> Figure:
    """The validation items with the largest losses, titled prediction / actual / loss (/ probability).

    ``preds, targets`` (from ``learn.get_preds()``) are computed if not given.
    """
    if preds is None or targets is None:
        preds, targets = learn.get_preds()
    losses, idx = top_losses(preds, targets, k)
    dataset, classes, titles = learn.dls.valid_ds, learn.dls.classes, []
    for loss, i in zip(losses.tolist(), idx.tolist()):
        if targets.ndim == 2:
            titles.append(f"{_name(preds[i], classes)}\n{_name(targets[i], classes)}\n{loss:.2f}")
        else:
            p = int(preds[i].argmax())
            titles.append(f"{classes[p]}\n{classes[int(targets[i])]}\n{loss:.2f} / {preds[i, p]:.2f}")
    fig = show_images([dataset[i][0] for i in idx.tolist()], titles, ncols, cell=2.3)
    fig.suptitle("prediction, actual, loss / probability" if targets.ndim == 1 else "prediction, actual, loss")
    return fig


# ---------------------------------------------------------------- inside the CNN
def show_grad_cam(learn: Learner, item: object, layer: nn.Module, class_idx: int | None = None, alpha: float = 0.5
                  ) -> Figure:
    """An image and its Grad-CAM heat map side by side (see `coursehelpers.interpret.grad_cam`).

    ``item`` is anything `learn.predict` takes (a dataset item, a file path...): it
    is prepared exactly like a validation image.
    """
    prepare = learn.dls.prepare
    x = prepare(learn.dls.to_device(prepare.encode(item)), train=False)[0]
    cam, cls = grad_cam(learn.model, x[0], layer, class_idx)
    shown = to_hwc(prepare.denormalize(x)[0])
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, title in zip(axes, ("image", f"Grad-CAM: {learn.dls.classes[cls] if learn.dls.classes else cls}")):
        ax.imshow(shown)
        ax.set_title(title)
        ax.set_axis_off()
    axes[1].imshow(cam.numpy(), cmap="magma", alpha=alpha, vmin=0, vmax=1)  # the cam has the image's size
    fig.colorbar(ScalarMappable(Normalize(0, 1), "magma"), ax=axes[1], shrink=0.8,
                 label="Grad-CAM (1: what drove the score most)")
    return fig


def plot_filters(model: nn.Module, ncols: int = 8) -> Figure:
    """The first convolution's filters as little images (each rescaled to [0, 1]; RGB when it takes 3 channels).

    Example:
        >>> len(plot_filters(nn.Conv2d(3, 4, 3)).axes)
        4
    """
    w = next(m for m in model.modules() if isinstance(m, nn.Conv2d)).weight.detach().float().cpu()
    lo, hi = w.amin((1, 2, 3), keepdim=True), w.amax((1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo).clamp_min(1e-12)
    if w.shape[1] != 3:
        w = w.mean(1, keepdim=True)
    fig = show_images(w, ncols=min(ncols, len(w)), cell=0.8)
    fig.suptitle(f"{len(w)} first-layer filters, {w.shape[-2]}x{w.shape[-1]}")
    return fig


# ---------------------------------------------------------------- training curves
def plot_losses(learn: Learner, figsize: tuple[float, float] = (6, 4)) -> Figure:
    """Training loss per batch, and validation loss at the end of each epoch, against batches seen.

    Example:
        >>> import pandas as pd
        >>> from types import SimpleNamespace
        >>> learn = SimpleNamespace(batch_losses=[3., 2., 1.5, 1.], history=pd.DataFrame({"valid_loss": [2., 1.2]}))
        >>> plot_losses(learn).axes[0].get_xlabel()
        'batches seen'
    """
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.plot(np.arange(1, len(learn.batch_losses) + 1), learn.batch_losses, label="train (per batch)", alpha=0.7)
    if len(learn.history):
        steps = np.arange(1, len(learn.history) + 1) * len(learn.batch_losses) / len(learn.history)
        ax.plot(steps, learn.history["valid_loss"], "o-", label="valid (per epoch)")
    ax.set(xlabel="batches seen", ylabel="loss")
    ax.legend()
    return fig


def plot_schedule(learn: Learner, figsize: tuple[float, float] = (8, 3)) -> Figure:
    """The learning rate (of the last parameter group) and momentum of every batch trained so far.

    Example:
        >>> from types import SimpleNamespace
        >>> learn = SimpleNamespace(batch_lrs=[1e-4, 1e-3, 1e-5], batch_moms=[0.95, 0.85, 0.95])
        >>> [ax.get_ylabel() for ax in plot_schedule(learn).axes]
        ['learning rate', 'momentum (beta1)']
    """
    fig = Figure(figsize=figsize, layout="constrained")
    ax_lr, ax_mom = fig.subplots(1, 2)
    steps = np.arange(1, len(learn.batch_lrs) + 1)
    ax_lr.plot(steps, learn.batch_lrs)
    moms = [np.nan if m is None else m for m in learn.batch_moms]
    ax_mom.plot(steps, moms, color="tab:orange")
    for ax, label in ((ax_lr, "learning rate"), (ax_mom, "momentum (beta1)")):
        ax.set(xlabel="batches seen", ylabel=label)
    return fig


def plot_lr_find(result: LRFinderResult, figsize: tuple[float, float] = (6.5, 4)) -> Figure:
    """The LR finder's smoothed loss against the learning rate (log scale), each suggestion marked.

    ``result`` is what `Learner.lr_find` returned. Suggestions at the same rate
    share one mark; the title gives the pick, and says when the others only mark
    the sweep's floor. The loss axis stops at 1.25x the loss's level before the
    fall, so the fall stays readable when the loss blows up.
    """
    curve, suggestion = result.curve, result.suggestion
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.plot(curve["lr"], curve["smoothed_loss"], color="tab:blue")
    loss = curve["smoothed_loss"].to_numpy()
    level = max(np.median(loss[: max(len(loss) // 10, 1)]), np.median(loss[: max(len(loss) // 2, 1)]))
    low = float(np.nanmin(loss))
    ax.set_ylim(low - 0.05 * (1.25 * level - low), 1.25 * level)
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="loss (smoothed)")
    marks: dict[float, list[str]] = {}
    for name in ("valley", "steep", "min_div10", "rise"):
        marks.setdefault(getattr(suggestion, name), []).append(name)
    styles = {"valley": ("o", "tab:red", "-"), "steep": ("^", "tab:green", "--"), "min_div10": ("s", "tab:purple", ":"),
              "rise": ("X", "tab:orange", "-.")}
    for lr, names in marks.items():
        marker, color, line = styles[names[0]]
        y = np.interp(np.log(lr), np.log(curve["lr"]), loss)
        ax.axvline(lr, color=color, ls=line, lw=1.2)
        ax.plot(lr, y, marker, color=color, markersize=8, label=f"{' = '.join(names)}: {lr:.1e}")
    ax.set_title(f"pick {suggestion.pick:.1e} (valley)" if suggestion.loss_fell else
                 f"pick {suggestion.pick:.1e} (a tenth of rise)\nno rate made the loss fall: "
                 "valley, steep and min_div10 only mark the sweep's floor", fontsize=9)
    ax.legend(loc="upper left", fontsize=9)
    return fig
