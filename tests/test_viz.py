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


# ---------------------------------------------------------------- what each figure holds, in detail
def test_show_images_grid_size_scale_and_empty_figure():
    fig = show_images(torch.rand(5, 3, 4, 4))  # ceil(sqrt(5)) = 3 columns, 2 rows
    assert len(fig.axes) == 6 and tuple(fig.get_size_inches()) == pytest.approx((6.0, 4.3))
    assert all(not ax.axison for ax in fig.axes) and fig.get_layout_engine() is not None
    assert all(ax.get_images()[0].get_clim() == (0, 1) for ax in fig.axes[:5])  # a dark image stays dark
    assert len(show_images(torch.rand(2, 3, 4, 4)).axes) == 2 and len(show_images(torch.rand(1, 3, 4, 4)).axes) == 1
    assert tuple(show_images(torch.rand(2, 3, 4, 4), cell=1.0).get_size_inches()) == pytest.approx((2.0, 1.3))
    titled = show_images(torch.rand(2, 3, 4, 4), titles=["x", "y"])
    assert [ax.title.get_fontsize() for ax in titled.axes] == [9, 9]
    empty = show_images([])
    assert not empty.axes and [t.get_text() for t in empty.texts] == ["no images to show"]
    assert tuple(empty.get_size_inches()) == pytest.approx((3.0, 0.6))
    assert (empty.texts[0].get_position(), empty.texts[0].get_ha(), empty.texts[0].get_va()) == \
        ((0.5, 0.5), "center", "center")


def test_show_batch_denormalises_and_names_multi_hot_targets():
    images = torch.rand(12, 3, 4, 4)
    prepare = ImagePrepare(norm_stats=((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)), channels_last=False)
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.6, 0.0], [0.0, 0.0, 0.5]] * 4)
    batches = {"train": ((images - 0.5) / 0.25, targets), "valid": (images[:2], targets[:2])}
    dls = SimpleNamespace(classes=["a", "b", "c"], prepare=prepare, one_batch=lambda split="train": batches[split])
    fig = show_batch(dls)
    assert len(fig.axes) == 9  # 9 items by default
    np.testing.assert_allclose(shown(fig.axes[0]), to_hwc(images[0]), atol=1e-6)  # as the eye sees it
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a;c", "b", ""]  # above 0.5 only
    assert len(show_batch(dls, n=12, ncols=6).axes) == 12 and len(show_batch(dls, split="valid").axes) == 2
    dls.classes = None
    assert [ax.get_title() for ax in show_batch(dls, n=2).axes] == ["0;2", "1"]
    single = SimpleNamespace(classes=None, prepare=prepare, one_batch=lambda split="train": (images[:2],
                                                                                            torch.tensor([3, 1])))
    assert [ax.get_title() for ax in show_batch(single).axes] == ["3", "1"]


def test_show_augmentations_shows_eight_in_four_columns_and_keeps_training_mode():
    aug = aug_transforms(12).train()
    fig = show_augmentations(red_top_left_green_bottom_right(), aug)
    assert len(fig.axes) == 8 and tuple(fig.get_size_inches()) == pytest.approx((8.0, 4.3)) and aug.training


def test_confusion_matrix_figure_size_colours_and_fonts():
    cm = np.array([[5, 1], [0, 3]])
    fig = plot_confusion_matrix(cm, CLASSES)
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == pytest.approx((5.0, 4.0))  # at least 4 inches a side
    assert ax.get_images()[0].get_cmap().name == "Blues"
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours == {"5": "white", "1": "black", "3": "white"}  # white on the dark cells (over half the max)
    assert {t.get_fontsize() for t in ax.texts} == {9} and {t.get_fontsize() for t in ax.get_xticklabels()} == {10}
    assert {t.get_rotation() for t in ax.get_xticklabels()} == {90}
    assert {(t.get_ha(), t.get_va()) for t in ax.texts} == {("center", "center")}
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES == [t.get_text() for t in ax.get_yticklabels()]
    big = plot_confusion_matrix(np.eye(20, dtype=int), [str(i) for i in range(20)])
    assert tuple(big.get_size_inches()) == pytest.approx((0.32 * 20 + 2.5 + 1, 0.32 * 20 + 2.5))
    assert {t.get_fontsize() for t in big.axes[0].get_xticklabels()} == {8}
    assert {t.get_fontsize() for t in big.axes[0].texts} == {7}
    assert plot_confusion_matrix(np.eye(16, dtype=int), list("abcdefghijklmnop")).axes[0].texts[0].get_fontsize() == 7
    assert plot_confusion_matrix(np.eye(15, dtype=int), list("abcdefghijklmno")).axes[0].texts[0].get_fontsize() == 9


def test_top_losses_computes_predictions_itself_and_titles_multi_label_items():
    net = colour_detector()
    images = torch.stack([red_top_left_green_bottom_right(), torch.rand(3, 16, 16), torch.rand(3, 16, 16)])
    learn = fake_learner(net, images, torch.tensor([0, 1, 0]))
    default = plot_top_losses(learn)  # preds from learn.get_preds(); k = 9 is more than there are
    assert len(default.axes) == 4 and sum(1 for ax in default.axes if ax.get_images()) == 3
    assert tuple(default.get_size_inches()) == pytest.approx((2.3 * 2, 2.3 * 2 + 0.3))
    preds = torch.tensor([[0.9, 0.8], [0.1, 0.7], [0.2, 0.1]])
    targets = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    fig = plot_top_losses(learn, k=2, preds=preds, targets=targets, ncols=1)
    losses, idx = top_losses(preds, targets, 2)
    assert idx.tolist() == [0, 1] and len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == [f"red;green\ngreen\n{losses[0]:.2f}", f"green\ngreen\n{losses[1]:.2f}"]
    assert fig._suptitle.get_text() == "prediction, actual, loss"


def test_grad_cam_figure_overlays_the_heat_map_on_the_image():
    net = colour_detector()
    images = torch.stack([red_top_left_green_bottom_right()])
    learn = fake_learner(net, images, torch.tensor([0]))
    fig = show_grad_cam(learn, images[0], layer=net[1])
    cam, _ = grad_cam(net, images[0], net[1])
    base, overlay = fig.axes[1].get_images()
    np.testing.assert_allclose(shown(fig.axes[1]), to_hwc(images[0]), atol=1 / 255)
    np.testing.assert_allclose(np.asarray(overlay.get_array()), cam.numpy(), atol=1e-6)
    assert (overlay.get_alpha(), overlay.get_cmap().name, overlay.get_clim()) == (0.5, "magma", (0, 1))
    assert not fig.axes[0].axison and not fig.axes[1].axison and fig.axes[0].get_title() == "image"
    assert tuple(fig.get_size_inches()) == pytest.approx((7.0, 3.2))
    assert fig.axes[2].get_ylabel() == "Grad-CAM (1: what drove the score most)"
    assert show_grad_cam(learn, images[0], net[1], alpha=0.3).axes[1].get_images()[1].get_alpha() == 0.3
    green = show_grad_cam(learn, images[0], net[1], class_idx=1)
    assert green.axes[1].get_title() == "Grad-CAM: green"
    learn.dls.classes = None
    assert show_grad_cam(learn, images[0], net[1]).axes[1].get_title() == "Grad-CAM: 0"


def test_filters_are_each_rescaled_to_the_full_range_eight_columns_by_default():
    conv = nn.Conv2d(2, 16, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(16, 2, 3, 3) * 0.01 + 3)
        conv.weight[5] = 7.0  # a constant filter: no 0 / 0
    fig = plot_filters(nn.Sequential(nn.ReLU(), conv))
    assert len(fig.axes) == 16 and tuple(fig.get_size_inches()) == pytest.approx((0.8 * 8, 0.8 * 2 + 0.3))
    first = shown(fig.axes[0])
    mean = conv.weight[0].detach().mean(0)
    lo, hi = conv.weight[0].detach().amin(), conv.weight[0].detach().amax()
    np.testing.assert_allclose(first, ((mean - lo) / (hi - lo)).numpy(), atol=1e-5)  # rescaled, then grey
    assert np.isfinite(shown(fig.axes[5])).all() and np.all(shown(fig.axes[5]) == 0)
    assert fig._suptitle.get_text() == "16 first-layer filters, 3x3"
    four = plot_filters(conv, ncols=4)
    assert len(four.axes) == 16 and tuple(four.get_size_inches()) == pytest.approx((0.8 * 4, 0.8 * 4 + 0.3))


def test_plot_losses_draws_each_batch_and_each_epochs_validation_at_its_end():
    from coursehelpers.viz import plot_losses

    learn = SimpleNamespace(batch_losses=[3.0, 2.0, 1.5, 1.0, 0.8, 0.7], history=pd.DataFrame({"valid_loss": [2., 1.2]}))
    fig = plot_losses(learn)
    ax = fig.axes[0]
    train, valid = ax.lines
    assert train.get_xdata().tolist() == [1, 2, 3, 4, 5, 6] and np.asarray(train.get_ydata()).tolist() == learn.batch_losses
    assert valid.get_xdata().tolist() == [3.0, 6.0] and valid.get_ydata().tolist() == [2.0, 1.2]
    assert (valid.get_marker(), valid.get_linestyle(), train.get_alpha()) == ("o", "-", 0.7)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train (per batch)", "valid (per epoch)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("batches seen", "loss")
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 4.0))
    none_yet = plot_losses(SimpleNamespace(batch_losses=[1.0], history=pd.DataFrame({"valid_loss": []})), (3, 2))
    assert len(none_yet.axes[0].lines) == 1 and tuple(none_yet.get_size_inches()) == pytest.approx((3.0, 2.0))


def test_plot_schedule_draws_the_rate_and_momentum_of_each_batch():
    from coursehelpers.viz import plot_schedule

    learn = SimpleNamespace(batch_lrs=[1e-4, 1e-3, 1e-5], batch_moms=[0.95, None, 0.9])
    fig = plot_schedule(learn)
    (lr_line,), (mom_line,) = fig.axes[0].lines, fig.axes[1].lines
    assert lr_line.get_xdata().tolist() == [1, 2, 3] and np.asarray(lr_line.get_ydata()).tolist() == [1e-4, 1e-3, 1e-5]
    moms = np.asarray(mom_line.get_ydata(), dtype=float)
    assert moms[0] == 0.95 and np.isnan(moms[1]) and moms[2] == 0.9  # no momentum (SGD): a gap
    assert mom_line.get_color() == "tab:orange" and [ax.get_xlabel() for ax in fig.axes] == ["batches seen"] * 2
    assert tuple(fig.get_size_inches()) == pytest.approx((8.0, 3.0))


def test_lr_find_plot_axes_marks_and_limits():
    lrs = np.geomspace(1e-7, 10, 60)
    losses = 1 / (1 + 1e3 * lrs) + lrs ** 2
    result = lr_find_result(losses)
    fig = plot_lr_find(result)
    ax = fig.axes[0]
    curve = ax.lines[0]
    np.testing.assert_allclose(curve.get_xdata(), lrs)
    np.testing.assert_allclose(curve.get_ydata(), losses)
    assert (ax.get_xscale(), ax.get_xlabel(), ax.get_ylabel()) == ("log", "learning rate (log scale)", "loss (smoothed)")
    level = max(np.median(losses[:6]), np.median(losses[:30]))
    low = losses.min()
    assert ax.get_ylim() == pytest.approx((low - 0.05 * (1.25 * level - low), 1.25 * level))
    s = result.suggestion
    points = [line for line in ax.lines[1:] if line.get_marker() not in ("None", None, "")]
    styles = [(p.get_marker(), p.get_color()) for p in points]
    assert styles == [("o", "tab:red"), ("^", "tab:green"), ("s", "tab:purple"), ("X", "tab:orange")]
    for p, lr in zip(points, (s.valley, s.steep, s.min_div10, s.rise)):
        assert p.get_xdata()[0] == lr and p.get_ydata()[0] == pytest.approx(np.interp(np.log(lr), np.log(lrs), losses))
    vlines = [line for line in ax.lines[1:] if line not in points]
    assert [(v.get_xdata()[0], v.get_linestyle(), v.get_color()) for v in vlines] == [
        (s.valley, "-", "tab:red"), (s.steep, "--", "tab:green"), (s.min_div10, ":", "tab:purple"),
        (s.rise, "-.", "tab:orange")]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == f"valley: {s.valley:.1e}" and ax.get_title() == f"pick {s.pick:.1e} (valley)"
    assert ax.title.get_fontsize() == 9 and tuple(fig.get_size_inches()) == pytest.approx((6.5, 4.0))
    flat = plot_lr_find(lr_find_result(1.3 + lrs)).axes[0]
    assert flat.get_title().startswith(f"pick {lr_find_result(1.3 + lrs).suggestion.pick:.1e} (a tenth of rise)\n")


def constrained(fig: Figure) -> bool:
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    return isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)  # labels and colour bars never overlap


def grid(ax) -> tuple[int, int]:
    return ax.get_subplotspec().get_gridspec().get_geometry()


def test_images_out_of_range_are_clipped_to_what_can_be_shown():
    img = torch.tensor([[[-0.5, 0.25], [1.7, 1.0]]])
    np.testing.assert_allclose(to_hwc(img), [[0.0, 0.25], [1.0, 1.0]])
    np.testing.assert_allclose(to_hwc(torch.tensor([[[0, 255]]], dtype=torch.uint8)), [[0.0, 1.0]])


def test_show_batch_reads_the_target_last_and_passes_ncols_on():
    images = torch.rand(12, 3, 4, 4)
    prepare = ImagePrepare(norm_stats=None, channels_last=False)
    batch = (images, torch.zeros(12, 2), torch.tensor([1, 0] * 6))  # (*inputs, target): two inputs here
    dls = SimpleNamespace(classes=CLASSES, prepare=prepare, one_batch=lambda split="train": batch)
    fig = show_batch(dls, n=12, ncols=6)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["green", "red"] and grid(fig.axes[0]) == (2, 6)


def test_show_augmentations_shows_the_transform_s_output_of_the_whole_image():
    img = red_top_left_green_bottom_right()
    fig = show_augmentations(img, nn.Identity(), n=2)
    drawn = [ax for ax in fig.axes if ax.get_images()]
    assert len(drawn) == 2 and all(np.allclose(shown(ax), to_hwc(img)) for ax in drawn)


def test_confusion_matrix_top_k_shows_only_those_rows_and_columns_with_a_bar_of_the_counts():
    cm = np.diag(np.full(6, 9))
    cm[1, 4], cm[4, 1], cm[2, 3] = 4, 3, 1  # errors among 1 and 4 (and 2, 3)
    fig = plot_confusion_matrix(cm, list("abcdef"), top_k=2)
    ax, bar = fig.axes
    np.testing.assert_array_equal(shown(ax), [[9, 4], [3, 9]])  # rows and columns 1 and 4
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours == {"9": "white", "4": "black", "3": "black"}  # 4 of 9 is under half: black
    assert {t.get_fontsize() for t in ax.get_yticklabels()} == {10} and constrained(fig)
    assert plot_confusion_matrix(np.array([[4, 2], [0, 1]]), CLASSES).axes[0].texts[1].get_color() == "black"  # half
    assert bar.collections[-1].get_cmap().name == "Blues" and bar.get_ylim() == (3, 9)
    fig.draw_without_rendering()
    assert bar.get_position().height == pytest.approx(0.7 * ax.get_position().height)
    many = plot_confusion_matrix(np.eye(20, dtype=int), [str(i) for i in range(20)])
    assert {t.get_fontsize() for t in many.axes[0].get_yticklabels()} == {8}


def test_top_losses_shows_nine_by_default_and_takes_preds_without_targets():
    net = colour_detector()
    images = torch.rand(12, 3, 8, 8)
    targets = torch.tensor([0, 1] * 6)
    learn = fake_learner(net, images, targets)
    fig = plot_top_losses(learn)
    assert sum(1 for ax in fig.axes if ax.get_images()) == 9
    preds = learn.get_preds()[0]
    alone = plot_top_losses(learn, k=2, preds=preds)  # no targets given: both taken from get_preds
    assert len(alone.axes) == 2
    one_column = plot_top_losses(learn, k=2, ncols=1)
    assert grid(one_column.axes[0]) == (2, 1)


def test_grad_cam_figure_shows_the_image_as_validation_sees_it_side_by_side():
    net = colour_detector()
    img = torch.zeros(3, 16, 16)
    img[0] = 1.0  # red everywhere: the red class's map is 1 everywhere, the green one's 0
    learn = fake_learner(net, img[None], torch.tensor([0]))
    learn.dls.prepare.train_tfm = lambda x: torch.zeros_like(x, dtype=torch.float32)  # training would black it out
    fig = show_grad_cam(learn, img, layer=net[1])
    np.testing.assert_allclose(shown(fig.axes[0]), to_hwc(img))
    assert grid(fig.axes[0]) == (1, 2) and constrained(fig)
    for class_idx in (0, 1):  # a map of all ones or all zeros keeps the colours of 0..1
        overlay = show_grad_cam(learn, img, layer=net[1], class_idx=class_idx).axes[1].get_images()[1]
        assert overlay.get_clim() == (0, 1)
    bar = fig.axes[2]
    assert bar.collections[-1].get_cmap().name == "magma"
    assert (bar.collections[-1].norm.vmin, bar.collections[-1].norm.vmax) == (0, 1)
    fig.draw_without_rendering()
    assert bar.get_position().height == pytest.approx(0.8 * fig.axes[1].get_position().height)


def test_filters_title_gives_height_by_width():
    assert plot_filters(nn.Conv2d(3, 2, (3, 5)))._suptitle.get_text() == "2 first-layer filters, 3x5"


def test_curves_are_laid_out_and_drawn_against_batches_seen():
    from coursehelpers.viz import plot_losses, plot_schedule

    learn = SimpleNamespace(batch_losses=[3.0, 2.0], history=pd.DataFrame({"valid_loss": [2.0]}),
                            batch_lrs=[1e-4, 1e-3, 1e-5], batch_moms=[0.95, 0.9, 0.85])
    assert constrained(plot_losses(learn))
    fig = plot_schedule(learn)
    assert constrained(fig) and grid(fig.axes[0]) == (1, 2)
    assert np.asarray(fig.axes[1].lines[0].get_xdata()).tolist() == [1, 2, 3]


def test_lr_find_plot_level_reads_the_first_tenth_and_half_and_marks_are_drawn_boldly():
    lrs = np.geomspace(1e-7, 10, 60)
    rise_then_fall = np.concatenate([np.linspace(1.0, 2.0, 30), np.linspace(2.0, 0.5, 30)])
    fig = plot_lr_find(lr_find_result(rise_then_fall))
    ax = fig.axes[0]
    level, low = np.median(rise_then_fall[:30]), 0.5  # the first half's median is above the first tenth's
    assert ax.get_ylim() == pytest.approx((low - 0.05 * (1.25 * level - low), 1.25 * level)) and constrained(fig)
    short = np.array([3.0, 1.0, 1.0, 1.0, 0.9, 0.8, 0.5, 0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.4])  # 14 points
    sfig = plot_lr_find(LRFinderResult(pd.DataFrame({"lr": lrs[:14], "loss": short, "smoothed_loss": short}),
                                       suggest_lrs(lrs[:11], short[:11])))
    assert sfig.axes[0].get_ylim()[1] == pytest.approx(1.25 * 3.0)  # the first tenth: one point, the 3.0
    marks = [line for line in ax.lines[1:] if line.get_marker() not in ("None", None, "")]
    lines = [line for line in ax.lines[1:] if line not in marks]
    assert {m.get_markersize() for m in marks} == {8} and {v.get_linewidth() for v in lines} == {1.2}
    assert {t.get_fontsize() for t in ax.get_legend().get_texts()} == {9}
