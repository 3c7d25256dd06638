"""Unit tests of coursehelpers.viz and coursehelpers.interpret on constructed inputs (no display needed; CPU)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import pandas as pd

from coursehelpers.augment import aug_transforms
from coursehelpers.interpret import (confusion_matrix, grad_cam, most_confused, most_confused_classes, summary,
                                     top_losses)
from coursehelpers.lr_finder import LRFinderResult
from coursehelpers.schedule import suggest_lrs
from coursehelpers.vision import ImagePrepare, vision_model
from coursehelpers.viz import (
    plot_confusion_matrix, plot_filters, plot_lr_find, plot_top_losses, show_augmentations, show_batch,
    show_grad_cam, show_images, to_hwc,
)

CLASSES = ["red", "green"]


def colour_detector() -> nn.Sequential:
    """A hand-set CNN: feature 0 fires on red pixels, feature 1 on green ones; class k = mean of feature k."""
    conv = nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1.0  # red channel
        conv.weight[1, 1] = 1.0  # green channel
    linear = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.eye(2))
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear)


def red_top_left_green_bottom_right(size: int = 16) -> torch.Tensor:
    img = torch.zeros(3, size, size)
    img[0, :6, :6] = 1.0
    img[1, 10:, 10:] = 0.5  # less green than red: the predicted class is "red"
    return img


def quadrant_mass(cam: torch.Tensor) -> dict[str, float]:
    h = cam.shape[0] // 2
    return {"top_left": cam[:h, :h].sum().item(), "bottom_right": cam[h:, h:].sum().item()}


def test_grad_cam_highlights_the_region_that_drives_each_class():
    net, img = colour_detector(), red_top_left_green_bottom_right()
    cam, cls = grad_cam(net, img, layer=net[1])
    assert cls == 0 and cam.shape == (16, 16) and cam.max() == pytest.approx(1.0)
    mass = quadrant_mass(cam)
    assert mass["top_left"] > 0 and mass["bottom_right"] == 0
    cam_green, cls_green = grad_cam(net, img, layer=net[1], class_idx=1)
    mass = quadrant_mass(cam_green)
    assert cls_green == 1 and mass["bottom_right"] > 0 and mass["top_left"] == 0


def test_grad_cam_leaves_the_model_as_it_was():
    net = colour_detector().train()
    grad_cam(net, red_top_left_green_bottom_right(), layer=net[0])
    assert net.training and not net[0]._forward_hooks and not net[0]._backward_hooks


def fake_learner(model: nn.Module, images: torch.Tensor, targets: torch.Tensor):
    """Just enough of a Learner/DataLoaders for the plotting functions: no training needed."""
    prepare = ImagePrepare(norm_stats=None, channels_last=False)
    dls = SimpleNamespace(
        classes=CLASSES, device=torch.device("cpu"), prepare=prepare, to_device=lambda batch: batch,
        one_batch=lambda split="train": (images, targets), valid_ds=list(zip(images, targets)),
    )
    get_preds = lambda: (model(images).softmax(1).detach(), targets)  # noqa: E731
    return SimpleNamespace(model=model, dls=dls, get_preds=get_preds)


def shown(ax) -> np.ndarray:
    """The pixels an axes shows (its first image)."""
    return np.asarray(ax.get_images()[0].get_array())


def test_show_images_draws_each_image_in_a_grid_with_its_title():
    images = [red_top_left_green_bottom_right(), torch.rand(3, 16, 16), torch.rand(1, 16, 16)]  # the last grey
    fig = show_images(images, ["a", "b", "c"])
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes] == ["a", "b", "c", ""]  # 2 x 2, one empty
    for ax, img in zip(fig.axes, images):
        np.testing.assert_allclose(shown(ax), to_hwc(img))
    assert fig.axes[2].get_images()[0].get_cmap().name == "gray" and not fig.axes[3].get_images()
    assert len(show_images(images, ncols=3).axes) == 3


def test_show_batch_and_top_losses_show_the_items_with_their_labels():
    net = colour_detector()
    images = torch.stack([red_top_left_green_bottom_right(), torch.rand(3, 16, 16), torch.rand(3, 16, 16)])
    targets = torch.tensor([0, 1, 0])
    learn = fake_learner(net, images, targets)
    batch = show_batch(learn.dls, n=2)
    assert [ax.get_title() for ax in batch.axes] == ["red", "green"]
    np.testing.assert_allclose(shown(batch.axes[1]), to_hwc(images[1]))
    preds, _ = learn.get_preds()
    losses, idx = top_losses(preds, targets, k=2)
    fig = plot_top_losses(learn, k=2)
    for ax, loss, i in zip(fig.axes, losses.tolist(), idx.tolist()):
        p = int(preds[i].argmax())
        assert ax.get_title() == f"{CLASSES[p]}\n{CLASSES[targets[i]]}\n{loss:.2f} / {preds[i, p]:.2f}"
        np.testing.assert_allclose(shown(ax), to_hwc(images[i]))
    assert fig._suptitle.get_text() == "prediction, actual, loss / probability"


def test_confusion_matrix_figure_writes_each_count_in_its_cell():
    cm = np.array([[5, 1], [0, 3]])
    fig = plot_confusion_matrix(cm, CLASSES)
    ax = fig.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells == {(0, 0): "5", (0, 1): "1", (1, 1): "3"}  # row = actual, column = predicted; no 0 written
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "actual") and not ax.get_title()
    np.testing.assert_array_equal(shown(ax), cm)
    assert fig.axes[1].get_ylabel() == "number of images"


def test_filters_and_augmentations_show_what_the_layer_and_the_transform_hold():
    net = colour_detector()  # filter 0 reads only red, filter 1 only green
    fig = plot_filters(net)
    assert len(fig.axes) == 2 and fig._suptitle.get_text() == "2 first-layer filters, 1x1"
    np.testing.assert_allclose(shown(fig.axes[0])[0, 0], [1, 0, 0])
    grey = plot_filters(nn.Conv2d(1, 3, 5))
    assert len(grey.axes) == 3 and shown(grey.axes[0]).shape == (5, 5)
    img = red_top_left_green_bottom_right()
    aug = aug_transforms(12).eval()
    fig = show_augmentations(img, aug, n=4)
    assert len(fig.axes) == 4 and not aug.training  # the transform's mode is put back
    assert not np.allclose(shown(fig.axes[0]), shown(fig.axes[1]))  # each one a different random draw


def test_grad_cam_figure_titles_the_class_it_explains():
    net = colour_detector()
    images = torch.stack([red_top_left_green_bottom_right()])
    fig = show_grad_cam(fake_learner(net, images, torch.tensor([0])), images[0], layer=net[1])
    assert [ax.get_title() for ax in fig.axes[:2]] == ["image", "Grad-CAM: red"]
    np.testing.assert_allclose(shown(fig.axes[0]), to_hwc(images[0]), atol=1 / 255)  # as a uint8 item


def test_plots_leave_pyplot_alone():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    show_images(torch.rand(2, 3, 4, 4))
    assert plt.get_fignums() == before


def test_uint8_and_float_images_show_the_same():
    img = torch.randint(0, 256, (3, 4, 4), dtype=torch.uint8)
    np.testing.assert_allclose(to_hwc(img), to_hwc(img.float() / 255), atol=1e-7)
    assert to_hwc(torch.rand(1, 4, 4)).shape == (4, 4)  # grey


def test_confusion_matrix_and_most_confused_on_known_counts():
    # actual:    a a a b b c c c c
    # predicted: a b b b c c a a c
    targets = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 1, 2, 2, 0, 0, 2])
    cm = confusion_matrix(preds, targets, 3)
    assert cm.tolist() == [[1, 2, 0], [0, 1, 1], [2, 0, 2]]
    assert most_confused(preds, targets, ["a", "b", "c"]) == [("a", "b", 2), ("c", "a", 2), ("b", "c", 1)]
    assert most_confused(preds, targets, ["a", "b", "c"], min_val=2) == [("a", "b", 2), ("c", "a", 2)]
    probs = torch.nn.functional.one_hot(preds, 3).float()  # probabilities work as well as indices
    assert (confusion_matrix(probs, targets) == cm).all()


def test_top_losses_orders_by_loss():
    probs = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.01, 0.99]])
    losses, idx = top_losses(probs, torch.tensor([0, 0, 1]), k=2)
    assert idx.tolist() == [1, 0] and losses[0] == pytest.approx(-np.log(0.4), rel=1e-5)


def test_summary_counts_every_parameter_once():
    model = vision_model("tiny_resnet", 5)
    for p in model.body.parameters():
        p.requires_grad_(False)
    df = summary(model, torch.rand(2, 3, 32, 32))
    assert df["params"].sum() == sum(p.numel() for p in model.parameters())
    assert list(df.columns) == ["layer", "type", "output_shape", "params", "trainable"]
    assert df.iloc[-1]["output_shape"] == "[2, 5]" and df.iloc[-1]["trainable"]
    assert df.iloc[0]["layer"] == "body.conv1" and not df.iloc[0]["trainable"]


def test_grad_cam_rejects_a_layer_of_another_model():
    with pytest.raises(ValueError, match="not a module of this model"):
        grad_cam(colour_detector(), red_top_left_green_bottom_right(), layer=colour_detector()[0])


def test_grad_cam_figure_has_a_labelled_colour_bar_from_0_to_1():
    net = colour_detector()
    images = torch.stack([red_top_left_green_bottom_right()])
    fig = show_grad_cam(fake_learner(net, images, torch.tensor([0])), images[0], layer=net[1])
    assert len(fig.axes) == 3  # image, heat map, colour bar
    bar = fig.axes[2]
    assert "Grad-CAM" in bar.get_ylabel() and bar.get_ylim() == (0.0, 1.0)


def lr_find_result(losses: np.ndarray) -> LRFinderResult:
    lrs = np.geomspace(1e-7, 10, len(losses))
    curve = pd.DataFrame({"lr": lrs, "loss": losses, "smoothed_loss": losses})
    return LRFinderResult(curve, suggest_lrs(lrs[:-3], losses[:-3]))


def marked_rates(fig: Figure) -> list[float]:
    return [line.get_xdata()[0] for line in fig.axes[0].lines[1:] if line.get_marker() not in ("None", None, "")]


def test_lr_find_plot_marks_each_suggestion_once_and_visibly():
    lrs = np.geomspace(1e-7, 10, 60)
    losses = 1 / (1 + 1e3 * lrs) + lrs ** 2
    result = lr_find_result(losses)
    fig = plot_lr_find(result)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [label.split(":")[0] for label in labels] == ["valley", "steep", "min_div10", "rise"]
    assert len(set(marked_rates(fig))) == 4 and "floor" not in fig.axes[0].get_title()
    assert fig.axes[0].get_ylim()[1] < losses.max() / 10  # the blow-up does not squash the fall


def test_lr_find_plot_merges_equal_suggestions_and_says_when_they_mark_the_floor():
    lrs = np.geomspace(1e-7, 10, 60)
    result = lr_find_result(1.3 + lrs)  # the loss never falls
    fig = plot_lr_find(result)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("valley = steep = min_div10:") and len(labels) == 2  # + rise
    assert len(marked_rates(fig)) == len(set(marked_rates(fig))) == 2
    assert "floor" in fig.axes[0].get_title() and f"pick {result.suggestion.pick:.1e}" in fig.axes[0].get_title()


def test_confusion_matrix_top_k_keeps_the_most_confused_classes_readably():
    cm = np.diag(np.full(37, 4))
    cm[3, 30], cm[30, 3], cm[12, 5] = 3, 1, 2  # errors among classes 3, 5, 12 and 30
    assert most_confused_classes(cm, 3) == [3, 5, 30]  # a tie (5 and 12: 2 errors each) goes to the earlier class
    assert most_confused_classes(cm, 4) == [3, 5, 12, 30]
    classes = [f"breed_{i}" for i in range(37)]
    fig = plot_confusion_matrix(cm, classes, top_k=4)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["breed_3", "breed_5", "breed_12", "breed_30"]
    assert min(t.get_fontsize() for t in ax.get_xticklabels() + ax.texts) >= 8
    assert "4 of 37" in ax.get_title() and ax.get_xlabel() == "predicted" and fig.axes[1].get_ylabel()
    full = plot_confusion_matrix(cm, classes)
    assert min(t.get_fontsize() for t in full.axes[0].get_xticklabels() + full.axes[0].texts) >= 7
