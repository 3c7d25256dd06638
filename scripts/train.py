"""Train a lesson's model outside Jupyter: in one process, or in several under torchrun.

    python scripts/train.py pets                                  # sample mode, the lesson's recipe
    python scripts/train.py pets --size full --epochs 4
    torchrun --nproc_per_node=4 scripts/train.py pets --size full  # 4 GPUs (or 4 CPU processes)

Each recipe is its lesson's (notebooks/01_pets, 03_planet, 06_collab): the same data, model and
schedule. Under torchrun every process trains on its own shard of each epoch and the gradients are
averaged, so the global batch is ``bs * processes`` (scale the learning rate with it if you like);
only rank 0 prints and writes the export, ``build/<lesson>.pth`` (load it with
``coursehelpers.export.load_learner``).
"""
from __future__ import annotations

import argparse
import os
from functools import partial
from pathlib import Path

import pandas as pd

from coursehelpers import distributed
from coursehelpers.augment import aug_transforms
from coursehelpers.collab import collab_dataloaders, collab_datasets, collab_learner
from coursehelpers.config import TrainConfig
from coursehelpers.core import course_size, default_device, run_banner, set_seed
from coursehelpers.data import get_data
from coursehelpers.images import datasets_from_csv, get_image_files, image_datasets, label_from_regex
from coursehelpers.learner import Learner
from coursehelpers.metrics import error_rate, fbeta_multi
from coursehelpers.vision import image_dataloaders, vision_learner


def pets(size: str, device, epochs: int | None, seed: int) -> Learner:
    full = size == "full"
    arch, item_size, img_size, bs = ("resnet34", 460, 224, 64) if full else ("tiny_resnet", 80, 64, 32)
    files = get_image_files(get_data("pets", size) / "images")
    breed = label_from_regex(r"^(.+)_\d+\.jpg$")
    train_ds, valid_ds = image_datasets(files, [breed(f) for f in files], valid_pct=0.2, seed=seed,
                                        item_size=item_size, cache=not full)
    dls = image_dataloaders(train_ds, valid_ds, bs=bs, size=img_size, train_tfm=aug_transforms(size=img_size),
                            seed=seed, device=device, num_workers=8 if full else 0)
    learn = vision_learner(dls, arch, metrics=[error_rate])
    learn.fine_tune(epochs or (2 if full else 3), base_lr=2e-3 if full else 1e-2, lr_mult=100 if full else 10)
    return learn


def planet(size: str, device, epochs: int | None, seed: int) -> Learner:
    full = size == "full"
    arch, item_size, img_size, bs = ("resnet50", 256, 256, 64) if full else ("tiny_resnet", 64, 64, 64)
    train_ds, valid_ds = datasets_from_csv(get_data("planet", size), "train_v2.csv", folder="train-jpg",
                                           suffix=".jpg", label_delim=" ", valid_pct=0.2, seed=seed,
                                           item_size=item_size, cache=not full)
    tfm = aug_transforms(size=img_size, flip_vert=True, max_lighting=0.1, max_zoom=1.05, max_warp=0.0)
    dls = image_dataloaders(train_ds, valid_ds, bs=bs, size=img_size, train_tfm=tfm, seed=seed, device=device,
                            num_workers=8 if full else 0)
    learn = vision_learner(dls, arch, metrics=[partial(fbeta_multi, beta=2, thresh=0.2)])
    learn.fine_tune(epochs or 5, base_lr=1e-2 if full else 3e-2, freeze_epochs=3 if full else 2, lr_mult=9)
    return learn


def collab(size: str, device, epochs: int | None, seed: int) -> Learner:
    path = get_data("movielens_100k", size)
    ratings = pd.read_csv(path / "u.data", sep="\t", names=["user", "movie", "rating", "timestamp"])
    titles = pd.read_csv(path / "u.item", sep="|", encoding="latin-1", header=None, usecols=[0, 1],
                         names=["movie", "title"])
    train_ds, valid_ds = collab_datasets(ratings.merge(titles), item_col="title", seed=seed)
    dls = collab_dataloaders(train_ds, valid_ds, bs=64 if size == "full" else 32, seed=seed, device=device)
    learn = collab_learner(dls, n_factors=50, y_range=(0.0, 5.5), config=TrainConfig(wd=0.1))
    learn.fit_one_cycle(epochs or 5, 5e-3)
    return learn


RECIPES = {"pets": pets, "planet": planet, "collab": collab}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lesson", choices=sorted(RECIPES))
    parser.add_argument("--size", choices=["sample", "full"], default=None, help="default: $COURSE_SIZE or sample")
    parser.add_argument("--epochs", type=int, default=None, help="default: the lesson's")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    # torchrun sets WORLD_SIZE for every process it starts; a plain `python` run has none
    device = distributed.setup() if "WORLD_SIZE" in os.environ else default_device()
    size = course_size(args.size)
    set_seed(args.seed)
    if distributed.is_main():
        print(run_banner(size, device, args.seed), f"processes={distributed.world_size()}")
    learn = RECIPES[args.lesson](size, device, args.epochs, args.seed)
    out = learn.export(Path("build").resolve() / f"{args.lesson}.pth")
    if distributed.is_main():
        print(f"exported {out}")
    distributed.teardown()


if __name__ == "__main__":
    main()
