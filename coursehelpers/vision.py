"""Image classification in three steps: datasets (`coursehelpers.images`) -> `image_dataloaders` -> `vision_learner`.

On the device, `ImagePrepare` turns each uint8 batch into floats, augments it
(training) or centre-resizes it (validation), and normalises it. The model is
``Sequential(body, head)``: a ResNet without its pooling and classifier
(torchvision's, or the bundled `TinyResNet` with the same names) and a new head.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torchvision
from torch import nn
from torch.utils.data import Dataset
from torchvision.models.resnet import BasicBlock

from coursehelpers.augment import CenterResize, Size, to_float
from coursehelpers.config import TrainConfig
from coursehelpers.data import get_weights
from coursehelpers.dataloaders import Batch, DataLoaders, Prepare
from coursehelpers.image_io import ImageSource, load_image
from coursehelpers.learner import Learner

# Channel means and standard deviations of ImageNet's photos: pretrained models expect inputs normalised so.
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
Stats = tuple[Sequence[float], Sequence[float]]


# ---------------------------------------------------------------- data on the device
class ImagePrepare(Prepare):
    """uint8 images -> ``train_tfm`` (training) or a centre resize to ``size`` -> normalised -> channels-last.

    The transforms take the uint8 batch and return floats in [0, 1]; ``train_tfm``
    defaults to the centre resize (no augmentation). ``item_size`` and ``mode`` say
    how items were loaded, so `encode` loads a new image exactly like a validation one.

    Example:
        >>> prep = ImagePrepare(size=4, norm_stats=None, channels_last=False)
        >>> prep((torch.full((1, 3, 8, 8), 255, dtype=torch.uint8),), train=False)[0].unique()
        tensor([1.])
    """

    def __init__(self, size: Size = None, train_tfm: nn.Module | None = None, norm_stats: Stats | None = IMAGENET_STATS,
                 channels_last: bool = True, item_size: int | None = None, mode: str = "RGB"):
        self.size, self.item_size, self.norm_stats, self.channels_last = size, item_size, norm_stats, channels_last
        self.mode, self.valid_tfm = mode, CenterResize(size)
        self.train_tfm = train_tfm if train_tfm is not None else self.valid_tfm

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(torch.as_tensor(s, dtype=x.dtype, device=x.device).view(1, -1, 1, 1) for s in self.norm_stats)

    def __call__(self, batch: Batch, train: bool) -> Batch:
        x = to_float((self.train_tfm if train else self.valid_tfm)(batch[0]))
        if x.untyped_storage().data_ptr() == batch[0].untyped_storage().data_ptr():  # passed through: copy it
            x = x.clone()
        if self.norm_stats is not None:
            mean, std = self._stats(x)
            x.sub_(mean).div_(std)  # in place: a new batch-sized tensor costs more than the arithmetic on a CPU
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return (x, *batch[1:])

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """A prepared batch back to floats in [0, 1], for showing it."""
        if self.norm_stats is None:
            return x
        mean, std = self._stats(x)
        return x * std + mean

    def encode(self, item: ImageSource) -> Batch:
        """One image (a path, PIL image, array or tensor) as a batch of one, loaded like a validation item."""
        return (load_image(item, self.item_size, self.mode)[None],)

    def config(self) -> dict:
        """The whole validation pipeline as plain data (the training transform is not kept: prediction skips it)."""
        return {"kind": "image", "size": self.size, "item_size": self.item_size, "mode": self.mode,
                "norm_stats": self.norm_stats, "channels_last": self.channels_last}

    @classmethod
    def from_config(cls, config: dict) -> "ImagePrepare":
        """The `ImagePrepare` that `config` describes (as `load_learner` rebuilds it)."""
        return cls(**{k: v for k, v in config.items() if k != "kind"})


def image_dataloaders(train_ds: Dataset, valid_ds: Dataset, bs: int = 64, size: Size = None,
                      train_tfm: nn.Module | None = None, norm_stats: Stats | None = IMAGENET_STATS, seed: int = 0,
                      device: torch.device | None = None, num_workers: int = 0,
                      channels_last: bool = True) -> DataLoaders:
    """DataLoaders of image datasets (see `DataLoaders.from_datasets`), batches augmented and resized to ``size``.

    The class names, and how new items are loaded (``item_size``, ``mode``), come from the datasets.
    """
    prepare = ImagePrepare(size, train_tfm, norm_stats=norm_stats, channels_last=channels_last,
                           item_size=getattr(valid_ds, "item_size", None), mode=getattr(valid_ds, "mode", "RGB"))
    return DataLoaders.from_datasets(train_ds, valid_ds, bs, seed=seed, device=device, prepare=prepare,
                                     classes=getattr(train_ds, "classes", None), num_workers=num_workers)


# ---------------------------------------------------------------- the model
class TinyResNet(nn.Module):
    """A narrow ResNet (one ``BasicBlock`` a stage, 16 to 192 channels: 0.66M parameters).

    Its attributes have torchvision's names (``conv1 ... layer4, fc``): one body, head and splitter serve both.
    """

    def __init__(self, num_classes: int = 1000, widths: Sequence[int] = (16, 32, 96, 192)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        c_in = widths[0]
        for i, width in enumerate(widths):
            # from layer2 on, each stage halves the map: the shortcut must change shape like the block does
            down = None if i == 0 else nn.Sequential(nn.Conv2d(c_in, width, 1, stride=2, bias=False),
                                                     nn.BatchNorm2d(width))
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(c_in, width, 1 if i == 0 else 2, down)))
            c_in = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tiny_resnet(num_classes: int = 1000) -> TinyResNet:
    """The bundled sample-mode backbone (pretrained on ``coursesamples.shapes`` by data/make_tiny_resnet.py)."""
    return TinyResNet(num_classes=num_classes)


BODY_NAMES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


def create_body(arch: str = "resnet34", pretrained: bool = True) -> nn.Sequential:
    """A ResNet without its pooling and classifier: ``Sequential(conv1, bn1, relu, maxpool, layer1..4)``.

    ``arch`` is "tiny_resnet" (the bundled backbone) or a torchvision ResNet
    ("resnet18", "resnet34", "resnet50"); ``pretrained`` loads ``get_weights(arch)``.
    """
    state = torch.load(get_weights(arch), map_location="cpu", weights_only=True) if pretrained else None
    n_out = state["fc.weight"].shape[0] if state is not None else 1000
    if arch == "tiny_resnet":
        net = tiny_resnet(n_out)
    else:
        net = torchvision.models.get_model(arch, weights=None, num_classes=n_out)
    if state is not None:
        net.load_state_dict(state)  # float16 files are cast to the float32 parameters here
    return nn.Sequential(OrderedDict((name, getattr(net, name)) for name in BODY_NAMES))


class ConcatPool(nn.Module):
    """Average AND max pooling over the whole feature map, concatenated: [B, C, H, W] -> [B, 2C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((2, 3)), x.amax((2, 3))], dim=1)


def vision_head(n_features: int, n_out: int, hidden: int = 512, p_first: float = 0.25,
                p_last: float = 0.5) -> nn.Sequential:
    """The new classifier: concat pool -> BN -> dropout -> linear -> ReLU -> BN -> dropout -> linear."""
    head = nn.Sequential(
        ConcatPool(), nn.BatchNorm1d(2 * n_features), nn.Dropout(p_first),
        nn.Linear(2 * n_features, hidden, bias=False), nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden), nn.Dropout(p_last), nn.Linear(hidden, n_out),
    )
    for m in head:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)
    return head


def resnet_splitter(model: nn.Module) -> list[list[nn.Parameter]]:
    """Three parameter groups for discriminative learning rates: stem + layer1-2, layer3-4, head."""
    body, head = model[0], model[1]
    early = [p for name in ("conv1", "bn1", "layer1", "layer2") for p in getattr(body, name).parameters()]
    late = [p for name in ("layer3", "layer4") for p in getattr(body, name).parameters()]
    return [early, late, list(head.parameters())]


def vision_model(arch: str, n_out: int, pretrained: bool = False, channels_last: bool = False) -> nn.Sequential:
    """``Sequential(body=create_body(arch), head=vision_head(...))``, the builder `load_learner` calls.

    Without ``pretrained`` nothing is downloaded (an export brings its own weights).

    Example:
        >>> vision_model("tiny_resnet", n_out=3)(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 3])
    """
    body = create_body(arch, pretrained)
    with torch.no_grad():  # the number of channels the body outputs, from a tiny forward pass
        n_features = body.eval()(torch.zeros(1, 3, 64, 64)).shape[1]
    model = nn.Sequential(OrderedDict(body=body.train(), head=vision_head(n_features, n_out)))
    return model.to(memory_format=torch.channels_last) if channels_last else model


def vision_learner(dls: DataLoaders, arch: str, pretrained: bool = True, metrics: Sequence[Callable] = (),
                   loss_func: Callable | None = None, config: TrainConfig | None = None) -> Learner:
    """A Learner for `vision_model` (``arch``, one output per class), its body frozen when ``pretrained``.

    Multi-hot targets (several tags per image) get ``BCEWithLogitsLoss`` and sigmoid
    outputs, class indices get ``CrossEntropyLoss`` and a softmax. The model is
    channels-last when ``dls.prepare`` makes its batches so (faster on GPUs).
    """
    multi = bool(getattr(dls.train_ds, "multi_label", False))
    args = {"arch": arch, "n_out": dls.c, "channels_last": bool(getattr(dls.prepare, "channels_last", False))}
    if loss_func is None:
        loss_func = nn.BCEWithLogitsLoss() if multi else nn.CrossEntropyLoss()
    learn = Learner(vision_model(pretrained=pretrained, **args), dls, loss_func, metrics=metrics,
                    activation="sigmoid" if multi else "softmax", splitter=resnet_splitter, config=config)
    learn.model_spec = {"builder": "vision", "args": args}
    if pretrained:
        learn.freeze()
    return learn
