"""Datasets of images: list files, label them, split them, and check the data before training.

`image_datasets`, `datasets_from_folder`, `datasets_from_df` and `datasets_from_csv`
return ``(train_ds, valid_ds)`` of `ImageDataset`s, whose items are presized uint8
tensors from `coursehelpers.image_io.load_image` (a quarter of the bytes of floats
until the device). Mistakes in the data (a missing file, an empty label, an empty
class folder, one class, classes that train and valid disagree on) are errors that
list what was found, when the datasets are built, not in the middle of an epoch.

Example:
    >>> label_from_folder("train/3/img.png"), random_split(5, valid_pct=0.4).tolist()
    ('3', [False, False, True, False, True])
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

# load_image is re-exported: lessons read one image with `from coursehelpers.images import load_image`
from coursehelpers.image_io import load_image, verify_images  # noqa: F401

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
Label = str | Sequence[str]  # one class name, or a list of tags (multi-label)


def _listing(items: Sequence, n: int = 5) -> str:
    """The first ``n`` items, and how many more: for error messages."""
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


def get_image_files(folder: str | os.PathLike, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Every image file under ``folder`` (recursively), sorted so the order never depends on the file system.

    Hidden files and folders (names starting with ".", such as ``.ipynb_checkpoints``) are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {folder}: check the path, or fetch the data with get_data(name, size).")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in extensions and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


# ---------------------------------------------------------------- datasets
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


def _clean(label: object) -> Label | None:
    """A label without surrounding spaces (tags: each one, blanks dropped); None if it is empty or NaN."""
    if isinstance(label, str):
        return label.strip() or None
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    return [str(t).strip() for t in label if str(t).strip()]


def _checked_items(files: Sequence[str | os.PathLike], labels: Sequence[Label]) -> tuple[list[Path], list]:
    """Paths and cleaned labels; an error listing the items with no label, or files that do not exist."""
    files, labels = [Path(f) for f in files], [_clean(label) for label in labels]
    if not files or len(files) != len(labels):
        raise ValueError(f"{len(files)} files and {len(labels)} labels: check the folder, the file extensions "
                         "and that each file has one label.")
    blank = [f"{i} ({files[i].name})" for i, label in enumerate(labels) if label is None]
    if blank:
        raise ValueError(f"{len(blank)} items have no label: {_listing(blank)}. Label them or leave them out.")
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of the {len(files)} files do not exist: {_listing(missing)}. "
                                "Check the folder, the names and their suffix, or leave those items out.")
    return files, labels


def _check_split(labels: list, valid: torch.Tensor) -> None:
    """Given splits of single labels must name the same classes (``Right`` and ``right`` are two)."""
    train = {name for name, v in zip(labels, valid.tolist()) if not v}
    held = {name for name, v in zip(labels, valid.tolist()) if v}
    if train != held:
        only_train, only_valid = sorted(train - held), sorted(held - train)
        raise ValueError(f"Training and validation name different classes: only in training {only_train}, "
                         f"only in validation {only_valid}. Names must match exactly (case too): rename "
                         "the folders or labels, or add images so each class is on both sides.")


def _drop_unreadable(files: list[Path], labels: list, valid: torch.Tensor) -> tuple[list, list, torch.Tensor]:
    bad = set(verify_images(files))
    keep = [i for i, f in enumerate(files) if f not in bad]
    print(f"Dropped {len(bad)} of {len(files)} images that cannot be read" + (f": {_listing(sorted(bad))}" * bool(bad)))
    return [files[i] for i in keep], [labels[i] for i in keep], valid[keep]


def image_datasets(files: Sequence[str | os.PathLike], labels: Sequence[Label],
                   valid: Sequence[bool] | torch.Tensor | None = None, valid_pct: float = 0.2, seed: int = 42,
                   item_size: int | None = None, classes: Sequence[str] | None = None,
                   cache: bool = False, drop_bad: bool = False) -> tuple[ImageDataset, ImageDataset]:
    """Training and validation `ImageDataset`s from files and labels, sharing the classes (default: all seen).

    ``valid`` says which files are for validation (then both sides must name the
    same classes); None draws ``valid_pct`` of them with ``seed``. Missing files,
    empty labels and a single class are errors. ``drop_bad=True`` leaves out the
    files `verify_images` finds unreadable, and prints how many it dropped.
    """
    files, labels = _checked_items(files, labels)
    mask = random_split(len(files), valid_pct, seed) if valid is None else torch.as_tensor(valid, dtype=torch.bool)
    if len(mask) != len(files):
        raise ValueError(f"valid has {len(mask)} entries for {len(files)} files: give one per file.")
    if drop_bad:
        files, labels, mask = _drop_unreadable(files, labels, mask)
    targets, classes = encode_labels(labels, classes)
    if len(classes) < 2:
        raise ValueError(f"All {len(files)} files have the one class {classes}: a classifier needs two or more. "
                         "Check how the files are labelled (each class needs its own folder or label).")
    if mask.all() or not mask.any():
        raise ValueError(f"The split leaves {int(mask.sum())} of {len(files)} files for validation: "
                         "both training and validation need some.")
    if valid is not None and not isinstance(labels[0], list):
        _check_split(labels, mask)

    def subset(keep: torch.Tensor) -> ImageDataset:
        idx = keep.nonzero().flatten().tolist()
        return ImageDataset([files[i] for i in idx], targets[idx], classes, item_size, cache)

    return subset(~mask), subset(mask)


def _class_files(root: Path) -> list[Path]:
    """The images under ``root``; an error naming any class folder (a subfolder) that has none."""
    files = get_image_files(root)
    used = {f.relative_to(root).parts[0] for f in files}
    empty = [d.name for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
             and d.name not in used]
    if empty:
        raise ValueError(f"Class folders with no images in {root}: {empty}. Put the class's images in each "
                         "(jpg, png, ...), or remove the empty folders.")
    if not files:
        raise ValueError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) under {root}: check the path.")
    return files


def datasets_from_folder(path: str | os.PathLike, train: str = "train", valid: str = "valid",
                         valid_pct: float | None = None, **kwargs) -> tuple[ImageDataset, ImageDataset]:
    """Images labelled by their folder: ``path/train/<class>/`` and ``path/valid/<class>/``, or
    ``path/<class>/`` split at random by ``valid_pct``.

    An empty class folder is an error, and so is a class that only train or valid has.
    Other arguments as in `image_datasets`.
    """
    roots = [Path(path)] if valid_pct is not None else [Path(path) / train, Path(path) / valid]
    found = [_class_files(root) for root in roots]
    files = [f for fs in found for f in fs]
    labels = [label_from_folder(f) for f in files]
    if valid_pct is not None:
        return image_datasets(files, labels, valid_pct=valid_pct, **kwargs)
    return image_datasets(files, labels, valid=[False] * len(found[0]) + [True] * len(found[1]), **kwargs)


def datasets_from_df(df: pd.DataFrame, path: str | os.PathLike, fn_col: int | str = 0, label_col: int | str = 1,
                     label_delim: str | None = None, suffix: str = "", valid_col: str | None = None,
                     valid_pct: float = 0.2, name: str = "the DataFrame",
                     **kwargs) -> tuple[ImageDataset, ImageDataset]:
    """Images named in a table: the file ``path/<fn_col><suffix>``, its label(s) in ``label_col``.

    ``label_delim`` makes it multi-label (Planet: ``" "``, so ``"clear primary"`` is
    two tags; an empty cell is none); otherwise an empty or NaN label is an error
    naming its rows (the table's index). Split by the true/false column
    ``valid_col``, else ``valid_pct`` at random. ``name`` is what errors call the
    table. Other arguments as in `image_datasets`.
    """
    def column(c: int | str) -> pd.Series:
        if c not in (range(df.shape[1]) if isinstance(c, int) else df.columns):
            raise ValueError(f"{name} has no column {c!r}; its columns are {list(df.columns)}.")
        return df.iloc[:, c] if isinstance(c, int) else df[c]

    raw = column(label_col)
    if label_delim is None:
        blank = raw.index[raw.isna() | (raw.astype(str).str.strip() == "")].tolist()
        if blank:
            raise ValueError(f"{name}: column {label_col!r} is empty in rows {_listing(blank)} (row 0 is the "
                             "first after the header): give those rows a label or remove them.")
        labels = raw.astype(str).tolist()
    else:
        labels = [[] if pd.isna(v) else str(v).split(label_delim) for v in raw]
    files = [Path(path) / f"{str(f).strip()}{suffix}" for f in column(fn_col)]
    # bool("False") is True: read the cell's text instead
    valid = None if valid_col is None else [str(v).strip().lower() in ("true", "1", "1.0", "yes", "y", "t")
                                            for v in column(valid_col)]
    return image_datasets(files, labels, valid=valid, valid_pct=valid_pct, **kwargs)


def datasets_from_csv(path: str | os.PathLike, csv_fname: str = "labels.csv", folder: str | None = None,
                      **kwargs) -> tuple[ImageDataset, ImageDataset]:
    """Images named in the CSV ``path/csv_fname``, the files in ``path/folder``: see `datasets_from_df`.

    Example (Planet): ``datasets_from_csv(path, "train_v2.csv", folder="train-jpg",
    suffix=".jpg", label_delim=" ")``.
    """
    path = Path(path)
    return datasets_from_df(pd.read_csv(path / csv_fname), path / folder if folder else path,
                            name=str(path / csv_fname), **kwargs)
