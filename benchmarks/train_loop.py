"""How much does `Learner.fit` cost over a hand-written PyTorch loop?

Two cases, each trained by both loops on the same device, in one process, from
the same `DataLoaders.from_datasets` loaders, doing the same work per epoch
(AdamW steps over the training batches, then one pass over the validation set):

- resnet18 on synthetic 64 px uint8 images, turned into floats on the device
  (mixed precision and channels-last on CUDA, as an image task's prepare does);
- a tiny two-layer MLP on in-memory tensors, where each step is so cheap that
  the loop's own work per batch dominates.

Runs alternate (hand, learner, hand, learner, ...) so drift in the machine's
speed hits both alike, and the median of each is compared.

    python benchmarks/train_loop.py                 # CPU, or the GPU if there is one
    python benchmarks/train_loop.py --batches 40 --repeats 5 --batch-size 128

It prints items/s for each loop and, per case, the ratio learner / hand
(1.0 = no overhead; below 1 the Learner is slower).
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchvision
from torch import nn
from torch.utils.data import TensorDataset

from coursehelpers.config import TrainConfig, adamw
from coursehelpers.core import default_device, set_seed
from coursehelpers.dataloaders import Batch, DataLoaders, Prepare
from coursehelpers.learner import Learner


class ToFloatImages(Prepare):
    """uint8 images to floats in [0, 1] on the device, channels-last when asked."""

    def __init__(self, channels_last: bool):
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, batch: Batch, train: bool) -> Batch:
        x, *rest = batch
        return (x.float().div_(255).contiguous(memory_format=self.memory_format), *rest)


def synthetic_dls(x_train: torch.Tensor, x_valid: torch.Tensor, n_classes: int, batch_size: int,
                  device: torch.device, prepare: Prepare | None = None) -> DataLoaders:
    """Random targets for the given inputs, batched by the one rule every task uses."""
    g = torch.Generator().manual_seed(0)
    def with_targets(x: torch.Tensor) -> TensorDataset:
        return TensorDataset(x, torch.randint(0, n_classes, (len(x),), generator=g))
    return DataLoaders.from_datasets(with_targets(x_train), with_targets(x_valid), bs=batch_size,
                                     device=device, prepare=prepare)


def hand_loop_epoch(model: nn.Module, dls: DataLoaders, opt: torch.optim.Optimizer, amp: bool) -> None:
    """The loop a learner would write by hand over the same plain DataLoaders: nothing but the essentials."""
    loss_func, device, prepare = nn.CrossEntropyLoss(), dls.device, dls.prepare
    model.train()
    for xb, yb in dls.train_dl:
        xb, yb = prepare((xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)), True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model(xb)
        loss = loss_func(out.float(), yb)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad():
        for xb, yb in dls.valid_dl:
            xb, yb = prepare((xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)), False)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss_func(model(xb).float(), yb)
    if device.type == "cuda":
        torch.cuda.synchronize()


def compare(name: str, new_model: Callable[[], nn.Module], dls: DataLoaders, amp: bool, repeats: int) -> float:
    """Median epoch time of both loops on ``dls`` (interleaved); prints items/s and returns learner / hand."""
    hand_model = new_model()
    hand_opt = adamw(hand_model.parameters(), lr=1e-3)
    config = TrainConfig(precision="bf16" if amp else "fp32", log=False)
    learn = Learner(new_model(), dls, nn.CrossEntropyLoss(), config=config)

    def time_hand() -> float:
        start = time.perf_counter()
        hand_loop_epoch(hand_model, dls, hand_opt, amp)
        return time.perf_counter() - start

    def time_learner() -> float:
        start = time.perf_counter()
        learn.fit(1, lr=1e-3)
        if dls.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    time_hand(), time_learner()  # warm-up: allocator, cuDNN autotuning, first-touch costs
    hand, learner = [], []
    for _ in range(repeats):
        hand.append(time_hand())
        learner.append(time_learner())
    n_items = len(dls.train_ds)  # a whole number of batches: none is dropped
    hand_ips, learner_ips = n_items / statistics.median(hand), n_items / statistics.median(learner)
    print(f"{name}: {len(dls.train_dl)} batches/epoch, median of {repeats} epochs")
    print(f"  hand-written loop: {hand_ips:10.1f} items/s")
    print(f"  Learner.fit:       {learner_ips:10.1f} items/s")
    return learner_ips / hand_ips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=12, help="resnet18: training batches per epoch")
    parser.add_argument("--mlp-batches", type=int, default=400, help="tiny MLP: training batches per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    device = default_device()
    amp = channels_last = device.type == "cuda" and torch.cuda.is_bf16_supported()
    bs, g = args.batch_size, torch.Generator().manual_seed(0)
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} batch={bs} "
          f"mixed_precision={amp} channels_last={channels_last}")

    def resnet18() -> nn.Module:
        set_seed(0)
        model = torchvision.models.resnet18(num_classes=10).to(device)
        return model.to(memory_format=torch.channels_last) if channels_last else model

    def images(n: int) -> torch.Tensor:
        return torch.randint(0, 256, (n, 3, args.size, args.size), dtype=torch.uint8, generator=g)
    image_dls = synthetic_dls(images(args.batches * bs), images(bs), 10, bs, device, ToFloatImages(channels_last))
    image_ratio = compare(f"resnet18 {args.size}px", resnet18, image_dls, amp, args.repeats)

    def mlp() -> nn.Module:
        set_seed(0)
        return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2)).to(device)
    features = torch.randn(args.mlp_batches * bs + 4 * bs, 20, generator=g)
    mlp_dls = synthetic_dls(features[:-4 * bs], features[-4 * bs:], 2, bs, device)
    mlp_ratio = compare("tiny MLP 20-64-2", mlp, mlp_dls, amp, args.repeats)

    print(f"ratio learner/hand, resnet18: {image_ratio:.3f}")
    print(f"ratio learner/hand, tiny MLP: {mlp_ratio:.3f}")


if __name__ == "__main__":
    main()
