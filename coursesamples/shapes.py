"""Procedural "shapes x textures x colours" images: the pretraining data of the bundled tiny backbone.

Every image shows one shape (circle, square, triangle, star, hexagon, cross, ring,
crescent) filled with one texture (solid, stripes, dots, checker) whose main colour
is one of 10 named colours. Each image has three labels, one per attribute, and the
network learns all three at once (one output per shape, texture and colour: 22
outputs). Background, second colour, position, size and rotation are random, so a
network must learn outlines, textures and colours, features that transfer to other
images. It is deliberately NOT the Pets data: sample mode's
transfer learning transfers from one dataset to a different one, as ImageNet to
Pets does in full mode.

Everything is drawn from ``numpy.random.default_rng(seed + index)``, so an image
depends only on its index and the seed: same bytes every run.

Example:
    >>> images, labels = generate(n=40, size=32, seed=0)
    >>> images.shape, labels.shape, N_OUTPUTS
    (torch.Size([40, 3, 32, 32]), torch.Size([40, 3]), 22)
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "cross", "ring", "crescent")
TEXTURES = ("solid", "stripes", "dots", "checker")
COLOURS = {"black": (25, 25, 25), "white": (240, 240, 235), "grey": (128, 128, 135), "brown": (120, 75, 40),
           "cream": (230, 205, 160), "orange": (225, 130, 45), "red": (200, 35, 40), "yellow": (235, 215, 50),
           "green": (50, 150, 60), "blue": (45, 75, 200)}
ATTRIBUTES = {"shape": SHAPES, "texture": TEXTURES, "colour": tuple(COLOURS)}
N_OUTPUTS = sum(len(v) for v in ATTRIBUTES.values())  # the width of the pretraining network's fc


def _polygon(n: int, cx: float, cy: float, r: float, angle: float, inner: float | None = None) -> list[tuple]:
    """A regular n-gon (or a star when ``inner`` gives the inner radius ratio)."""
    pts = []
    steps = 2 * n if inner else n
    for k in range(steps):
        rad = r * (inner if inner and k % 2 else 1.0)
        a = angle + 2 * math.pi * k / steps
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return pts


def _cross(cx: float, cy: float, r: float, angle: float) -> list[tuple]:
    arm = 0.35 * r
    base = [(arm, r), (arm, arm), (r, arm), (r, -arm), (arm, -arm), (arm, -r),
            (-arm, -r), (-arm, -arm), (-r, -arm), (-r, arm), (-arm, arm), (-arm, r)]
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in base]


def shape_mask(shape: str, size: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A float mask [size, size] in [0, 1] of one randomly placed and turned ``shape``.

    ``radius`` is a fraction of the image size.
    """
    scale = 4  # drawn 4x larger then reduced: smooth (anti-aliased) edges
    s = size * scale
    r = radius * s
    cx, cy = rng.uniform(r, s - r), rng.uniform(r, s - r)
    angle = rng.uniform(0, 2 * math.pi)
    img = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(img)
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "circle":
        draw.ellipse(box, fill=255)
    elif shape == "square":
        draw.polygon(_polygon(4, cx, cy, r, angle), fill=255)
    elif shape == "triangle":
        draw.polygon(_polygon(3, cx, cy, r, angle), fill=255)
    elif shape == "star":
        draw.polygon(_polygon(5, cx, cy, r, angle, inner=0.45), fill=255)
    elif shape == "hexagon":
        draw.polygon(_polygon(6, cx, cy, r, angle), fill=255)
    elif shape == "cross":
        draw.polygon(_cross(cx, cy, r, angle), fill=255)
    elif shape == "ring":
        draw.ellipse(box, fill=255)
        draw.ellipse((cx - 0.55 * r, cy - 0.55 * r, cx + 0.55 * r, cy + 0.55 * r), fill=0)
    elif shape == "crescent":
        draw.ellipse(box, fill=255)
        ox, oy = 0.5 * r * math.cos(angle), 0.5 * r * math.sin(angle)
        draw.ellipse((cx + ox - 0.85 * r, cy + oy - 0.85 * r, cx + ox + 0.85 * r, cy + oy + 0.85 * r), fill=0)
    else:
        raise ValueError(f"Unknown shape {shape!r}; use one of {SHAPES}.")
    img = img.resize((size, size), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / 255


def texture(kind: str, colour: str, size: int, period: float, rng: np.random.Generator) -> np.ndarray:
    """A [size, size, 3] float texture: solid, stripes, dots or checker of a named colour and a random one.

    ``period`` is the pattern's repeat in pixels.
    """
    c1 = np.clip(np.array(COLOURS[colour]) / 255 + rng.normal(0, 0.05, 3), 0, 1)
    c2 = rng.uniform(0, 1, 3)
    c2 = np.where(np.abs(c1 - c2).sum() < 0.6, 1 - c1, c2)  # keep the pattern visible
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    a = rng.uniform(0, math.pi)
    u, v = xx * math.cos(a) + yy * math.sin(a), -xx * math.sin(a) + yy * math.cos(a)
    if kind == "solid":
        on = np.zeros((size, size), bool)
    elif kind == "stripes":
        on = (u / period) % 1 < 0.5
    elif kind == "dots":
        du, dv = (u / period) % 1 - 0.5, (v / period) % 1 - 0.5
        on = du**2 + dv**2 < 0.09
    elif kind == "checker":
        on = (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    else:
        raise ValueError(f"Unknown texture {kind!r}; use one of {TEXTURES}.")
    return np.where(on[..., None], c2, c1).astype(np.float32)


def background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A [size, size, 3] linear gradient between two random colours, with a little noise."""
    c1, c2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    a = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.clip(0.5 + (xx - 0.5) * math.cos(a) + (yy - 0.5) * math.sin(a), 0, 1)[..., None]
    img = c1 * (1 - t) + c2 * t + rng.normal(0, 0.04, (size, size, 3))
    return img.astype(np.float32)


def draw(shape: int, kind: int, colour: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 image [size, size, 3] of ``SHAPES[shape]`` with texture ``TEXTURES[kind]`` in colour ``colour``."""
    radius = rng.uniform(0.12, 0.4)  # small shapes too: the features must work on small parts
    mask = shape_mask(SHAPES[shape], size, radius, rng)[..., None]
    period = max(3.0, radius * size * rng.uniform(0.35, 0.55))  # the pattern scales with the shape
    fill = texture(TEXTURES[kind], tuple(COLOURS)[colour], size, period, rng)
    img = background(size, rng) * (1 - mask) + fill * mask
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def generate(n: int = 8000, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images and their labels: (uint8 images [n, 3, size, size], long labels [n, 3]).

    Column j of the labels indexes ``list(ATTRIBUTES.values())[j]`` (shape, texture,
    colour). Image i draws its attributes and pixels from its own random stream
    ``(seed, i)``, so any image can be regenerated alone.

    Example:
        >>> generate(2, 16, seed=1)[0].dtype
        torch.uint8
    """
    images, labels = [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        attrs = [int(rng.integers(len(values))) for values in ATTRIBUTES.values()]
        images.append(draw(*attrs, size, rng))
        labels.append(attrs)
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels)


def make_sample(dest: Path, n: int = 200, size: int = 64, seed: int = 0) -> None:
    """Write a small viewable copy: ``dest/images/<n>.png`` and ``dest/labels.csv`` (name, shape, texture, colour)."""
    dest = Path(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    images, labels = generate(n, size, seed)
    rows = []
    for i, (img, attrs) in enumerate(zip(images, labels.tolist())):
        name = f"{i:05d}.png"
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(dest / "images" / name, optimize=False)
        rows.append((name, *[values[a] for values, a in zip(ATTRIBUTES.values(), attrs)]))
    with open(dest / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("name", *ATTRIBUTES), *rows])
