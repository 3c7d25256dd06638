"""The course's lesson models on their samples, as `benchmarks/gpu_check.py` trains them on any device.

Each `Lesson` loads its sample once (``get_data(name, "sample")``) and builds a fresh
Learner through the package's public API for a given precision, channels-last
setting, seed and device; ``train`` runs the lesson's schedule for about the number
of epochs asked for. The recipes are the sample-mode ones of the notebooks (the
bundled tiny ResNet, the sample's batch sizes and learning rates), shortened to a
few hundred steps: what is compared across devices is a run, not a lesson's result.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from coursehelpers.augment import aug_transforms
from coursehelpers.collab import collab_dataloaders, collab_datasets, collab_learner
from coursehelpers.config import TrainConfig
from coursehelpers.data import get_data, get_weights
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.features import add_datepart, join_df
from coursehelpers.images import datasets_from_csv, get_image_files, image_datasets, label_from_regex, load_image
from coursehelpers.learner import Learner, metric_name
from coursehelpers.metrics import accuracy, error_rate, exp_rmspe, fbeta_multi
from coursehelpers.tabular import TabularProcessor, tabular_dataloaders, tabular_learner
from coursehelpers.text.data import (TextClassDataset, Vocab, lm_dataloaders, text_classifier_dataloaders,
                                     texts_from_folders)
from coursehelpers.text.tokenize import tokenize_texts
from coursehelpers.text.ulmfit import language_model_learner, text_classifier_learner
from coursehelpers.vision import image_dataloaders, vision_learner

Build = Callable[[str, bool, int, torch.device], Learner]  # (precision, channels_last, seed, device) -> Learner


@dataclass
class Lesson:
    """One lesson's model: ``build`` a fresh Learner, ``train`` it ``epochs``; ``metric`` is read from its history;
    ``data`` is the sample's folder and ``weights`` the pretrained weights it starts from (what a reference
    run must have shared with a later one to be compared with it)."""

    name: str
    metric: str
    channels_last_applies: bool
    build: Build
    train: Callable[[Learner, int], None]
    data: Path
    weights: str | None = None


def config(precision: str, **kwargs: object) -> TrainConfig:
    """The lesson's TrainConfig in ``precision``, quiet (the check prints its own lines)."""
    return TrainConfig(precision=precision, log=False, **kwargs)


def vision_lesson(name: str, data: Path, datasets: tuple, bs: int, size: int, train_tfm: nn.Module,
                  metric: Callable, base_lr: float, lr_mult: float) -> Lesson:
    """Lessons 1 and 3: `image_dataloaders` -> `vision_learner` on the tiny ResNet -> ``fine_tune``."""
    def build(precision: str, channels_last: bool, seed: int, device: torch.device) -> Learner:
        dls = image_dataloaders(*datasets, bs=bs, size=size, train_tfm=train_tfm, seed=seed, device=device,
                                channels_last=channels_last)
        return vision_learner(dls, "tiny_resnet", metrics=[metric], config=config(precision))

    def train(learn: Learner, epochs: int) -> None:
        learn.fine_tune(max(epochs - 1, 1), base_lr=base_lr, lr_mult=lr_mult)  # one frozen epoch first
    return Lesson(name, metric_name(metric), True, build, train, data, "tiny_resnet")


def pets() -> Lesson:
    """Lesson 1: the 37 breeds, 80 px items, 64 px batches."""
    data = get_data("pets", "sample")
    files = get_image_files(data / "images")
    breed = label_from_regex(r"^(.+)_\d+\.jpg$")
    datasets = image_datasets(files, [breed(f) for f in files], valid_pct=0.2, seed=42, item_size=80, cache=True)
    return vision_lesson("pets", data, datasets, 32, 64, aug_transforms(size=64), error_rate, 1e-2, 10)


def planet() -> Lesson:
    """Lesson 3: multi-label tiles, 64 px items, 32 px batches, F2 at threshold 0.2."""
    data = get_data("planet", "sample")
    datasets = datasets_from_csv(data, "train_v2.csv", folder="train-jpg", suffix=".jpg",
                                 label_delim=" ", valid_pct=0.2, seed=42, item_size=64, cache=True)
    aug = aug_transforms(size=32, flip_vert=True, max_lighting=0.1, max_zoom=1.05, max_warp=0.0)
    return vision_lesson("planet", data, datasets, 64, 32, aug, partial(fbeta_multi, beta=2, thresh=0.2), 3e-2, 9)


def small_cnn(n_classes: int = 2) -> nn.Sequential:
    """Lesson 2's CNN: three stride-2 conv + BatchNorm + ReLU blocks (28 -> 14 -> 7 -> 4 px), then a linear layer."""
    widths = (1, 8, 16, 32)
    blocks = [layer for n_in, n_out in zip(widths, widths[1:])
              for layer in (nn.Conv2d(n_in, n_out, 3, stride=2, padding=1), nn.BatchNorm2d(n_out), nn.ReLU())]
    return nn.Sequential(*blocks, nn.Flatten(), nn.Linear(32 * 4 * 4, n_classes))


def mnist() -> Lesson:
    """Lesson 2: 3s against 7s, the small CNN on in-memory tensors."""
    path, classes = get_data("mnist_sample", "sample"), ["3", "7"]

    def split(name: str) -> TensorDataset:
        files = [f for c in classes for f in sorted((path / name / c).glob("*.png"))]
        x = torch.stack([load_image(f, mode="L") for f in files]).float().div_(255)
        return TensorDataset(x, torch.tensor([classes.index(f.parent.name) for f in files]))
    train_ds, valid_ds = split("train"), split("valid")

    def build(precision: str, channels_last: bool, seed: int, device: torch.device) -> Learner:
        dls = DataLoaders.from_datasets(train_ds, valid_ds, bs=32, seed=seed, device=device, classes=classes)
        return Learner(small_cnn(), dls, nn.CrossEntropyLoss(), metrics=[accuracy], activation="softmax",
                       config=config(precision))
    return Lesson("mnist", "accuracy", False, build, lambda learn, epochs: learn.fit_one_cycle(epochs, 1e-2), path)


ROSSMANN_CATS = ["Store", "DayOfWeek", "Promo", "StateHoliday", "SchoolHoliday", "StoreType", "Assortment",
                 "Year", "Month", "Week", "Day"]


def rossmann() -> Lesson:
    """Lesson 4's first model: train + store tables, date parts, log sales, the last test-length days held out."""
    path = get_data("rossmann", "sample")
    read = dict(dtype={"StateHoliday": str}, parse_dates=["Date"], low_memory=False)
    train, test = (pd.read_csv(path / f"{name}.csv", **read) for name in ("train", "test"))
    rows = add_datepart(join_df(train, pd.read_csv(path / "store.csv"), "Store"), "Date", drop=False)
    rows = rows[(rows.Open == 1) & (rows.Sales > 0)]
    cut = train.Date.max() - pd.Timedelta(days=test.Date.nunique() - 1)
    fit_rows, valid_rows = rows[rows.Date < cut], rows[rows.Date >= cut]
    proc = TabularProcessor(ROSSMANN_CATS, ["CompetitionDistance"]).fit(fit_rows)
    datasets = [proc.to_dataset(r, np.log(r.Sales)) for r in (fit_rows, valid_rows)]
    y_range = (0.0, float(np.log(1.2 * fit_rows.Sales.max())))

    def build(precision: str, channels_last: bool, seed: int, device: torch.device) -> Learner:
        dls = tabular_dataloaders(*datasets, 256, seed, device)
        return tabular_learner(dls, [200, 100], [0.001, 0.01], 0.04, y_range, metrics=[exp_rmspe],
                               config=config(precision, wd=0.2))
    return Lesson("rossmann", "exp_rmspe", False, build, lambda learn, epochs: learn.fit_one_cycle(epochs, 1e-2),
                  path)


@lru_cache(maxsize=1)
def imdb_texts() -> tuple[Vocab, list[Tensor], list[int], list[Tensor]]:
    """The IMDB sample's vocabulary, its labelled texts as ids, their labels, and every text (unsup too) as ids."""
    path = get_data("imdb", "sample")
    texts, labels = texts_from_folders(path / "train")
    unsup = [f.read_text(encoding="utf-8") for f in sorted((path / "unsup").glob("*.txt"))]
    tokens = tokenize_texts(texts + unsup, processes=1)
    vocab = Vocab.build(tokens, min_freq=2, max_vocab=60000)
    ids = [vocab.encode(t) for t in tokens]
    return vocab, ids[: len(texts)], labels, ids


def split_rows(n: int, valid_share: float) -> tuple[list[int], list[int]]:
    """(training rows, validation rows): a seeded shuffle of ``range(n)``, the first ``valid_share`` held out."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(42)).tolist()
    n_valid = int(n * valid_share)
    return order[n_valid:], order[:n_valid]


def lm_learner(precision: str, seed: int, device: torch.device) -> Learner:
    """Lesson 5's language model: the bundled AWD-LSTM matched to the sample's vocabulary, clipped at 0.25."""
    vocab, _, _, ids = imdb_texts()
    train_rows, valid_rows = split_rows(len(ids), 0.1)
    dls = lm_dataloaders([ids[i] for i in train_rows], [ids[i] for i in valid_rows], 32, 48, seed=seed, device=device)
    return language_model_learner(dls, get_weights("awd_lstm_small"), vocab.itos, drop_mult=0.3,
                                  config=config(precision, grad_clip=0.25))


def imdb_lm() -> Lesson:
    """Lesson 5: fine-tune the language model (three WeightDrop LSTMs) on the sample's texts, unfrozen."""
    imdb_texts()

    def build(precision: str, channels_last: bool, seed: int, device: torch.device) -> Learner:
        return lm_learner(precision, seed, device)
    return Lesson("imdb_lm", "accuracy", False, build, lambda learn, epochs: learn.fit_one_cycle(epochs, 1e-2),
                  get_data("imdb", "sample"), "awd_lstm_small")


# the lesson's sample recipe: (freeze_to, peak lr), every layer group at the same rate (its lr_ratio is 1)
CLASSIFIER_STAGES = ((-1, 2e-2), (-2, 1e-2), (-3, 5e-3), (0, 5e-3))


def imdb_classifier() -> Lesson:
    """Lesson 5: the sentiment classifier on the pretrained encoder, unfrozen gradually as the lesson's sample
    recipe (one epoch a stage, then at least its four unfrozen epochs: about 525 steps), one rate for every
    group, unclipped as fastai's. Cut to 300 steps (one unfrozen epoch) its validation accuracy, 0.61 +- 0.026
    over 12 CPU seeds, was too noisy to tell a trained model from an untrained one (0.51)."""
    vocab, docs, labels, _ = imdb_texts()
    encoder = lm_learner("fp32", 0, torch.device("cpu")).model.encoder.state_dict()
    rows = split_rows(len(docs), 0.2)
    train_ds, valid_ds = (TextClassDataset([docs[i] for i in r], [labels[i] for i in r], classes=["neg", "pos"])
                          for r in rows)

    def build(precision: str, channels_last: bool, seed: int, device: torch.device) -> Learner:
        dls = text_classifier_dataloaders(train_ds, valid_ds, vocab, 32, seed=seed, device=device)
        return text_classifier_learner(dls, encoder, drop_mult=0.3, config=config(precision))

    def train(learn: Learner, epochs: int) -> None:
        for stage, lr in CLASSIFIER_STAGES:
            learn.freeze_to(stage)
            learn.fit_one_cycle(max(epochs, 4) if stage == 0 else 1, lr)
    return Lesson("imdb_classifier", "accuracy", False, build, train, get_data("imdb", "sample"), "awd_lstm_small")


def collab() -> Lesson:
    """Lesson 6: the dot product with biases on the MovieLens sample's ratings (MSE)."""
    path = get_data("movielens_100k", "sample")
    ratings = pd.read_csv(path / "u.data", sep="\t", header=None, names=["user", "movie", "rating", "timestamp"])
    titles = pd.read_csv(path / "u.item", sep="|", encoding="latin-1", header=None, usecols=[0, 1],
                         names=["movie", "title"])
    datasets = collab_datasets(ratings.merge(titles), "user", "title", "rating", valid_pct=0.2, seed=42)

    def build(precision: str, channels_last: bool, seed: int, device: torch.device) -> Learner:
        dls = collab_dataloaders(*datasets, 256, seed=seed, device=device)
        return collab_learner(dls, 50, (0.0, 5.5), config=config(precision, wd=0.1))
    return Lesson("collab", "valid_loss", False, build, lambda learn, epochs: learn.fit_one_cycle(epochs, 5e-3), path)


LESSONS: dict[str, Callable[[], Lesson]] = {
    "pets": pets, "planet": planet, "mnist": mnist, "rossmann": rossmann,
    "imdb_lm": imdb_lm, "imdb_classifier": imdb_classifier, "collab": collab}
