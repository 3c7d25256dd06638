"""Run-wide settings: the device, the seed, the sample/full switch, the data folder.

Everything that depends on the environment is read here and nowhere else, so a
learner can see in one file which switches exist:

- ``COURSE_SIZE``: ``sample`` (default; small bundled data, runs offline on a CPU)
  or ``full`` (the real datasets and pretrained weights; wants a GPU).
- ``COURSE_DATA``: the data folder (default: ``data/`` in the repository).
- ``COURSE_METRICS_DIR``: if set, lessons write their final metrics there as JSON,
  so the tests can check what a lesson learned and not only that it ran.
- ``COURSE_MAX_BATCHES``: if set, every pass over a DataLoader stops after that many
  batches (a rehearsal of full mode in CI time; never set it to learn for real).
- ``COURSE_MIRROR``: if set, a URL or folder that serves the course's archives and
  weights in place of the original sources (behind a firewall, or the CI rehearsal).
  Its ``registry.json`` may give each file's size and SHA-256, which are then the
  checks (see ``coursehelpers.registry``); unset, nothing changes.

Example:
    >>> size = course_size(None)          # reads COURSE_SIZE, "sample" by default
    >>> device = default_device()
    >>> _ = set_seed(42)
"""
from __future__ import annotations

import json
import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

SIZES = ("sample", "full")
REPO_ROOT = Path(__file__).resolve().parent.parent


def course_size(size: str | None = None) -> str:
    """Return the course mode: ``size`` if given, else ``$COURSE_SIZE``, else ``"sample"``.

    Example:
        >>> course_size("full")
        'full'
    """
    chosen = size if size is not None else os.environ.get("COURSE_SIZE", "sample")
    chosen = chosen.strip().lower()
    if chosen not in SIZES:
        raise ValueError(
            f"Unknown course size {chosen!r}. Use one of {SIZES}, for example "
            "`COURSE_SIZE=sample make lessons` or size='full' in a lesson's parameters cell."
        )
    return chosen


def data_dir() -> Path:
    """The folder where samples are generated and full datasets are downloaded.

    ``$COURSE_DATA`` if set, else ``data/`` in the repository.
    """
    return Path(os.environ.get("COURSE_DATA", REPO_ROOT / "data")).expanduser().resolve()


def max_batches() -> int | None:
    """``$COURSE_MAX_BATCHES`` as a positive int (every pass over the data stops there), or None.

    Example:
        >>> max_batches() is None or max_batches() > 0
        True
    """
    value = os.environ.get("COURSE_MAX_BATCHES", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"COURSE_MAX_BATCHES={value!r}: use a whole number of batches >= 1, or unset it.")
    return int(value)


def mirror() -> str | None:
    """``$COURSE_MIRROR`` (a URL or a folder serving the course's files), or None when unset.

    Example:
        >>> mirror() is None or len(mirror()) > 0
        True
    """
    value = os.environ.get("COURSE_MIRROR", "").strip()
    return value or None


def default_device() -> torch.device:
    """The best device available: CUDA, then Apple's MPS, then the CPU.

    Example:
        >>> default_device().type in ("cuda", "mps", "cpu")
        True
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int = 42) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA), and return a seeded generator.

    DataLoaders that shuffle draw from torch's global generator unless given one,
    so seeding it makes shuffling repeatable; pass ``seed_worker`` as a
    DataLoader's ``worker_init_fn`` to seed Python and NumPy inside its workers.
    Two runs of the same training on the CPU then give bitwise-identical losses.

    Example:
        >>> _ = set_seed(0); a = torch.rand(1)
        >>> _ = set_seed(0); b = torch.rand(1)
        >>> bool(a == b)
        True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for DataLoaders: seed Python and NumPy from torch's per-worker seed."""
    worker_seed = torch.initial_seed() % 2**32
    random.seed(worker_seed)
    np.random.seed(worker_seed)


def run_banner(size: str, device: torch.device, seed: int) -> str:
    """One line saying how this run was made: mode, device, seed and library versions."""
    import torchvision  # imported here so importing core stays light

    return (
        f"mode={size} device={device} seed={seed} python={platform.python_version()} "
        f"torch={torch.__version__} torchvision={torchvision.__version__} numpy={np.__version__}"
    )


def record_metrics(lesson: str, metrics: dict, folder: str | os.PathLike | None = None) -> Path | None:
    """Write a lesson's final metrics as ``<folder>/<lesson>.json`` and return the path.

    ``folder`` defaults to ``$COURSE_METRICS_DIR``; when neither is set nothing is
    written and None is returned. Values must be plain numbers, strings or lists.

    Example:
        >>> record_metrics("demo", {"accuracy": 0.9}, folder=None) is None or True
        True
    """
    folder = folder if folder is not None else os.environ.get("COURSE_METRICS_DIR")
    if not folder:
        return None
    path = Path(folder) / f"{lesson}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    tmp.replace(path)
    return path
