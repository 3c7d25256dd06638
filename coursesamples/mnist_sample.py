"""Generate the offline MNIST 3-vs-7 sample in the layout of fastai's mnist_sample.

Real handwritten 3s and 7s from scikit-learn's bundled digits (see
``coursesamples.mnist`` for how they become 28x28 PNGs), split 80/20:

    dest/train/{3,7}/<index>.png
    dest/valid/{3,7}/<index>.png
    dest/labels.csv      name,label  e.g. "train/3/25.png,0"  (label 0 = a 3, 1 = a 7)

As in fastai's labels.csv, ``name`` is relative to the root and the label is 0
for a 3 and 1 for a 7; here the file lists every image, train and valid.

Example:
    >>> from pathlib import Path; import tempfile
    >>> make_sample(Path(tempfile.mkdtemp()))
"""
from __future__ import annotations

from pathlib import Path

from coursesamples.mnist import digit_images, save_png, split_indices

DIGITS = (3, 7)


def make_sample(dest: Path) -> None:
    """Write the 3s and 7s into ``dest`` (train/, valid/, labels.csv)."""
    dest = Path(dest)
    images, labels = digit_images()
    rows = []
    for label, digit in enumerate(DIGITS):
        train, valid = split_indices(labels, digit)
        for split, indices in [("train", train), ("valid", valid)]:
            for i in indices:
                name = f"{split}/{digit}/{i}.png"
                save_png(images[i], dest / name)
                rows.append(f"{name},{label}\n")
    (dest / "labels.csv").write_text("name,label\n" + "".join(rows), encoding="ascii", newline="\n")
