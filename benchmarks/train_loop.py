"""How much does `Learner.fit` cost over a hand-written PyTorch loop?

Trains the same resnet18 on the same synthetic 64 px images, on the same device,
in one process, with both loops doing the same work per epoch (AdamW steps over
the training batches, then one pass over a small validation set). Mixed
precision and channels_last are on for both where the Learner turns them on by
default (CUDA). Runs alternate (hand, learner, hand, learner, ...) so drift in
the machine's speed hits both alike, and the median of each is compared.

    python benchmarks/train_loop.py                 # CPU, or the GPU if there is one
    python benchmarks/train_loop.py --batches 40 --repeats 5 --batch-size 128

It prints images/s for each loop and the ratio learner / hand (1.0 = no overhead).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from coursehelpers.core import default_device, set_seed
from coursehelpers.learner import DataLoaders, Learner, adamw


def synthetic_loaders(n_train: int, n_valid: int, size: int, batch_size: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    def make(n):
        return TensorDataset(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
                             torch.randint(0, 10, (n,), generator=g))
    pin = device.type == "cuda"
    train = DataLoader(make(n_train), batch_size=batch_size, shuffle=True, pin_memory=pin, drop_last=True)
    valid = DataLoader(make(n_valid), batch_size=batch_size, pin_memory=pin)
    return train, valid


def new_model(device: torch.device, channels_last: bool) -> nn.Module:
    set_seed(0)
    model = torchvision.models.resnet18(num_classes=10).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def hand_loop_epoch(model, train, valid, opt, device, amp: bool, channels_last: bool) -> None:
    """The loop a learner would write by hand: nothing but the essentials."""
    loss_func = nn.CrossEntropyLoss()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.train()
    for xb, yb in train:
        xb = xb.to(device, non_blocking=True).float().div_(255).contiguous(memory_format=fmt)
        yb = yb.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model(xb)
        loss = loss_func(out.float(), yb)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    with torch.no_grad():
        for xb, yb in valid:
            xb = xb.to(device, non_blocking=True).float().div_(255).contiguous(memory_format=fmt)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss_func(model(xb).float(), yb.to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=12, help="training batches per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    device = default_device()
    on_cuda = device.type == "cuda"
    amp = channels_last = on_cuda and torch.cuda.is_bf16_supported()
    train, valid = synthetic_loaders(args.batches * args.batch_size, args.batch_size, args.size,
                                     args.batch_size, device)
    n_images = args.batches * args.batch_size
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} "
          f"resnet18 {args.size}px batch={args.batch_size} batches/epoch={args.batches} "
          f"mixed_precision={amp} channels_last={channels_last}")

    hand_model = new_model(device, channels_last)
    hand_opt = adamw(hand_model.parameters(), lr=1e-3)
    dls = DataLoaders(train, valid, device=device)
    learn = Learner(new_model(device, channels_last), dls, nn.CrossEntropyLoss(), progress=False,
                    log_epochs=False, mixed_precision=amp, channels_last=channels_last)

    def time_hand() -> float:
        start = time.perf_counter()
        hand_loop_epoch(hand_model, train, valid, hand_opt, device, amp, channels_last)
        return time.perf_counter() - start

    def time_learner() -> float:
        start = time.perf_counter()
        learn.fit(1, lr=1e-3)
        if on_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    time_hand(), time_learner()  # warm-up: allocator, cuDNN autotuning, first-touch costs
    hand, learner = [], []
    for _ in range(args.repeats):
        hand.append(time_hand())
        learner.append(time_learner())
    hand_ips, learner_ips = n_images / statistics.median(hand), n_images / statistics.median(learner)
    print(f"hand-written loop: {hand_ips:8.1f} images/s  (median of {args.repeats} epochs)")
    print(f"Learner.fit:       {learner_ips:8.1f} images/s  (median of {args.repeats} epochs)")
    print(f"ratio learner/hand: {learner_ips / hand_ips:.3f}")


if __name__ == "__main__":
    main()
