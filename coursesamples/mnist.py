"""Generate the offline MNIST sample: real handwritten digits in the layout of fastai's mnist_png.

The digits are scikit-learn's bundled copy of the UCI "Optical Recognition of
Handwritten Digits" set (1,797 scans, 8x8, values 0-16; no download needed).
Each is scaled to 0-255, enlarged to 20x20 and centred in a 28x28 black frame,
as MNIST fits its digits in a 20x20 box inside 28x28, and saved as a greyscale
PNG named after its index in ``sklearn.datasets.load_digits()``:

    dest/training/{0..9}/<index>.png
    dest/testing/{0..9}/<index>.png      (a fixed 20% of each digit)

Example:
    >>> from pathlib import Path; import tempfile
    >>> make_sample(Path(tempfile.mkdtemp()))
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

SEED = 0
VALID_PCT = 0.2
BOX, FRAME = 20, 28  # MNIST: digit fitted in a 20x20 box, centred in 28x28


def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as 28x28 uint8 images (white on black) and their labels (0-9)."""
    digits = load_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)
    pad = (FRAME - BOX) // 2
    frames = np.zeros((len(pixels), FRAME, FRAME), dtype=np.uint8)
    for i, img in enumerate(pixels):
        big = Image.fromarray(img).resize((BOX, BOX), Image.Resampling.BICUBIC)
        frames[i, pad:pad + BOX, pad:pad + BOX] = np.asarray(big)
    return frames, digits.target.astype(np.int64)


def split_indices(labels: np.ndarray, digit: int, valid_pct: float = VALID_PCT,
                  seed: int = SEED) -> tuple[list[int], list[int]]:
    """Sorted (train, valid) indices of one digit: a fixed random ``valid_pct`` goes to valid."""
    idx = np.flatnonzero(labels == digit)
    shuffled = np.random.default_rng(seed + digit).permutation(idx)
    n_valid = int(round(len(idx) * valid_pct))
    return sorted(shuffled[n_valid:].tolist()), sorted(shuffled[:n_valid].tolist())


def save_png(img: np.ndarray, path: Path) -> None:
    """Save a greyscale image as PNG with fixed settings and no metadata (same bytes every run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, format="PNG", optimize=False, compress_level=6)


def make_sample(dest: Path) -> None:
    """Write all ten digits into ``dest`` in mnist_png's layout (training/, testing/)."""
    images, labels = digit_images()
    for digit in range(10):
        train, valid = split_indices(labels, digit)
        for split, indices in [("training", train), ("testing", valid)]:
            for i in indices:
                save_png(images[i], Path(dest) / split / str(digit) / f"{i}.png")
