"""Image data and CNN learners: datasets from folders, file names or CSVs; a pretrained body with a new head.

Data: :class:`ImageDataset` loads each file with PIL, resizes it ONCE to
``item_size`` (presizing: a square centre crop, kept in memory if ``cache=True``)
and returns a ``[3, S, S]`` tensor (float in [0, 1], or uint8) with its target: a
class index (single-label) or a multi-hot float vector (multi-label). The
``dataloaders_from_*`` functions label files (by folder, file-name regex, function
or CSV), split them (by folder, a CSV column, or a seeded random ``valid_pct``) and
build :class:`coursehelpers.learner.DataLoaders` with seeded shuffling, the batch
augmentation (``train_tfm``) and ImageNet normalisation.

Model: :func:`vision_learner` builds ``Sequential(body, head)``: the body is a
torchvision ResNet without its pooling and classifier (full mode), or the bundled
:func:`tiny_resnet` with the same attribute names (sample mode), loaded through the
same code path from ``coursehelpers.data.get_weights``. Parameters split into three
groups (stem+layer1-2 / layer3-4 / head) for discriminative learning rates.

Example:
    >>> # dls = dataloaders_from_name_re(files, r"^(.+)_\\d+\\.jpg$", item_size=460, size=224)
    >>> # learn = vision_learner(dls, "resnet34", metrics=[error_rate]); learn.fine_tune(2)
"""
from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchvision
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.models.resnet import BasicBlock

from .augment import IMAGE_EXTENSIONS, IMAGENET_STATS, Size, valid_transforms
from .core import course_size, seed_worker
from .data import get_weights
from .learner import DataLoaders, Learner

Label = str | Sequence[str]  # one class name, or a list of tags (multi-label)


# ---------------------------------------------------------------- files and images
def get_image_files(folder: str | os.PathLike, extensions: Sequence[str] = IMAGE_EXTENSIONS,
                    recurse: bool = True) -> list[Path]:
    """All image files under ``folder``, sorted (so the order never depends on the file system).

    Example:
        >>> # files = get_image_files(get_data("pets") / "images")
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {folder}: check the path, or fetch the data with get_data(...).")
    found = folder.rglob("*") if recurse else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in extensions and p.is_file())


def presize(img: Image.Image, item_size: int | None) -> Image.Image:
    """Resize so the shorter side is ``item_size``, then crop the centre square. None keeps the image.

    Example:
        >>> presize(Image.new("RGB", (60, 40)), 20).size
        (20, 20)
    """
    if item_size is None:
        return img
    scale = item_size / min(img.size)
    w, h = max(item_size, round(img.width * scale)), max(item_size, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0 if scale < 0.5 else None)
    left, top = (w - item_size) // 2, (h - item_size) // 2
    return img.crop((left, top, left + item_size, top + item_size))


def image_tensor(path: str | os.PathLike, item_size: int | None = None, mode: str = "RGB",
                 as_uint8: bool = False) -> torch.Tensor:
    """Load one image file as a ``[C, H, W]`` tensor: float in [0, 1] (or uint8), presized to ``item_size``.

    Example:
        >>> # x = image_tensor("cat.jpg", item_size=224); learn.predict(x)
    """
    with Image.open(path) as img:
        img = presize(img.convert(mode), item_size)
        arr = np.asarray(img, dtype=np.uint8)
    x = torch.from_numpy(arr.copy())
    x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)
    return x.contiguous() if as_uint8 else x.float().div_(255)


class ImageDataset(Dataset):
    """Image files with their targets; each item is ``(image [C, S, S], target)``.

    ``targets``: long class indices [N], or multi-hot floats [N, n_classes], or None
    (then items are ``(image,)``, for unlabelled test sets). Each image is decoded
    and presized once per access; ``cache=True`` keeps the presized uint8 pixels in
    memory (worth it for small sets with ``num_workers=0``).

    Example:
        >>> # ds = ImageDataset(files, torch.tensor([0, 1, 1]), item_size=128); x, y = ds[0]
    """

    def __init__(self, files: Sequence[str | os.PathLike], targets: torch.Tensor | None = None,
                 classes: Sequence[str] | None = None, item_size: int | None = None,
                 mode: str = "RGB", as_uint8: bool = False, cache: bool = False):
        if targets is not None and len(targets) != len(files):
            raise ValueError(f"{len(files)} files but {len(targets)} targets: they must pair up one to one.")
        self.files, self.targets = [Path(f) for f in files], targets
        self.classes = list(classes) if classes is not None else None
        self.item_size, self.mode, self.as_uint8, self.cache = item_size, mode, as_uint8, cache
        self._cached: dict[int, torch.Tensor] = {}

    @property
    def multi_label(self) -> bool:
        return self.targets is not None and self.targets.ndim == 2

    def __len__(self) -> int:
        return len(self.files)

    def image(self, i: int) -> torch.Tensor:
        """Item ``i``'s presized image (float [0, 1] unless ``as_uint8``)."""
        x = self._cached.get(i)
        if x is None:
            x = image_tensor(self.files[i], self.item_size, self.mode, as_uint8=True)
            if self.cache:
                self._cached[i] = x
        return x if self.as_uint8 else x.float().div_(255)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        x = self.image(i)
        return (x,) if self.targets is None else (x, self.targets[i])

    def label(self, i: int) -> Label:
        """Item ``i``'s label as class name(s)."""
        return decode_target(self.targets[i], self.classes)


# ---------------------------------------------------------------- labels and splits
def label_from_folder(path: str | os.PathLike) -> str:
    """The name of the folder holding the file: ``train/3/img.png`` -> ``"3"``."""
    return Path(path).parent.name


def label_from_regex(pattern: str) -> Callable[[str | os.PathLike], str]:
    """A labelling function taking the first group of ``pattern`` matched in the file NAME.

    Example:
        >>> label_from_regex(r"^(.+)_\\d+\\.jpg$")("images/great_pyrenees_17.jpg")
        'great_pyrenees'
    """
    regex = re.compile(pattern)

    def label(path: str | os.PathLike) -> str:
        m = regex.search(Path(path).name)
        if m is None or not m.groups():
            raise ValueError(f"Pattern {pattern!r} does not match file name {Path(path).name!r} "
                             "(or has no group): fix the pattern or filter the files first.")
        return m.group(1)

    return label


def encode_labels(labels: Sequence[Label], classes: Sequence[str] | None = None
                  ) -> tuple[torch.Tensor, list[str]]:
    """Turn labels into targets: names -> long indices; lists of tags -> multi-hot floats.

    ``classes`` defaults to the sorted set of names seen.

    Example:
        >>> encode_labels(["dog", "cat", "dog"])
        (tensor([1, 0, 1]), ['cat', 'dog'])
        >>> encode_labels([["a", "b"], []])[0]
        tensor([[1., 1.],
                [0., 0.]])
    """
    multi = len(labels) > 0 and not isinstance(labels[0], str)
    seen = sorted({t for tags in labels for t in tags}) if multi else sorted(set(labels))
    classes = list(classes) if classes is not None else seen
    index = {c: i for i, c in enumerate(classes)}
    missing = sorted(set(seen) - set(index))
    if missing:
        raise ValueError(f"Labels {missing[:5]} are not in classes; add them to `classes` or drop those items.")
    if not multi:
        return torch.tensor([index[name] for name in labels], dtype=torch.long), classes
    targets = torch.zeros(len(labels), len(classes))
    for row, tags in enumerate(labels):
        targets[row, [index[t] for t in tags]] = 1.0
    return targets, classes


def decode_target(target: torch.Tensor, classes: Sequence[str] | None) -> Label:
    """Inverse of :func:`encode_labels` for one target (indices when ``classes`` is None)."""
    if target.ndim == 0:
        return classes[int(target)] if classes is not None else int(target)
    on = target.nonzero().flatten().tolist()
    return [classes[i] for i in on] if classes is not None else on


def random_split(n: int, valid_pct: float = 0.2, seed: int = 42) -> torch.Tensor:
    """A boolean mask [n]: True for the ``round(n * valid_pct)`` items drawn (seeded) for validation.

    Example:
        >>> random_split(10, 0.2, seed=0).sum().item()
        2
    """
    if not 0 < valid_pct < 1:
        raise ValueError(f"valid_pct={valid_pct} must be between 0 and 1 (e.g. 0.2).")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid = torch.zeros(n, dtype=torch.bool)
    valid[order[: round(n * valid_pct)]] = True
    return valid


# ---------------------------------------------------------------- DataLoaders
def image_dataloaders(files: Sequence[str | os.PathLike], labels: Sequence[Label],
                      valid: Sequence[bool] | torch.Tensor | None = None, valid_pct: float = 0.2,
                      seed: int = 42, classes: Sequence[str] | None = None, item_size: int | None = None,
                      size: Size = None, bs: int = 64, train_tfm: nn.Module | None = None,
                      valid_tfm: nn.Module | None = None,
                      norm_stats: tuple[Sequence[float], Sequence[float]] | None = IMAGENET_STATS,
                      num_workers: int = 0, device: torch.device | str | None = None, mode: str = "RGB",
                      as_uint8: bool = False, cache: bool = False):
    """Build DataLoaders from files and labels: split, encode, presize items, batch, augment on the device.

    - ``valid``: a mask saying which files are for validation; None draws
      ``valid_pct`` of them at random with ``seed``.
    - ``item_size``: items are presized once to this square size (e.g. 460).
    - ``size``: the final batch image size; ``train_tfm`` defaults to a plain centre
      resize to ``size`` (pass ``aug_transforms(size)`` to augment) and ``valid_tfm``
      always defaults to one.
    - Shuffling uses its own generator seeded with ``seed``; workers are seeded with
      ``seed_worker``; the last partial training batch is dropped (batch norm
      cannot learn from a batch of one).

    Example:
        >>> # dls = image_dataloaders(files, [f.name[0].isupper() and "cat" or "dog" for f in files],
        >>> #                         item_size=460, size=224, train_tfm=aug_transforms(size=224))
    """
    if len(files) == 0:
        raise ValueError("No files given: check the folder and the file extensions.")
    targets, classes = encode_labels(labels, classes)
    valid = random_split(len(files), valid_pct, seed) if valid is None else torch.as_tensor(valid, dtype=torch.bool)
    if valid.all() or not valid.any():
        raise ValueError(f"The split leaves {int(valid.sum())} of {len(files)} files for validation: "
                         "both training and validation need some.")

    def dataset(mask: torch.Tensor) -> ImageDataset:
        idx = mask.nonzero().flatten().tolist()
        return ImageDataset([files[i] for i in idx], targets[idx], classes, item_size, mode, as_uint8, cache)

    train_ds, valid_ds = dataset(~valid), dataset(valid)
    pin = torch.device(device).type == "cuda" if device is not None else torch.cuda.is_available()
    common = dict(num_workers=num_workers, worker_init_fn=seed_worker, pin_memory=pin,
                  persistent_workers=num_workers > 0)
    train_dl = DataLoader(train_ds, batch_size=bs, shuffle=True, drop_last=len(train_ds) > bs,
                          generator=torch.Generator().manual_seed(seed), **common)
    valid_dl = DataLoader(valid_ds, batch_size=bs * 2, shuffle=False, **common)
    device = torch.device(device) if device is not None else None
    return DataLoaders(train_dl, valid_dl, device=device, classes=classes, norm_stats=norm_stats,
                       train_tfm=train_tfm if train_tfm is not None else valid_transforms(size),
                       valid_tfm=valid_tfm if valid_tfm is not None else valid_transforms(size))


def dataloaders_from_folder(path: str | os.PathLike, train: str = "train", valid: str = "valid",
                            valid_pct: float | None = None, **kwargs):
    """Images labelled by their parent folder, split by the ``train``/``valid`` folders (or ``valid_pct``).

    With ``valid_pct``, all images under ``path`` are split at random instead.
    Other arguments as in :func:`image_dataloaders`.

    Example:
        >>> # dls = dataloaders_from_folder(get_data("mnist_sample"), size=28)
    """
    path = Path(path)
    if valid_pct is not None:
        files = get_image_files(path)
        return image_dataloaders(files, [label_from_folder(f) for f in files], valid_pct=valid_pct, **kwargs)
    train_files, valid_files = get_image_files(path / train), get_image_files(path / valid)
    files = train_files + valid_files
    mask = [False] * len(train_files) + [True] * len(valid_files)
    return image_dataloaders(files, [label_from_folder(f) for f in files], valid=mask, **kwargs)


def dataloaders_from_name_func(files: str | os.PathLike | Sequence[str | os.PathLike],
                               label_func: Callable[[Path], Label], valid_pct: float = 0.2, **kwargs):
    """Images labelled by ``label_func(path)``; ``files`` is a list, or a folder to search.

    Other arguments as in :func:`image_dataloaders`.

    Example:
        >>> # dls = dataloaders_from_name_func(folder, lambda p: "cat" if p.name[0].isupper() else "dog")
    """
    if isinstance(files, (str, os.PathLike)):
        files = get_image_files(files)
    files = [Path(f) for f in files]
    return image_dataloaders(files, [label_func(f) for f in files], valid_pct=valid_pct, **kwargs)


def dataloaders_from_name_re(files: str | os.PathLike | Sequence[str | os.PathLike], pattern: str,
                             valid_pct: float = 0.2, **kwargs):
    """Images labelled by the first group of a regex on the file name.

    Other arguments as in :func:`image_dataloaders`.

    Example:
        >>> # dls = dataloaders_from_name_re(pets / "images", r"^(.+)_\\d+\\.jpg$", item_size=460, size=224)
    """
    return dataloaders_from_name_func(files, label_from_regex(pattern), valid_pct=valid_pct, **kwargs)


def dataloaders_from_csv(path: str | os.PathLike, csv_fname: str = "labels.csv", folder: str | None = None,
                         fn_col: int | str = 0, label_col: int | str = 1, label_delim: str | None = None,
                         suffix: str = "", valid_col: str | None = None, valid_pct: float = 0.2, **kwargs):
    """Images named in a CSV: file names in ``fn_col``, labels in ``label_col``.

    ``label_delim`` makes it multi-label (Planet: ``" "``, so ``"clear primary"`` -> two
    tags; an empty cell is no tags). Files are ``path/folder/<name><suffix>``. Split by
    a boolean ``valid_col`` if given, else ``valid_pct`` at random. Other arguments as
    in :func:`image_dataloaders`.

    Example:
        >>> # dls = dataloaders_from_csv(planet, "train_v2.csv", folder="train-jpg", suffix=".jpg", label_delim=" ")
    """
    path = Path(path)
    df = pd.read_csv(path / csv_fname)
    column = lambda c: df.iloc[:, c] if isinstance(c, int) else df[c]  # noqa: E731
    root = path / folder if folder else path
    files = [root / f"{name}{suffix}" for name in column(fn_col).astype(str)]
    raw = column(label_col)
    if label_delim is None:
        labels = raw.astype(str).tolist()
    else:
        labels = [[] if pd.isna(v) else [t for t in str(v).split(label_delim) if t] for v in raw]
    valid = None if valid_col is None else df[valid_col].map(_truthy).tolist()
    return image_dataloaders(files, labels, valid=valid, valid_pct=valid_pct, **kwargs)


def _truthy(value) -> bool:
    """A CSV cell as a boolean: True/1/"true"/"yes" (any case) are True; a plain ``bool("False")`` would be True."""
    return str(value).strip().lower() in ("true", "1", "1.0", "yes", "y", "t")


# ---------------------------------------------------------------- the model
class TinyResNet(nn.Module):
    """A narrow ResNet built from torchvision's ``BasicBlock``, with torchvision's attribute names.

    ``conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc`` as in
    ``torchvision.models.ResNet``, so the same body/head/splitter code serves both;
    only the widths are small (16..192 channels, one block a stage: about 0.66M
    parameters, a 1.3 MB float16 file; resnet34 has 21.8M).

    Example:
        >>> TinyResNet(num_classes=5)(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 5])
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 96, 192), blocks: Sequence[int] = (1, 1, 1, 1),
                 num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        c_in = widths[0]
        for i, (width, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", self._make_layer(c_in, width, n, stride))
            c_in = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _make_layer(c_in: int, width: int, n: int, stride: int) -> nn.Sequential:
        down = None
        if stride != 1 or c_in != width:  # the shortcut must change shape like the block does
            down = nn.Sequential(nn.Conv2d(c_in, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width))
        layers = [BasicBlock(c_in, width, stride=stride, downsample=down)]
        layers += [BasicBlock(width, width) for _ in range(n - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tiny_resnet(num_classes: int = 1000) -> TinyResNet:
    """The bundled small backbone of sample mode (pretrained on ``samples.shapes`` by data/make_tiny_resnet.py)."""
    return TinyResNet(num_classes=num_classes)


BODY_NAMES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


def weights_file(arch: str, size: str | None = None) -> Path:
    """Where the pretrained state dict of ``arch`` lives: ``coursehelpers.data.get_weights(arch, size)``.

    ``"tiny_resnet"`` always means the bundled file (the sample entry of the ResNets).
    """
    if arch == "tiny_resnet":
        return get_weights("resnet34", "sample")
    return get_weights(arch, size)


def create_body(arch: str = "resnet34", pretrained: bool = True, size: str | None = None) -> nn.Sequential:
    """A ResNet without its pooling and classifier, as ``Sequential(conv1, bn1, relu, maxpool, layer1..4)``.

    full mode: torchvision's ``arch``; sample mode (or ``arch="tiny_resnet"``): the
    bundled :func:`tiny_resnet`, whatever ``arch`` says. Either way, when
    ``pretrained`` the state dict from ``get_weights(arch, size)`` is loaded.

    Example:
        >>> create_body("tiny_resnet", pretrained=False)(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 192, 2, 2])
    """
    tiny = arch == "tiny_resnet" or course_size(size) == "sample"
    state = None
    if pretrained:
        state = torch.load(weights_file(arch, size), map_location="cpu", weights_only=True)
    n_out = state["fc.weight"].shape[0] if state is not None else 1000
    net = tiny_resnet(n_out) if tiny else torchvision.models.get_model(arch, weights=None, num_classes=n_out)
    if state is not None:
        net.load_state_dict(state)  # float16 files are cast to the float32 parameters here
    return nn.Sequential(OrderedDict((name, getattr(net, name)) for name in BODY_NAMES))


def num_features(body: nn.Module, channels: int = 3) -> int:
    """The number of channels the body outputs, found by a tiny forward pass."""
    was_training = body.training
    body.eval()
    with torch.no_grad():
        n = body(torch.zeros(1, channels, 64, 64, device=next(body.parameters()).device)).shape[1]
    body.train(was_training)
    return n


class ConcatPool(nn.Module):
    """Average AND max pooling over the whole feature map, concatenated: [B, C, H, W] -> [B, 2C]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((2, 3)), x.amax((2, 3))], dim=1)


def vision_head(n_features: int, n_out: int, hidden: int = 512, p_first: float = 0.25,
                p_last: float = 0.5) -> nn.Sequential:
    """The new classifier: concat pool -> BN -> dropout -> linear -> ReLU -> BN -> dropout -> linear.

    Example:
        >>> vision_head(192, 37)(torch.rand(4, 192, 3, 3)).shape
        torch.Size([4, 37])
    """
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
    """Three parameter groups for discriminative learning rates: stem+layer1-2, layer3-4, head."""
    body, head = model[0], model[1]
    early = [p for name in ("conv1", "bn1", "layer1", "layer2") for p in getattr(body, name).parameters()]
    late = [p for name in ("layer3", "layer4") for p in getattr(body, name).parameters()]
    return [early, late, list(head.parameters())]


def vision_learner(dls, arch: str = "resnet34", pretrained: bool = True, size: str | None = None,
                   loss_func: nn.Module | None = None, metrics: Sequence[Callable] = (), n_out: int | None = None,
                   **learner_kwargs):
    """A Learner for ``Sequential(body=create_body(arch), head=vision_head(...))``, frozen when pretrained.

    ``n_out`` defaults to ``dls.c``; ``loss_func`` to cross-entropy (or
    ``BCEWithLogitsLoss`` for multi-label data). ``splitter=resnet_splitter`` and
    ``channels_last=True`` are set unless given in ``learner_kwargs``.

    Example:
        >>> # learn = vision_learner(dls, "resnet34", metrics=[error_rate]); learn.fine_tune(1)
    """
    body = create_body(arch, pretrained, size)
    head = vision_head(num_features(body), n_out if n_out is not None else dls.c)
    model = nn.Sequential(OrderedDict(body=body, head=head))
    if loss_func is None:
        multi = getattr(dls.train_dl.dataset, "multi_label", False)
        loss_func = nn.BCEWithLogitsLoss() if multi else nn.CrossEntropyLoss()
    learner_kwargs.setdefault("splitter", resnet_splitter)
    learner_kwargs.setdefault("channels_last", True)
    learn = Learner(model, dls, loss_func, metrics=metrics, **learner_kwargs)
    if pretrained:
        learn.freeze()
    return learn
