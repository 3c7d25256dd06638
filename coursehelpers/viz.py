"""Looking at images, models and mistakes: batches, results, confusion, top losses, Grad-CAM, filters, summary.

Every plotting function builds and returns a ``matplotlib.figure.Figure`` (made
without pyplot, so nothing depends on a live display and nothing is shown twice);
a notebook shows a Figure that ends a cell. The numbers behind the plots are
plain functions too: :func:`confusion_matrix`, :func:`most_confused`,
:func:`top_losses`, :func:`grad_cam`, :func:`summary`.

Images are ``[C, H, W]`` float tensors in [0, 1] (batches from DataLoaders are
denormalised first with ``dls.denormalize``).

Example:
    >>> fig = show_images(torch.rand(4, 3, 8, 8), titles=list("abcd"))
    >>> len(fig.axes)
    4
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn


# ---------------------------------------------------------------- images
def _grid(n: int, ncols: int | None, cell: float = 2.0) -> tuple[Figure, list]:
    ncols = ncols or min(n, max(1, math.ceil(math.sqrt(n))))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(cell * ncols, cell * nrows + 0.3), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten().tolist()
    for ax in axes:
        ax.set_axis_off()
    return fig, axes


def to_hwc(img: torch.Tensor) -> np.ndarray:
    """A [C, H, W] image tensor as a [H, W, C] (or [H, W] grey) array in [0, 1] for ``imshow``."""
    img = img.detach().float().cpu().clamp(0, 1)
    return img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()


def show_images(images: torch.Tensor | Sequence[torch.Tensor], titles: Sequence[str] | None = None,
                ncols: int | None = None, colors: Sequence[str] | None = None, cell: float = 2.0) -> Figure:
    """A grid of images with optional titles (and title colours).

    Example:
        >>> show_images([torch.zeros(1, 4, 4)], titles=["black"]).axes[0].get_title()
        'black'
    """
    fig, axes = _grid(len(images), ncols, cell)
    for i, (ax, img) in enumerate(zip(axes, images)):
        ax.imshow(to_hwc(img), cmap="gray" if img.shape[0] == 1 else None, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9, color=colors[i] if colors is not None else "black")
    return fig


def _name(target: torch.Tensor, classes: Sequence[str] | None) -> str:
    """A target as text: a class name, or the tags of a multi-hot vector joined by ';'."""
    if target.ndim == 0:
        return classes[int(target)] if classes is not None else str(target.item())
    on = (target > 0.5).nonzero().flatten().tolist()
    return ";".join(classes[i] if classes is not None else str(i) for i in on)


def show_batch(dls, n: int = 9, split: str = "train", ncols: int | None = None) -> Figure:
    """The first ``n`` images of one batch as the model sees them (augmented for "train"), with labels.

    Example:
        >>> # show_batch(dls, n=9)
    """
    batch = dls.one_batch(split)
    xb, yb = batch[0][:n], batch[-1][:n]
    images = dls.denormalize(xb)
    return show_images(images, [_name(y, dls.classes) for y in yb], ncols)


def show_results(learn, n: int = 9, ncols: int | None = None) -> Figure:
    """Validation images titled "prediction / actual", green when right and red when wrong."""
    batch = learn.dls.one_batch("valid")
    xb, yb = batch[0][:n], batch[-1][:n]
    learn.model.eval()
    with torch.no_grad():
        out = learn.model(xb)
    multi = yb.ndim == 2
    preds = (out.sigmoid() > 0.5).float() if multi else out.argmax(1)
    names = [(_name(p, learn.dls.classes), _name(y, learn.dls.classes)) for p, y in zip(preds.cpu(), yb.cpu())]
    return show_images(learn.dls.denormalize(xb), [f"{p}\n{a}" for p, a in names], ncols,
                       colors=["green" if p == a else "red" for p, a in names])


# ---------------------------------------------------------------- mistakes
def _labels(preds: torch.Tensor) -> torch.Tensor:
    """Class indices from probabilities [N, C] (argmax) or from indices [N]."""
    preds = torch.as_tensor(preds)
    return preds.argmax(1) if preds.ndim == 2 else preds.long()


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, n_classes: int | None = None) -> np.ndarray:
    """Counts [actual, predicted] of single-label predictions (probabilities [N, C] or indices [N]).

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1])).tolist()
        [[1, 1], [0, 1]]
    """
    p, t = _labels(preds).cpu(), torch.as_tensor(targets).long().cpu()
    n = n_classes or (preds.shape[1] if torch.as_tensor(preds).ndim == 2 else int(max(p.max(), t.max())) + 1)
    return torch.bincount(t * n + p, minlength=n * n).reshape(n, n).numpy()


def plot_confusion_matrix(cm: np.ndarray, classes: Sequence[str], normalize: bool = False,
                          cell: float = 0.26) -> Figure:
    """The confusion matrix as a heat map: rows are actual classes, columns predicted ones.

    Example:
        >>> fig = plot_confusion_matrix(np.array([[3, 1], [0, 4]]), ["cat", "dog"])
    """
    values = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    side = max(4.0, cell * len(classes) + 2)
    fig = Figure(figsize=(side, side), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(values, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7 if len(classes) > 10 else 10)
    ax.set_yticks(range(len(classes)), classes, fontsize=7 if len(classes) > 10 else 10)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    if len(classes) <= 40:  # numbers stay readable up to about this many classes
        for i, j in zip(*np.nonzero(cm)):
            text = f"{values[i, j]:.2f}" if normalize else str(cm[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=6 if len(classes) > 10 else 10,
                    color="white" if values[i, j] > values.max() / 2 else "black")
    fig.colorbar(im, ax=ax, shrink=0.7)
    return fig


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


def top_losses(preds: torch.Tensor, targets: torch.Tensor, k: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest per-item losses and their indices, from probabilities (softmax or sigmoid).

    Single-label: ``-log p[target]``; multi-label (targets [N, C]): mean binary cross-entropy.

    Example:
        >>> top_losses(torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0]), k=1)[1].tolist()
        [1]
    """
    preds, targets = preds.float().cpu(), targets.cpu()
    if targets.ndim == 2:
        losses = F.binary_cross_entropy(preds.clamp(1e-7, 1 - 1e-7), targets.float(), reduction="none").mean(1)
    else:
        losses = -preds.gather(1, targets.long()[:, None]).squeeze(1).clamp_min(1e-12).log()
    return losses.topk(min(k, len(losses)))


def plot_top_losses(learn, k: int = 9, preds: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                    ncols: int | None = None) -> Figure:
    """The validation images the model is most wrong (or least sure) about: prediction/actual/loss/probability.

    ``preds, targets`` from ``learn.get_preds()`` are computed if not given. Images
    are the dataset's items (presized, not augmented).
    """
    if preds is None or targets is None:
        preds, targets = learn.get_preds()
    losses, idx = top_losses(preds, targets, k)
    dataset, classes = learn.dls.valid_dl.dataset, learn.dls.classes
    images, titles = [], []
    for loss, i in zip(losses.tolist(), idx.tolist()):
        images.append(dataset[i][0].float() / (255 if dataset[i][0].dtype == torch.uint8 else 1))
        if targets.ndim == 2:
            titles.append(f"{_name((preds[i] > 0.5).float(), classes)}\n{_name(targets[i], classes)}\n{loss:.2f}")
        else:
            p = int(preds[i].argmax())
            titles.append(f"{classes[p]}\n{classes[int(targets[i])]}\n{loss:.2f} / {preds[i, p]:.2f}")
    fig = show_images(images, titles, ncols, cell=2.3)
    fig.suptitle("prediction, actual, loss / probability" if targets.ndim == 1 else "prediction, actual, loss")
    return fig


# ---------------------------------------------------------------- inside the CNN
def last_conv_block(model: nn.Module) -> nn.Module:
    """The module Grad-CAM watches: the body's last block for ``Sequential(body, head)``, else the last Conv2d."""
    first = next(iter(model.children()), None)
    if isinstance(model, nn.Sequential) and isinstance(first, nn.Sequential):
        return first[-1]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("No Conv2d in the model: pass the layer to watch explicitly (layer=...).")
    return convs[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, layer: nn.Module | None = None,
             class_idx: int | None = None) -> tuple[torch.Tensor, int]:
    """Grad-CAM heat map [H, W] in [0, 1] for one input image ``x`` [C, H, W] (already normalised).

    Hooks record the ``layer``'s activations A and the gradient of the class score
    with respect to them; each channel is weighted by its mean gradient, summed,
    passed through ReLU and upsampled to the image. Returns (heat map, class index);
    ``class_idx`` defaults to the predicted class.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        ...                     nn.Flatten(), nn.Linear(4, 2))
        >>> grad_cam(net, torch.rand(3, 8, 8))[0].shape
        torch.Size([8, 8])
    """
    layer = layer if layer is not None else last_conv_block(model)
    if not any(m is layer for m in model.modules()):
        raise ValueError("grad_cam: `layer` is not a module of this model (was it taken from another "
                         "model?). Pass e.g. layer=model[0].layer4, or leave it None for the last block.")
    saved: dict[str, torch.Tensor] = {}
    fwd = layer.register_forward_hook(lambda m, i, out: saved.__setitem__("act", out))
    bwd = layer.register_full_backward_hook(lambda m, gi, go: saved.__setitem__("grad", go[0]))
    was_training = model.training
    model.eval()
    try:
        inp = x[None].to(next(model.parameters()).device).requires_grad_(True)
        out = model(inp)
        cls = int(out.argmax(1)) if class_idx is None else class_idx
        model.zero_grad()
        out[0, cls].backward()
    finally:
        fwd.remove()
        bwd.remove()
        model.train(was_training)
    act, grad = saved["act"][0].detach(), saved["grad"][0]
    cam = F.relu((grad.mean((1, 2), keepdim=True) * act).sum(0))
    cam = F.interpolate(cam[None, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return (cam / cam.max().clamp_min(1e-12)).cpu(), cls


def show_grad_cam(learn, img: torch.Tensor, class_idx: int | None = None, layer: nn.Module | None = None,
                  alpha: float = 0.5) -> Figure:
    """The image and its Grad-CAM heat map side by side; ``img`` is a raw [C, H, W] item in [0, 1].

    The image goes through the valid transform and normalisation like a validation batch.
    """
    x = img.float()[None].to(learn.dls.device)
    if getattr(learn.dls, "valid_tfm", None) is not None:
        x = learn.dls.valid_tfm(x)
    shown = x[0].clone()
    if learn.dls.norm_stats is not None:
        mean, std = (torch.tensor(s, device=x.device).view(1, -1, 1, 1) for s in learn.dls.norm_stats)
        x = (x - mean) / std
    cam, cls = grad_cam(learn.model, x[0], layer, class_idx)
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.imshow(to_hwc(shown))
    ax2.imshow(to_hwc(shown))
    h, w = shown.shape[-2:]
    ax2.imshow(cam.numpy(), cmap="magma", alpha=alpha, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    name = learn.dls.classes[cls] if learn.dls.classes is not None else str(cls)
    ax1.set_title("image")
    ax2.set_title(f"Grad-CAM: {name}")
    for ax in (ax1, ax2):
        ax.set_axis_off()
    return fig


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The model's first ``Conv2d`` (the layer that looks at pixels)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError("No Conv2d in the model.")
    return conv


def plot_filters(model: nn.Module | torch.Tensor, ncols: int = 8) -> Figure:
    """The first convolution's filters as little images (each rescaled to [0, 1]; RGB when it takes 3 channels).

    Example:
        >>> len(plot_filters(nn.Conv2d(3, 4, 3)).axes)
        4
    """
    w = model.detach() if isinstance(model, torch.Tensor) else first_conv(model).weight.detach()
    w = w.float().cpu()
    lo, hi = w.amin((1, 2, 3), keepdim=True), w.amax((1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo).clamp_min(1e-12)
    if w.shape[1] != 3:
        w = w.mean(1, keepdim=True)
    fig = show_images(w, ncols=min(ncols, len(w)), cell=0.8)
    fig.suptitle(f"{len(w)} first-layer filters, {w.shape[-2]}x{w.shape[-1]}")
    return fig


def show_augmentations(img: torch.Tensor, tfm: nn.Module, n: int = 8, ncols: int = 4) -> Figure:
    """One image [C, H, W] in [0, 1] under a (random) batch transform ``n`` times.

    Example:
        >>> from coursehelpers.augment import aug_transforms
        >>> len(show_augmentations(torch.rand(3, 16, 16), aug_transforms(size=12), n=4).axes)
        4
    """
    was_training = tfm.training
    tfm.train()
    with torch.no_grad():
        out = tfm(img[None].repeat(n, *([1] * img.ndim)))
    tfm.train(was_training)
    return show_images(out, ncols=ncols)


# ---------------------------------------------------------------- model summary
def summary(model: nn.Module, *inputs: torch.Tensor) -> pd.DataFrame:
    """One row per layer that holds parameters or has no children: name, type, output shape, params, trainable.

    The model runs once (in eval mode, no gradients) on ``inputs`` to record output
    shapes. The ``params`` column sums to the model's parameter count.

    Example:
        >>> df = summary(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), torch.rand(2, 3))
        >>> df[["layer", "output_shape", "params"]].values.tolist()
        [['0', '[2, 4]', 16], ['1', '[2, 4]', 0]]
    """
    rows, shapes, hooks = [], {}, []

    def record(module: nn.Module, args, out) -> None:  # a hook must return None or it replaces the output
        shapes.setdefault(id(module), _shape(out))

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
        for h in hooks:
            h.remove()
        model.train(was_training)
    return pd.DataFrame(
        [{"layer": name, "type": type(m).__name__, "output_shape": shapes.get(id(m), "-"),
          "params": sum(p.numel() for p in own), "trainable": any(p.requires_grad for p in own) if own else None}
         for name, m, own in rows])


def _shape(out) -> str:
    if isinstance(out, torch.Tensor):
        return str(list(out.shape))
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return str(list(out[0].shape))
    return "-"


# ---------------------------------------------------------------- training curves
def plot_losses(learn, figsize: tuple[float, float] = (6, 4)) -> Figure:
    """Training loss per batch, and validation loss at the end of each epoch, against batches seen.

    Example:
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
    ax.set_xlabel("batches seen")
    ax.set_ylabel("loss")
    ax.legend()
    return fig


def plot_schedule(learn, figsize: tuple[float, float] = (8, 3)) -> Figure:
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
        ax.set_xlabel("batches seen")
        ax.set_ylabel(label)
    return fig


def plot_lr_find(result, figsize: tuple[float, float] = (6, 4)) -> Figure:
    """The LR finder's smoothed loss against the learning rate (log scale), each suggestion marked.

    ``result`` is what `Learner.lr_find` returned.
    """
    curve, suggestion = result.curve, result.suggestion
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.plot(curve["lr"], curve["smoothed_loss"], color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss (smoothed)")
    for (name, lr), (marker, color) in zip(suggestion._asdict().items(),
                                           [("o", "tab:red"), ("^", "tab:green"), ("s", "tab:purple")]):
        loss = np.interp(np.log(lr), np.log(curve["lr"]), curve["smoothed_loss"])
        ax.axvline(lr, color=color, alpha=0.3, lw=1)
        ax.plot(lr, loss, marker, color=color, markersize=9, label=f"{name}: {lr:.1e}")
    ax.legend()
    return fig
