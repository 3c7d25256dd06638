"""The image pipeline, JPEG files -> presized items -> augmented batches, against its previous version and fastai's.

What a lesson's training loader does with no workers: decode each JPEG, presize it
to a 460 px square item, collate a batch, and augment it to 224 px on the device
(flip, rotate, zoom, warp, lighting) and normalise it, on the CPU. Three columns,
all in this one process, on the same files:

- **now**: `coursehelpers` as it is in this working tree;
- **previous**: `coursehelpers` at ``--ref`` (default `REFERENCE_REV`, the commit
  before the pipeline was sped up), taken with ``git archive`` into a temporary
  folder and imported as ``coursehelpers_ref`` (skipped, with the reason, outside
  a git checkout);
- **fastai 2.8.12**, the same recipe (``Resize(460)`` items, ``aug_transforms(size=224)``
  and ImageNet normalisation), when it is installed beside the course for the
  measurement (``pip install fastai==2.8.12``; it is not a dependency of the course),
  else skipped with the reason printed.

The benchmark JPEGs are drawn here (gradients, shapes and noise at 500x375 and
similar sizes, about 35 KB each, like the Oxford-IIIT Pet photos). Passes over the
training loader alternate between the pipelines so drift in the machine's speed hits
all alike; the median time per image is compared. It also prints where the time of
one batch goes (median ms per image of loading items, collating, preparing on the
device) for now and previous, and the time to load one 12-megapixel phone photo.

    OMP_NUM_THREADS=1 python benchmarks/image_pipeline.py
    python benchmarks/image_pipeline.py --images 256 --repeats 7 --ref <commit>
"""
from __future__ import annotations

import argparse
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch.utils.data import default_collate

import coursehelpers

REFERENCE_REV = "ddf409a4786fb1ca340658d6838f25450289ed71"  # the package before the CPU pipeline work (issue 16)
CPU = torch.device("cpu")


def make_jpegs(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` photo-like JPEGs (smooth gradients, filled shapes, sensor-like noise) of pet-photo sizes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        w, h = [(500, 375), (375, 500), (500, 333), (480, 360)][i % 4]
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], -1)
        img = Image.fromarray(np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(12):
            x0, y0, dx, dy = rng.integers(0, w), rng.integers(0, h), *rng.integers(20, 200, 2)
            draw.ellipse((x0, y0, x0 + dx, y0 + dy), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        files.append(folder / f"{'ab'[i % 2]}_{i}.jpg")
        img.filter(ImageFilter.GaussianBlur(0.8)).save(files[-1], quality=90)
    return files


def previous_package(rev: str, dest: Path) -> ModuleType | str:
    """`coursehelpers` at ``rev`` imported as ``coursehelpers_ref`` (or why it could not be)."""
    repo = Path(coursehelpers.__file__).resolve().parent.parent
    try:
        archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "coursehelpers"], capture_output=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        return f"git archive {rev} failed ({getattr(e, 'stderr', b'') or e!s})"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(dest)
    (dest / "coursehelpers").rename(dest / "coursehelpers_ref")
    for py in (dest / "coursehelpers_ref").rglob("*.py"):  # its own imports must find the old modules
        py.write_text(re.sub(r"\bcoursehelpers\b", "coursehelpers_ref", py.read_text()))
    sys.path.insert(0, str(dest))
    return importlib.import_module("coursehelpers_ref")


def course_pipeline(pkg: ModuleType, files: list[Path], args: argparse.Namespace) -> tuple[Callable[[], int], object]:
    """One pass over the training batches of `pkg`'s pipeline (returns the images seen), and its DataLoaders."""
    images, augment, vision = (importlib.import_module(f"{pkg.__name__}.{m}") for m in ("images", "augment", "vision"))
    train_ds, valid_ds = images.image_datasets(files, [f.name[0] for f in files], valid_pct=0.2,
                                               item_size=args.item_size)
    dls = vision.image_dataloaders(train_ds, valid_ds, bs=args.bs, size=args.size, device=CPU,
                                   train_tfm=augment.aug_transforms(size=args.size))
    return lambda: sum(len(batch[0]) for batch in dls.train), dls


def fastai_pipeline(files: list[Path], args: argparse.Namespace) -> Callable[[], int] | str:
    """fastai's presizing recipe over the same files (or why it cannot run here)."""
    try:
        import fastai
        from fastai.vision.all import (CategoryBlock, DataBlock, ImageBlock, Normalize, RandomSplitter, Resize,
                                       aug_transforms, imagenet_stats)
    except ImportError as e:
        return f"fastai is not installed ({e}); pip install fastai==2.8.12 beside the course to measure it"
    if fastai.__version__ != "2.8.12":
        print(f"note: fastai {fastai.__version__} is installed; the issue's figures are for 2.8.12")
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=lambda _: files, get_y=lambda f: f.name[0],
                      splitter=RandomSplitter(0.2, seed=0), item_tfms=Resize(args.item_size),
                      batch_tfms=[*aug_transforms(size=args.size), Normalize.from_stats(*imagenet_stats)])
    dls = block.dataloaders(files[0].parent, bs=args.bs, num_workers=0, device=CPU)
    return lambda: sum(len(xb) for xb, _ in dls.train)


def alternate(passes: dict[str, Callable[[], int]], repeats: int) -> dict[str, float]:
    """Median seconds per image of each pass, the passes taken in turn ``repeats`` times (after a warm-up)."""
    for run in passes.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(repeats):
        for name, run in passes.items():
            start = time.perf_counter()
            n = run()
            times[name].append((time.perf_counter() - start) / n)
    return {name: statistics.median(t) for name, t in times.items()}


def stages(loaders: dict[str, object], repeats: int) -> dict[str, dict[str, float]]:
    """Median ms per image of one training batch's stages (load items, collate, prepare), pipelines in turn."""
    times = {name: {"load": [], "collate": [], "prepare": []} for name in loaders}
    for _ in range(repeats):
        for name, dls in loaders.items():
            ds, n = dls.train_ds, min(len(dls.train_ds), dls.train_dl.batch_sampler.batch_size)
            t0 = time.perf_counter()
            items = [ds[i] for i in range(n)]
            t1 = time.perf_counter()
            batch = default_collate(items)
            t2 = time.perf_counter()
            dls.prepare(tuple(batch), True)
            t3 = time.perf_counter()
            for stage, seconds in zip(times[name], (t1 - t0, t2 - t1, t3 - t2)):
                times[name][stage].append(seconds * 1e3 / n)
    return {name: {stage: statistics.median(t) for stage, t in st.items()} for name, st in times.items()}


def photo_load(modules: dict[str, ModuleType], folder: Path, item_size: int, repeats: int) -> dict[str, float]:
    """Milliseconds to load one 4000x3000 JPEG as a presized item, per package."""
    photo = folder / "phone_photo.jpg"
    make_jpegs(folder / "tmp", 1)[0].rename(photo)
    Image.open(photo).resize((4000, 3000), Image.Resampling.BICUBIC).save(photo, quality=90)
    result = {}
    for name, pkg in modules.items():
        images = importlib.import_module(f"{pkg.__name__}.images")
        images.load_image(photo, item_size)
        result[name] = min(timed(lambda: images.load_image(photo, item_size)) for _ in range(repeats)) * 1e3
    return result


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=192, help="benchmark JPEGs (the training set is 80%%)")
    parser.add_argument("--bs", type=int, default=64)
    parser.add_argument("--item-size", type=int, default=460)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ref", default=REFERENCE_REV, help="the commit whose coursehelpers is 'previous'")
    parser.add_argument("--no-fastai", action="store_true", help="skip the fastai column")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)  # fastai's imports warn about torch.jit
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} images={args.images} bs={args.bs} "
          f"items {args.item_size} px -> batches {args.size} px, CPU, no workers")
    with tempfile.TemporaryDirectory() as tmp:
        files = make_jpegs(Path(tmp) / "jpegs", args.images)
        modules = {"now": coursehelpers}
        previous = previous_package(args.ref, Path(tmp) / "ref")
        if isinstance(previous, str):
            print(f"previous: skipped: {previous}")
        else:
            modules[f"previous ({args.ref[:7]})"] = previous
        built = {name: course_pipeline(pkg, files, args) for name, pkg in modules.items()}
        passes = {name: run for name, (run, _) in built.items()}
        fastai_run = "--no-fastai was given" if args.no_fastai else fastai_pipeline(files, args)
        if isinstance(fastai_run, str):
            print(f"fastai: skipped: {fastai_run}")
        else:
            passes["fastai 2.8.12"] = fastai_run
        report(alternate(passes, args.repeats), stages({name: dls for name, (_, dls) in built.items()}, args.repeats),
               photo_load(modules, Path(tmp), args.item_size, args.repeats))


def report(per_image: dict[str, float], stage_ms: dict[str, dict[str, float]], photo_ms: dict[str, float]) -> None:
    """The table of times and the ratios: now / previous, and each course column / fastai."""
    print(f"\n{'pipeline':22s} {'ms/image':>9s} {'images/s':>9s}   stages of one batch (ms/image)")
    for name, seconds in per_image.items():
        parts = "  ".join(f"{k} {v:.2f}" for k, v in stage_ms.get(name, {}).items())
        print(f"{name:22s} {seconds * 1e3:9.2f} {1 / seconds:9.1f}   {parts}")
    names = list(per_image)
    previous = next((n for n in names if n.startswith("previous")), None)
    if previous:
        print(f"now vs previous: {per_image[previous] / per_image['now']:.2f}x faster")
    if "fastai 2.8.12" in per_image:
        for name in [n for n in names if n != "fastai 2.8.12"]:
            goal = " (goal: >= 2.5x)" if name == "now" else ""
            print(f"{name} vs fastai 2.8.12: {per_image['fastai 2.8.12'] / per_image[name]:.2f}x faster{goal}")
    print("one 4000x3000 JPEG to a presized item: " + ", ".join(f"{k} {v:.1f} ms" for k, v in photo_ms.items()))


if __name__ == "__main__":
    main()
