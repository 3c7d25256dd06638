"""The course on a GPU, checked in one run of a few minutes: training, speed, data path, memory.

A GPU is rarely at hand here, and then for minutes, so this script is ready for it. Each part
runs in its own try/except (an error is recorded in the table and the JSON, and the next part
runs) and the JSON is rewritten after each part, so a failure or a timeout loses nothing done:

- **weightdrop**: the AWD-LSTM's WeightDrop layer under cuDNN: that cuDNN's RNN kernel ran,
  gradients reach the dropped matrix, eval outputs match the CPU's, autocast runs, a loss falls;
- **lessons**: every lesson's model trained a few hundred steps on its sample through the
  package's API, in fp32, bf16 autocast and fp16 with loss scaling, channels-last on and off for
  the image models; the loss must fall (first vs last quarter of the batch losses) and the final
  validation metric must lie within the tolerance of the CPU reference (benchmarks/gpu_check_reference.json,
  made by this script with ``--write-reference`` from several seeds; see `PREDICTION_LEVEL`);
  peak GPU memory per run;
- **loop**: `Learner.fit` against a hand-written loop (benchmarks/train_loop.py), resnet34 at 224 px,
  batch 128, synthetic images already on the device; goal: ratio >= 0.97;
- **guard**: what the NaN check every 32 batches and its snapshot cost (faults.FitGuard): the same
  fits checking every 32 batches and only at the epoch's end, and one snapshot timed alone;
- **data_path**: JPEG files -> 460 px items -> augmented 224 px batches -> the same training, with
  PIL decoding in DataLoader workers and with torchvision.io.decode_jpeg on the device, against the
  model-only rate; goal: at least 70% of it;
- **fastai**: the same recipe in fastai (if it is importable), as ratios.

    PYTHONPATH=. python benchmarks/gpu_check.py --out build/gpu_check           # the GPU if there is one
    PYTHONPATH=. python benchmarks/gpu_check.py --out /tmp/gc --quick            # a smoke run
    python benchmarks/gpu_check.py --device cpu --parts lessons --seeds 0,1,2,3,4,5 --lessons imdb_lm \
        --write-reference benchmarks/gpu_check_reference.json --out /tmp/ref     # its CPU reference

On the CPU the same code runs at smaller sizes. Everything it writes goes under ``--out``:
gpu_check.json and gpu_check.txt (the printed table). See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import io
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, TensorDataset

import coursehelpers.learner as learner_module
from coursehelpers.augment import aug_transforms
from coursehelpers.config import TrainConfig
from coursehelpers.core import set_seed
from coursehelpers.data import get_weights
from coursehelpers.dataloaders import Batch, DataLoaders, Prepare
from coursehelpers.faults import FitGuard, Snapshot
from coursehelpers.images import image_datasets
from coursehelpers.learner import Learner
from coursehelpers.text.awdlstm import WeightDrop
from coursehelpers.vision import ImagePrepare, image_dataloaders, vision_model
from gpu_check_lessons import LESSONS, Lesson
from gpu_check_table import describe, format_case, table
from image_pipeline import alternate, make_jpegs
from train_loop import ToFloatImages, compare

REFERENCE = Path(__file__).with_name("gpu_check_reference.json")
# A GPU run's final metric must lie within the CPU reference's tolerance of its mean over n seeds: a 99.9%
# prediction interval for one more run, t(0.9995, n - 1) * sd * sqrt(1 + 1/n). Another device is like another
# seed (other kernels, rounding and dropout masks), so the seed-to-seed spread is the noise to allow for; with
# 27 runs compared, a correct GPU path fails one of them in about one whole check out of 40, while a run that
# trains wrongly (a chance-level metric) lies far outside it. The interval is computed when the reference is written.
PREDICTION_LEVEL = 0.999
LOOP_GOAL, DATA_GOAL = 0.97, 0.70
PARTS = ("environment", "weightdrop", "lessons", "loop", "guard", "data_path", "fastai")


@dataclass
class Settings:
    """What one run does; `settings` picks them from the device and ``--quick``."""

    device: torch.device
    quick: bool
    steps: int                      # per lesson model, about (whole epochs)
    seeds: tuple[int, ...]
    precisions: tuple[str, ...]     # the lessons' variants
    both_layouts: bool              # image lessons with channels-last on and off
    lessons: tuple[str, ...]
    lesson_budget: float            # seconds: no new lesson run starts after this
    budget: float                   # seconds: no new part starts after this
    arch: str = "resnet34"
    image_size: int = 224
    item_size: int = 460
    bs: int = 128
    batches: int = 32               # training batches per epoch (loop, data path, fastai)
    guard_batches: int = 64
    repeats: int = 3
    jpegs: int = 256                # distinct files; the training set repeats them
    workers: tuple[int, ...] = (8,)
    fastai: bool = True
    scratch: Path = field(default_factory=Path)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def precision(self) -> str:
        """The loop's, the data path's and the guard's: bf16 where the GPU has it (as "auto" picks), else fp32."""
        return "bf16" if self.cuda and torch.cuda.is_bf16_supported() else "fp32"


def settings(args: argparse.Namespace, scratch: Path) -> Settings:
    """The sizes for this device: the full check on CUDA; small, same code, on the CPU; smaller with --quick."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda, quick = device.type == "cuda", args.quick
    cores = os.cpu_count() or 1
    s = Settings(device, quick, steps=60 if quick else 300, seeds=(0,),
                 precisions=(("bf16", "fp16") if quick else ("fp32", "bf16", "fp16")) if cuda else ("fp32",),
                 both_layouts=cuda and not quick, lessons=tuple(LESSONS), lesson_budget=60 if quick else 170,
                 budget=150 if quick else 360, workers=tuple(sorted({min(8, cores - 1), cores - 1})) or (0,),
                 fastai=not args.no_fastai, scratch=scratch)
    if quick:
        s.batches, s.guard_batches, s.repeats, s.jpegs = 8, 40, 1, 64
    if not cuda:  # a CPU: small images and batches, fp32, no time limits
        s.image_size, s.item_size, s.bs, s.batches, s.guard_batches = 64, 80, 16, 4, 4
        s.jpegs, s.workers, s.lesson_budget, s.budget = 16, (min(2, cores),), math.inf, math.inf
        if quick:
            s.image_size, s.item_size, s.bs, s.batches, s.guard_batches, s.jpegs, s.workers = 32, 48, 8, 2, 2, 8, (1,)
            s.arch = "resnet18"
    s.steps = args.steps if args.steps is not None else s.steps
    s.seeds = tuple(int(x) for x in args.seeds.split(",")) if args.seeds else s.seeds
    s.lessons = tuple(args.lessons.split(",")) if args.lessons else s.lessons
    s.precisions = tuple(args.precisions.split(",")) if args.precisions else s.precisions
    s.precisions = ("fp32",) if args.write_reference else s.precisions
    if args.budget is not None:
        s.budget, s.lesson_budget = args.budget, args.budget * 0.48
    return s


# ---------------------------------------------------------------- small helpers
def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work (a timer must not stop before it is done)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_dls(n_train: int, n_classes: int, s: Settings, prepare: Prepare | None = None) -> DataLoaders:
    """Random uint8 images and targets ALREADY ON THE DEVICE, batched at ``s.bs`` (validation: one batch).

    Built from plain DataLoaders, not `DataLoaders.from_datasets`: that pins memory on CUDA, and
    tensors already on a GPU cannot be pinned.
    """
    g = torch.Generator().manual_seed(0)

    def tensors(n: int) -> TensorDataset:
        x = torch.randint(0, 256, (n, 3, s.image_size, s.image_size), dtype=torch.uint8, generator=g)
        return TensorDataset(x.to(s.device), torch.randint(0, n_classes, (n,), generator=g).to(s.device))
    train, valid = tensors(n_train), tensors(s.bs)
    train_dl = DataLoader(train, sampler=BatchSampler(RandomSampler(train, generator=g), s.bs, True), batch_size=None)
    valid_dl = DataLoader(valid, sampler=BatchSampler(SequentialSampler(valid), 2 * s.bs, False), batch_size=None)
    dls = DataLoaders(train_dl, valid_dl, device=s.device, prepare=prepare,
                      classes=[str(i) for i in range(n_classes)])
    dls.bs = s.bs
    return dls


def new_model(s: Settings, n_out: int = 2) -> nn.Module:
    """The course's ``vision_model(arch)`` (a ResNet body and the fastai-style head), untrained, on the device."""
    set_seed(0)
    return vision_model(s.arch, n_out, channels_last=s.cuda).to(s.device)


def learner_on(dls: DataLoaders, s: Settings) -> Learner:
    """A plain classification Learner of `new_model` on ``dls``, in the check's precision."""
    config = TrainConfig(precision=s.precision, log=False)
    return Learner(new_model(s, dls.c), dls, nn.CrossEntropyLoss(), config=config)


def learner_of(make_dls: Callable[[], DataLoaders], s: Settings) -> Learner:
    return learner_on(make_dls(), s)


def fit_images(learn: Learner, n_images: int) -> int:
    """One epoch of ``learn.fit`` (its validation pass included), finished on the device; returns the images."""
    learn.fit(1)
    synchronize(learn.device)
    return n_images


def data_images(dls: DataLoaders) -> int:
    """One pass over the prepared training batches, finished on the device; returns the images seen."""
    n = sum(len(batch[-1]) for batch in dls.train)
    synchronize(dls.device)
    return n


# ---------------------------------------------------------------- environment
def git_commit() -> str | None:
    """The checked-out commit, or None outside a git checkout (the device machine gets a copy of the tree)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def part_environment(s: Settings) -> dict:
    """Versions, the device and the settings: what a reader needs to compare two runs."""
    env = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
           "device": str(s.device), "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
           "commit": git_commit(), "COURSE_MAX_BATCHES": os.environ.get("COURSE_MAX_BATCHES"),
           "settings": {k: None if v == math.inf else v  # no time limit: JSON has no infinity
                        for k, v in asdict(s).items() if k not in ("device", "scratch")}}
    if s.cuda:
        props = torch.cuda.get_device_properties(s.device)
        env.update(gpu=props.name, memory_gib=round(props.total_memory / 2**30, 1),
                   capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), bf16=torch.cuda.is_bf16_supported(),
                   cudnn_benchmark=torch.backends.cudnn.benchmark, tf32_conv=torch.backends.cudnn.allow_tf32,
                   tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    return env


# ---------------------------------------------------------------- weightdrop
def part_weightdrop(s: Settings) -> dict:
    """WeightDrop (text/awdlstm.py) on this device: kernel, gradients, eval outputs vs the CPU, autocast, training."""
    torch.manual_seed(0)
    rnn, x = WeightDrop(16, 32, weight_p=0.5).to(s.device), torch.randn(8, 12, 16, device=s.device)
    # the profiler lists the operators that ran: cuDNN's RNN is aten::_cudnn_rnn (no use on a CPU)
    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if s.cuda else None
    with profiler or contextlib.nullcontext():
        out, _ = rnn.train()(x)
        out.pow(2).mean().backward()
    grad = rnn.weight_hh_l0_raw.grad
    result = {"cudnn_rnn_ran": any("cudnn_rnn" in e.key for e in profiler.key_averages()) if profiler else None,
              "grad_norm": float(grad.norm()), "grad_finite": bool(torch.isfinite(grad).all())}
    on_cpu = WeightDrop(16, 32, weight_p=0.5)
    on_cpu.load_state_dict(rnn.state_dict())  # not deepcopy: after a training call the LSTM holds a non-leaf weight
    with torch.no_grad():
        result["eval_max_abs_diff_vs_cpu"] = float((rnn.eval()(x)[0].cpu() - on_cpu.eval()(x.cpu())[0]).abs().max())
    for dtype in (torch.bfloat16, torch.float16):
        try:
            with torch.autocast(s.device.type, dtype=dtype):
                out, _ = rnn.train()(x)
            out.float().pow(2).mean().backward()
            result[f"autocast_{str(dtype)[6:]}"] = "ran"
        except Exception as e:  # recorded: autocast of an LSTM with a passed-in weight may be unsupported
            result[f"autocast_{str(dtype)[6:]}"] = describe(e)
    result.update(weightdrop_training(s))
    return result


def weightdrop_training(s: Settings) -> dict:
    """A WeightDrop LSTM and a linear readout learn the running mean of their input (dropped weights every step)."""
    torch.manual_seed(0)
    rnn, readout = WeightDrop(4, 32, weight_p=0.2).to(s.device), nn.Linear(32, 1).to(s.device)
    opt = torch.optim.Adam([*rnn.parameters(), *readout.parameters()], lr=1e-2)
    losses = []
    for _ in range(30 if s.quick else 150):
        x = torch.randn(32, 20, 4, device=s.device)
        target = x[..., :1].cumsum(1) / torch.arange(1, 21, device=s.device).view(1, -1, 1)
        loss = nn.functional.mse_loss(readout(rnn.train()(x)[0]), target)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.detach())
    return quarters([float(v) for v in torch.stack(losses).cpu()])


def quarters(losses: list[float]) -> dict:
    """Mean of the first and of the last quarter of the losses, and whether it fell."""
    q = max(1, len(losses) // 4)
    first, last = statistics.fmean(losses[:q]), statistics.fmean(losses[-q:])
    return {"steps": len(losses), "loss_first_quarter": first, "loss_last_quarter": last, "loss_falls": last < first}


# ---------------------------------------------------------------- lessons
def train_case(lesson: Lesson, precision: str, channels_last: bool, seed: int, s: Settings) -> dict:
    """One lesson model trained about ``s.steps`` steps: losses, final metric, time and peak GPU memory."""
    set_seed(seed)
    if s.cuda:
        torch.cuda.reset_peak_memory_stats(s.device)
    start = time.perf_counter()
    learn = lesson.build(precision, channels_last, seed, s.device)
    untrained = learn.validate()[lesson.metric]
    epochs = max(1, round(s.steps / len(learn.dls.train)))
    lesson.train(learn, epochs)
    synchronize(s.device)
    result = {**quarters(learn.batch_losses), "epochs": epochs, "metric": lesson.metric, "untrained_value": untrained,
              "value": float(learn.history[lesson.metric].iloc[-1]), "seconds": time.perf_counter() - start,
              "inputs": inputs_fingerprint(lesson)}
    if s.cuda:
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated(s.device) / 2**20
    return result


def versus_reference(case: dict, reference: dict) -> dict:
    """How far the case's metric lies from the CPU reference's mean, for a reference that ran as many steps."""
    ref = reference.get("lessons", {}).get(case["lesson"])
    if "value" not in case:
        return {}
    if ref is None:
        return {"reference": "no CPU reference for this lesson"}
    if ref.get("steps") != case["steps"]:
        return {"reference": f"the CPU reference ran {ref.get('steps')} steps, this run {case['steps']}"}
    if ref.get("inputs") != case["inputs"] or not {"mean", "sd", "tolerance"} <= set(ref):
        return {"reference": "the sample or weights differ from the reference's: write the reference again"}
    return {"cpu_mean": ref["mean"], "cpu_sd": ref["sd"], "tolerance": ref["tolerance"],
            "within_tolerance": abs(case["value"] - ref["mean"]) <= ref["tolerance"]}


def variants(s: Settings) -> list[tuple[str, bool]]:
    """(precision, channels_last) in the order they run: every precision channels-last (the default) first,
    then NCHW, so a spent time budget cuts the runs that matter least."""
    return [(precision, layout) for layout in ((True, False) if s.both_layouts else (True,))
            for precision in s.precisions]


def run_case(lesson: Lesson, precision: str, channels_last: bool, seed: int, s: Settings, deadline: float,
             reference: dict) -> dict:
    """One run, its failure, or its skip (past the deadline), compared with the reference and printed."""
    case = {"lesson": lesson.name, "precision": precision, "seed": seed,
            "channels_last": channels_last if lesson.channels_last_applies else None}
    if time.perf_counter() > deadline:
        return {**case, "skipped": "the lessons' time budget was spent"}
    try:
        case.update(train_case(lesson, precision, channels_last, seed, s))
    except Exception as e:
        case["error"] = describe(e)
    case.update(versus_reference(case, reference))
    print("  " + format_case(case), flush=True)
    return case


def part_lessons(s: Settings, reference: dict, progress: Callable[[dict], None]) -> dict:
    """Every lesson in every variant and seed; the section is saved after each run."""
    deadline, lessons = time.perf_counter() + s.lesson_budget, []
    section = {"steps": s.steps, "cases": [],
               "tolerance": f"a {PREDICTION_LEVEL:.1%} prediction interval for one more run, from the CPU seeds"}
    for name in s.lessons:
        try:
            lessons.append(LESSONS[name]())
        except Exception as e:
            section["cases"].append({"lesson": name, "error": f"preparing the sample: {describe(e)}"})
    for precision, channels_last in variants(s):
        for lesson in [lesson for lesson in lessons if channels_last or lesson.channels_last_applies]:
            for seed in s.seeds:
                section["cases"].append(run_case(lesson, precision, channels_last, seed, s, deadline, reference))
                progress(section)
    return {**section, **summary(section["cases"])}


def summary(cases: list[dict]) -> dict:
    """How many runs trained, failed, were skipped; in how many the loss fell and the metric was within tolerance."""
    trained = [c for c in cases if "value" in c]
    compared = [c for c in trained if "within_tolerance" in c]
    # (not "error" or "skipped": those keys mean the whole part failed or was skipped)
    return {"runs": len(cases), "runs_trained": len(trained), "runs_failed": sum("error" in c for c in cases),
            "runs_skipped": sum("skipped" in c for c in cases), "losses_fall": sum(c["loss_falls"] for c in trained),
            "compared": len(compared), "within_tolerance": sum(c["within_tolerance"] for c in compared)}


def reference_from(section: dict, previous: dict | None = None) -> dict:
    """The CPU reference for later GPU runs: per lesson, its steps, sample, and the metric's mean, sd and tolerance
    (the `PREDICTION_LEVEL` prediction interval for one more run) over the seeds, and whether that tolerance
    tells a trained model from an untrained one. Lessons this run did not train are kept from ``previous``."""
    from scipy.stats import t  # scikit-learn's dependency; needed only to write the reference

    lessons = dict((previous or {}).get("lessons", {}))
    for name in dict.fromkeys(c["lesson"] for c in section["cases"]):
        runs = [c for c in section["cases"] if c["lesson"] == name and "value" in c]
        if len(runs) < 2:
            raise ValueError(f"the reference needs two or more seeds that ran for {name}, got {len(runs)}")
        values, n = [c["value"] for c in runs], len(runs)
        mean, sd = statistics.fmean(values), statistics.stdev(values)
        tolerance = float(t.ppf(0.5 + PREDICTION_LEVEL / 2, n - 1)) * sd * math.sqrt(1 + 1 / n)
        untrained = statistics.fmean(c["untrained_value"] for c in runs)
        lessons[name] = {"metric": runs[0]["metric"], "steps": runs[0]["steps"], "inputs": runs[0]["inputs"],
                         "seeds": [c["seed"] for c in runs], "values": values, "mean": mean, "sd": sd,
                         "tolerance": tolerance, "untrained": untrained,
                         "tells_untrained_apart": abs(mean - untrained) > tolerance,
                         "torch": torch.__version__, "commit": git_commit()}
    return {"made_by": "benchmarks/gpu_check.py --write-reference", "device": "cpu",
            "prediction_level": PREDICTION_LEVEL, "lessons": lessons}


def inputs_fingerprint(lesson: Lesson) -> str:
    """A digest of what the lesson's run starts from: the sample's file list and sizes (from its marker) and the
    bytes of its pretrained weights, so a reference made from other inputs is noticed."""
    marker = json.loads((lesson.data.parent / f".{lesson.data.name}.complete").read_text())
    digest = hashlib.sha256(json.dumps(marker["files"], sort_keys=True).encode())
    if lesson.weights is not None:
        weights = get_weights(lesson.weights)
        for file in sorted(weights.rglob("*")) if weights.is_dir() else [weights]:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- loop and guard
def printed_rate(text: str, label: str) -> float:
    """The number after ``label`` in what train_loop.compare printed (it returns only the ratio)."""
    found = re.search(re.escape(label) + r"\s*([\d.]+)", text)
    if found is None:
        raise ValueError(f"train_loop.compare printed no {label!r} with a rate: update part_loop. It printed: {text!r}")
    return float(found.group(1))


def part_loop(s: Settings) -> dict:
    """train_loop.compare (hand loop vs Learner.fit, interleaved, medians) on images already on the device."""
    dls = device_dls(s.batches * s.bs, 10, s, ToFloatImages(s.cuda))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ratio = compare(f"{s.arch} {s.image_size}px bs {s.bs}", lambda: new_model(s, 10), dls, s.precision == "bf16",
                        s.repeats)
    text = printed.getvalue()
    rates = [printed_rate(text, label) for label in ("hand-written loop:", "Learner.fit:")]
    return {"arch": s.arch, "image_size": s.image_size, "bs": s.bs, "batches": s.batches, "precision": s.precision,
            "hand_images_per_s": rates[0], "learner_images_per_s": rates[1], "ratio": ratio, "goal": LOOP_GOAL,
            "met": ratio >= LOOP_GOAL}


def fit_checking_every(learn: Learner, n_images: int, every: int) -> int:
    """`fit_images` with the Learner's FitGuard checking every ``every`` batches (the loop looks it up per fit)."""
    original = learner_module.FitGuard
    learner_module.FitGuard = partial(original, every=every)
    try:
        return fit_images(learn, n_images)
    finally:
        learner_module.FitGuard = original


def part_guard(s: Settings) -> dict:
    """The same fits with the NaN check every 32 batches and only at the epoch's end; one snapshot timed alone."""
    every = inspect.signature(FitGuard).parameters["every"].default
    learn = learner_on(device_dls(s.guard_batches * s.bs, 10, s, ToFloatImages(s.cuda)), s)
    n = s.guard_batches * s.bs
    names = (f"check every {every} batches", "check at the epoch's end only")
    per_image = alternate({names[0]: partial(fit_checking_every, learn, n, every),
                           names[1]: partial(fit_checking_every, learn, n, 10**9)}, s.repeats)
    snapshot = Snapshot(learn.model, learn.opt)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        snapshot.take()
        synchronize(s.device)
        times.append(time.perf_counter() - start)
    extra_checks = max(0, (s.guard_batches - 1) // every)
    cost = per_image[names[0]] / per_image[names[1]] - 1
    return {"applies": s.cuda, "batches": s.guard_batches, "extra_checks_per_epoch": extra_checks,
            "images_per_s": {k: 1 / v for k, v in per_image.items()}, "cost": cost,
            "ms_per_extra_check": cost * per_image[names[1]] * n * 1e3 / extra_checks if extra_checks else None,
            "snapshot_ms": statistics.median(times) * 1e3}


# ---------------------------------------------------------------- the data path
def jpeg_items(s: Settings) -> tuple[list[Path], list[str], list[bool]]:
    """``s.jpegs`` drawn JPEGs (made once), repeated to ``s.batches`` training batches and one validation batch."""
    folder = s.scratch / "jpegs"
    files = sorted(folder.glob("*.jpg")) if folder.is_dir() else make_jpegs(folder, s.jpegs)
    n_train = s.batches * s.bs
    items = [files[i % len(files)] for i in range(n_train + s.bs)]
    return items, [f.name[0] for f in items], [False] * n_train + [True] * s.bs


def pil_dls(s: Settings, workers: int) -> DataLoaders:
    """Lesson 1's full recipe: PIL decodes and presizes each JPEG in a worker; the device augments the batch."""
    files, labels, valid = jpeg_items(s)
    datasets = image_datasets(files, labels, valid=valid, item_size=s.item_size)
    return image_dataloaders(*datasets, bs=s.bs, size=s.image_size, train_tfm=aug_transforms(size=s.image_size),
                             device=s.device, num_workers=workers, channels_last=s.cuda)


class JpegBytes(Dataset):
    """An image dataset's files as undecoded bytes (uint8 tensors), with its targets: decoding waits for the device."""

    def __init__(self, ds: Dataset):
        self.files, self.targets = ds.files, ds.targets

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torchvision.io.read_file(str(self.files[i])), self.targets[i]


def bytes_collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """A batch of files of different lengths: their bytes as a list, their targets stacked."""
    return [data for data, _ in items], torch.stack([target for _, target in items])


class DecodeOnDevice(Prepare):
    """JPEG bytes decoded where the batch goes (nvJPEG on a GPU), each centre square resized to ``item_size``
    (as `image_io.presize` does on the CPU), then the image task's own prepare (augment, normalise)."""

    def __init__(self, item_size: int, device: torch.device, then: ImagePrepare):
        self.item_size, self.device, self.then = item_size, device, then

    def presize(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        side = min(h, w)
        square = image[:, (h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        out = nn.functional.interpolate(square[None].float(), size=(self.item_size, self.item_size), mode="bilinear",
                                        antialias=side > self.item_size, align_corners=False)
        return out[0].round_().clamp_(0, 255).to(torch.uint8)

    def __call__(self, batch: Batch, train: bool) -> Batch:
        data, *rest = batch
        images = torchvision.io.decode_jpeg(data, device=self.device)
        return self.then((torch.stack([self.presize(image) for image in images]), *rest), train)


def decode_dls(s: Settings) -> DataLoaders:
    """The same items, read as bytes by the loader and decoded, presized and augmented on the device."""
    files, labels, valid = jpeg_items(s)
    train_ds, valid_ds = image_datasets(files, labels, valid=valid, item_size=s.item_size)
    then = ImagePrepare(s.image_size, aug_transforms(size=s.image_size), channels_last=s.cuda, item_size=s.item_size)
    return DataLoaders.from_datasets(JpegBytes(train_ds), JpegBytes(valid_ds), s.bs, device=s.device,
                                     prepare=DecodeOnDevice(s.item_size, s.device, then), classes=train_ds.classes,
                                     collate_fn=bytes_collate)


def attempt(makers: dict[str, Callable[[], object]]) -> tuple[dict[str, object], dict[str, str]]:
    """Each maker's result, or its error: one path that fails must not lose the others."""
    done, errors = {}, {}
    for name, make in makers.items():
        try:
            done[name] = make()
        except Exception as e:
            errors[name] = describe(e)
    return done, errors


def part_data_path(s: Settings) -> dict:
    """Training images/s through each data path and for images already on the device; the data alone too."""
    model_only, n = "model only (images on the device)", s.batches * s.bs
    makers = {model_only: lambda: device_dls(n, 2, s, ToFloatImages(s.cuda)),
              **{f"PIL in {w} workers": partial(pil_dls, s, w) for w in s.workers},
              "decode_jpeg on the device": partial(decode_dls, s)}
    learners, errors = attempt({name: partial(learner_of, make, s) for name, make in makers.items()})
    warmed, failed = attempt({name: partial(fit_images, learn, n) for name, learn in learners.items()})
    errors.update(failed)
    if model_only in errors:
        raise RuntimeError(f"the model-only run failed, so there is nothing to compare with: {errors[model_only]}")
    train = alternate({name: partial(fit_images, learners[name], n) for name in warmed}, s.repeats)
    data = alternate({name: partial(data_images, learners[name].dls) for name in warmed if name != model_only},
                     s.repeats)
    rate = 1 / train[model_only]
    paths = {name: {"train_images_per_s": 1 / train[name], "train_vs_model_only": 1 / train[name] / rate,
                    "data_images_per_s": 1 / data[name], "data_vs_model_only": 1 / data[name] / rate}
             for name in data}
    paths.update({name: {"error": error} for name, error in errors.items()})
    best = max([p["train_vs_model_only"] for p in paths.values() if "error" not in p], default=0.0)
    return {"image_size": s.image_size, "item_size": s.item_size, "bs": s.bs, "images": n, "distinct_jpegs": s.jpegs,
            "model_only_images_per_s": rate, "paths": paths, "goal": DATA_GOAL, "best": best,
            "met": best >= DATA_GOAL}


# ---------------------------------------------------------------- fastai
def fastai_pipeline(s: Settings, workers: int) -> tuple[object, object]:
    """fastai's DataLoaders and Learner for the same recipe: Resize(item_size) items, aug_transforms(size), ImageNet
    normalisation, an untrained ResNet with fastai's head, bf16 autocast and channels-last on a GPU."""
    from fastai.vision import all as fv

    files, labels, valid = jpeg_items(s)
    block = fv.DataBlock(blocks=(fv.ImageBlock, fv.CategoryBlock), get_items=lambda _: files,
                         get_y=lambda f: f.name[0], splitter=fv.IndexSplitter([i for i, v in enumerate(valid) if v]),
                         item_tfms=fv.Resize(s.item_size),
                         batch_tfms=[*fv.aug_transforms(size=s.image_size),
                                     fv.Normalize.from_stats(*fv.imagenet_stats)])
    dls = block.dataloaders(s.scratch, bs=s.bs, num_workers=workers, device=s.device)
    learn = fv.vision_learner(dls, getattr(fv, s.arch), pretrained=False)
    if s.cuda:
        learn.to_channelslast(amp_mode=fv.AMPMode.BF16 if s.precision == "bf16" else fv.AMPMode.FP16)
    return dls, learn


def fastai_fit(learn: object, n_images: int) -> int:
    """`fit_images` for a fastai Learner: one epoch without its bar and log, finished on the device."""
    with learn.no_bar(), learn.no_logging():
        learn.fit(1)
    synchronize(learn.dls.device)
    return n_images


def fastai_data(dls: object) -> int:
    """`data_images` for fastai's DataLoaders."""
    n = sum(len(xb) for xb, _ in dls.train)
    synchronize(dls.device)
    return n


def part_fastai(s: Settings) -> dict:
    """Ours against fastai's, same files, workers, sizes and model: training and data-alone images/s, as ratios."""
    if not s.fastai:
        return {"skipped": "--no-fastai was given"}
    try:
        import fastai
    except ImportError as e:
        return {"skipped": f"fastai is not importable ({e}): install fastai==2.8.12 beside the course to measure it"}
    warnings.filterwarnings("ignore", category=FutureWarning)  # fastai's imports warn about torch.jit
    workers, n = s.workers[0], s.batches * s.bs
    ours = learner_on(pil_dls(s, workers), s)
    their_dls, theirs = fastai_pipeline(s, workers)
    train = alternate({"coursehelpers": partial(fit_images, ours, n), "fastai": partial(fastai_fit, theirs, n)},
                      s.repeats)
    data = alternate({"coursehelpers": partial(data_images, ours.dls), "fastai": partial(fastai_data, their_dls)},
                     s.repeats)
    return {"fastai": fastai.__version__, "workers": workers, "images": n,
            "train_images_per_s": {k: 1 / v for k, v in train.items()},
            "data_images_per_s": {k: 1 / v for k, v in data.items()},
            "train_ratio": train["fastai"] / train["coursehelpers"],
            "data_ratio": data["fastai"] / data["coursehelpers"]}


# ---------------------------------------------------------------- running
def write_atomically(path: Path, text: str) -> None:
    """Write beside ``path`` then rename: a reader (or a timeout) never finds half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def save(report: dict, out: Path) -> None:
    """The report so far as gpu_check.json and its table as gpu_check.txt, under ``out``."""
    write_atomically(out / "gpu_check.json", json.dumps(report, indent=1, default=str))
    write_atomically(out / "gpu_check.txt", table(report))


def run_part(name: str, fn: Callable[[], dict], report: dict, out: Path, started: float, budget: float) -> None:
    """One part: its result, or its error and traceback, in the report; then the JSON saved and its block printed."""
    start = time.perf_counter()
    if start - started > budget:
        report[name] = {"skipped": f"the run had used its budget of {budget:.0f} s"}
    else:
        try:
            report[name] = fn()
        except Exception as e:
            report[name] = {"error": describe(e), "traceback": traceback.format_exc(limit=8)}
        report[name]["seconds"] = time.perf_counter() - start
    save(report, out)
    lines = table({name: report[name]}).splitlines()
    print("\n".join(lines[:1] + lines[-1:] if name == "lessons" else lines), flush=True)  # its runs were printed


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and gpu_check.txt")
    parser.add_argument("--device", help="cuda or cpu (default: cuda if there is one)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer steps, variants and repeats")
    parser.add_argument("--steps", type=int, help="steps per lesson model, about (default 300; --quick 60)")
    parser.add_argument("--seeds", help="comma-separated seeds for the lessons (default 0)")
    parser.add_argument("--lessons", help=f"comma-separated subset of {','.join(LESSONS)}")
    parser.add_argument("--parts", help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--precisions", help="the lessons' precisions, comma-separated (a GPU: fp32,bf16,fp16)")
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="the CPU reference to compare with")
    parser.add_argument("--write-reference", type=Path, help="write the lessons' CPU reference here (several seeds)")
    parser.add_argument("--budget", type=float, help="seconds after which no new part starts (default: 360 on a GPU, "
                        "150 with --quick); the lessons stop starting runs after about half of it")
    parser.add_argument("--no-fastai", action="store_true", help="skip the fastai part")
    return parser


def load_reference(path: Path) -> tuple[dict, str]:
    """The CPU reference and a note on it; an unreadable one is reported and the check runs on without it."""
    try:
        return json.loads(path.read_text()), str(path)
    except (OSError, ValueError) as e:
        return {}, f"not used: {path} could not be read ({describe(e)}); write one with --write-reference"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    reference, reference_note = load_reference(args.reference)
    with tempfile.TemporaryDirectory() as scratch:
        s = settings(args, Path(scratch))
        unknown = (set(s.lessons) - set(LESSONS) | set((args.parts or "").split(",")) - set(PARTS) - {""}
                   | set(s.precisions) - {"auto", "fp32", "bf16", "fp16"})
        if unknown:
            parser.error(f"unknown lessons, parts or precisions: {sorted(unknown)}; the lessons are {list(LESSONS)}, "
                         f"the parts {list(PARTS)}, the precisions auto, fp32, bf16, fp16")
        if s.cuda and not torch.cuda.is_available():
            parser.error("--device cuda: PyTorch sees no CUDA device here; leave --device out to use the CPU")
        parts = {"environment": lambda: {**part_environment(s), "reference": reference_note},
                 "weightdrop": partial(part_weightdrop, s),
                 "lessons": partial(part_lessons, s, reference,
                                    lambda section: save({**report, "lessons": section}, args.out)),
                 "loop": partial(part_loop, s), "guard": partial(part_guard, s),
                 "data_path": partial(part_data_path, s), "fastai": partial(part_fastai, s)}
        report, started = {}, time.perf_counter()
        for name in dict.fromkeys(["environment", *(args.parts.split(",") if args.parts else PARTS[1:])]):
            run_part(name, parts[name], report, args.out, started, s.budget)
    if args.write_reference and "cases" in report.get("lessons", {}):
        previous = load_reference(args.write_reference)[0]  # lessons not run this time are kept
        write_atomically(args.write_reference, json.dumps(reference_from(report["lessons"], previous), indent=1) + "\n")
        print(f"wrote the CPU reference {args.write_reference}")
    print(f"\n{table(report)}wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.txt'} "
          f"in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
