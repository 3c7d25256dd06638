"""Images as a person sees them, and datasets of them: what `vision.image_dataloaders` batches.

`load_image` is the one way an image comes in: a uint8 tensor [C, S, S], presized
once (the centre square, resized to ``item_size``); items stay uint8, a quarter of
the bytes of floats, until the device. `image_datasets`, `datasets_from_folder`
and `datasets_from_csv` label files, split them and return ``(train_ds, valid_ds)``.

Example:
    >>> load_image(np.zeros((30, 60, 3), np.uint8), item_size=20).shape
    torch.Size([3, 20, 20])
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
ImageSource = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor
Label = str | Sequence[str]  # one class name, or a list of tags (multi-label)


def presize(img: Image.Image, item_size: int | None) -> Image.Image:
    """Resize so the shorter side is ``item_size``, then keep the centre square (None: unchanged)."""
    if item_size is None:
        return img
    scale = item_size / min(img.size)
    w, h = max(item_size, round(img.width * scale)), max(item_size, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0 if scale < 0.5 else None)
    left, top = (w - item_size) // 2, (h - item_size) // 2
    return img.crop((left, top, left + item_size, top + item_size))


def load_image(source: ImageSource, item_size: int | None = None, mode: str = "RGB") -> torch.Tensor:
    """One image as a uint8 tensor [C, S, S] (C = 3 for "RGB", 1 for "L"), presized to ``item_size``.

    ``source``: a file, a PIL image, an array [H, W(, C)] or a tensor [C, H, W]
    (uint8, or floats in [0, 1]); all go through the same PIL resize.

    Example:
        >>> x = load_image(torch.ones(3, 8, 12), item_size=4)
        >>> x.shape, x.dtype, int(x.max())
        (torch.Size([3, 4, 4]), torch.uint8, 255)
    """
    if isinstance(source, torch.Tensor):
        source = source.detach().cpu()
        source = (source.permute(1, 2, 0).squeeze(-1) if source.ndim == 3 else source).numpy()
    if isinstance(source, np.ndarray):
        uint8 = source if source.dtype == np.uint8 else (np.clip(source, 0, 1) * 255).round().astype(np.uint8)
        source = Image.fromarray(uint8)
    if isinstance(source, (str, os.PathLike)):
        with Image.open(source) as img:
            img = presize(img.convert(mode), item_size)
    elif isinstance(source, Image.Image):
        img = presize(source.convert(mode), item_size)
    else:
        raise TypeError(f"Cannot read an image from a {type(source).__name__}: pass a file path, a PIL image, "
                        "a NumPy array [H, W, C] or a tensor [C, H, W].")
    x = torch.from_numpy(np.array(img, dtype=np.uint8))
    return (x[None] if x.ndim == 2 else x.permute(2, 0, 1)).contiguous()


def get_image_files(folder: str | os.PathLike, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Every image file under ``folder`` (recursively), sorted so the order never depends on the file system."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {folder}: check the path, or fetch the data with get_data(name, size).")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in extensions and p.is_file())


class ImageDataset(Dataset):
    """Image files and their targets (class indices [N], multi-hot floats [N, C], or None for a test set).

    Item ``i`` is ``(uint8 image [C, S, S], target)``, or ``(image,)`` without
    targets; ``cache=True`` keeps the presized pixels in memory (for small sets).
    """

    def __init__(self, files: Sequence[str | os.PathLike], targets: torch.Tensor | None = None,
                 classes: Sequence[str] | None = None, item_size: int | None = None, cache: bool = False,
                 mode: str = "RGB"):
        if targets is not None and len(targets) != len(files):
            raise ValueError(f"{len(files)} files but {len(targets)} targets: they must pair up one to one.")
        self.files, self.targets = [Path(f) for f in files], targets
        self.classes = list(classes) if classes is not None else None
        self.item_size, self.cache, self.mode = item_size, cache, mode
        self.multi_label = targets is not None and targets.ndim == 2  # several tags per image
        self.cached: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        x = self.cached.get(i)
        if x is None:
            x = load_image(self.files[i], self.item_size, self.mode)
            if self.cache:
                self.cached[i] = x
        return (x,) if self.targets is None else (x, self.targets[i])


def label_from_folder(path: str | os.PathLike) -> str:
    """The name of the folder holding the file: ``train/3/img.png`` -> ``"3"``."""
    return Path(path).parent.name


def label_from_regex(pattern: str) -> Callable[[str | os.PathLike], str]:
    """A labelling function: the first group of ``pattern`` matched in the file NAME.

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
    """Targets from labels: names -> long indices, lists of tags -> multi-hot floats; ``classes`` default: sorted.

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


def random_split(n: int, valid_pct: float = 0.2, seed: int = 42) -> torch.Tensor:
    """A boolean mask [n], True for the ``round(n * valid_pct)`` items drawn (seeded) for validation."""
    if not 0 < valid_pct < 1:
        raise ValueError(f"valid_pct={valid_pct} must be between 0 and 1 (e.g. 0.2).")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid = torch.zeros(n, dtype=torch.bool)
    valid[order[: round(n * valid_pct)]] = True
    return valid


def image_datasets(files: Sequence[str | os.PathLike], labels: Sequence[Label],
                   valid: Sequence[bool] | torch.Tensor | None = None, valid_pct: float = 0.2, seed: int = 42,
                   item_size: int | None = None, classes: Sequence[str] | None = None,
                   cache: bool = False) -> tuple[ImageDataset, ImageDataset]:
    """Training and validation `ImageDataset`s from files and labels, sharing the classes (default: all seen).

    ``valid`` says which files are for validation; None draws ``valid_pct`` of them with ``seed``.
    """
    if len(files) == 0:
        raise ValueError("No files given: check the folder and the file extensions.")
    targets, classes = encode_labels(labels, classes)
    valid = random_split(len(files), valid_pct, seed) if valid is None else torch.as_tensor(valid, dtype=torch.bool)
    if valid.all() or not valid.any():
        raise ValueError(f"The split leaves {int(valid.sum())} of {len(files)} files for validation: "
                         "both training and validation need some.")

    def subset(mask: torch.Tensor) -> ImageDataset:
        idx = mask.nonzero().flatten().tolist()
        return ImageDataset([files[i] for i in idx], targets[idx], classes, item_size, cache)

    return subset(~valid), subset(valid)


def datasets_from_folder(path: str | os.PathLike, train: str = "train", valid: str = "valid",
                         valid_pct: float | None = None, **kwargs) -> tuple[ImageDataset, ImageDataset]:
    """Images labelled by their folder, split by the ``train``/``valid`` folders (or at random by ``valid_pct``).

    Other arguments as in `image_datasets`.
    """
    if valid_pct is not None:
        files = get_image_files(path)
        return image_datasets(files, [label_from_folder(f) for f in files], valid_pct=valid_pct, **kwargs)
    train_files, valid_files = get_image_files(Path(path) / train), get_image_files(Path(path) / valid)
    files, mask = train_files + valid_files, [False] * len(train_files) + [True] * len(valid_files)
    return image_datasets(files, [label_from_folder(f) for f in files], valid=mask, **kwargs)


def datasets_from_csv(path: str | os.PathLike, csv_fname: str = "labels.csv", folder: str | None = None,
                      fn_col: int | str = 0, label_col: int | str = 1, label_delim: str | None = None,
                      suffix: str = "", valid_col: str | None = None, valid_pct: float = 0.2,
                      **kwargs) -> tuple[ImageDataset, ImageDataset]:
    """Images named in a CSV: the file ``path/folder/<fn_col><suffix>``, its label(s) in ``label_col``.

    ``label_delim`` makes it multi-label (Planet: ``" "``, so ``"clear primary"`` is
    two tags; an empty cell is none). Split by the true/false column ``valid_col``,
    else ``valid_pct`` at random. Other arguments as in `image_datasets`.
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
    # bool("False") is True: read the cell's text instead
    valid = None if valid_col is None else [str(v).strip().lower() in ("true", "1", "1.0", "yes", "y", "t")
                                            for v in df[valid_col]]
    return image_datasets(files, labels, valid=valid, valid_pct=valid_pct, **kwargs)
