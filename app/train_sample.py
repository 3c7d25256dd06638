"""Train the sample pets model of lesson 1 and export it, so the app has something to serve.

``python app/train_sample.py FILE [--epochs N]``: the synthetic Pets sample, the bundled tiny
ResNet, lesson 1's sample-mode recipe (80 px items, 64 px batches, ``fine_tune``), about ten
seconds on a CPU. `make app` runs it when its model file is missing; lesson 7 trains the
same model in its first cells and exports it to the same place.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from coursehelpers.augment import aug_transforms
from coursehelpers.core import set_seed
from coursehelpers.data import get_data
from coursehelpers.images import get_image_files, image_datasets, label_from_regex
from coursehelpers.metrics import error_rate
from coursehelpers.vision import image_dataloaders, vision_learner

BREED = r"^(.+)_\d+\.jpg$"  # Abyssinian_12.jpg -> Abyssinian


def train_sample_model(file: str | os.PathLike, epochs: int = 3, seed: int = 42) -> Path:
    """Fine-tune ``tiny_resnet`` on the Pets sample (lesson 1's split and recipe) and export it to ``file``."""
    set_seed(seed)
    files = get_image_files(get_data("pets", "sample") / "images")
    breed = label_from_regex(BREED)
    train_ds, valid_ds = image_datasets(files, [breed(f) for f in files], valid_pct=0.2, seed=seed,
                                        item_size=80, cache=True)
    dls = image_dataloaders(train_ds, valid_ds, bs=32, size=64, train_tfm=aug_transforms(size=64), seed=seed)
    learn = vision_learner(dls, "tiny_resnet", metrics=[error_rate])
    learn.fine_tune(epochs, base_lr=1e-2, lr_mult=10)
    print(f"validation error {learn.history['error_rate'].iloc[-1]:.1%} on {len(valid_ds)} images")
    return learn.export(Path(file).resolve())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="where to write the export, e.g. notebooks/models/pets_sample.pth")
    parser.add_argument("--epochs", type=int, default=3, help="epochs after the frozen one (lesson 1: 3)")
    args = parser.parse_args()
    print("exported", train_sample_model(args.file, args.epochs))
