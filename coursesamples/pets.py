"""Synthetic Oxford-IIIT Pet sample: cartoon cats and dogs of the 37 real breed names, in the real layout.

``make_sample(dest)`` writes ``dest/images/<Breed_name>_<N>.jpg`` (capitalised
breeds are cats, lowercase are dogs, as in the real set) and ``dest/annotations/``
with ``list.txt`` (``Image CLASS-ID SPECIES BREED-ID``), ``trainval.txt``,
``test.txt`` and ``facing.csv`` (which way each animal looks: ``left``/``right``).

Each breed has its own signature: body build, leg length, ears, tail, coat
pattern, palette and fur; every cat has green eyes, a pink nose and whiskers, every
dog a long muzzle with a black nose (the traits that separate the species). Pose, size,
position, image size, palette shade and background vary from image to image. The
head is on the side the animal faces, so mirroring an image changes its
``facing`` label but not its breed.

Deterministic: image ``N`` of breed ``b`` is drawn from its own seeded generator
and saved with fixed JPEG settings, so every run writes the same bytes.

Example:
    >>> len(BREEDS), sum(is_cat(b) for b in BREEDS)
    (37, 12)
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# name: (build, legs, ears, tail, pattern, main colour, second colour, fluffy)
BREEDS: dict[str, tuple] = {
    "Abyssinian": ("normal", "long", "big_pointy", "long", "solid", (190, 110, 60), (120, 70, 40), False),
    "Bengal": ("normal", "normal", "pointy", "long", "spots", (215, 160, 80), (60, 40, 25), False),
    "Birman": ("round", "normal", "pointy", "bushy", "points", (235, 225, 200), (110, 80, 60), True),
    "Bombay": ("normal", "normal", "pointy", "long", "solid", (25, 25, 30), (25, 25, 30), False),
    "British_Shorthair": ("round", "short", "round", "long", "solid", (130, 140, 155), (130, 140, 155), False),
    "Egyptian_Mau": ("normal", "long", "pointy", "long", "spots", (185, 185, 175), (50, 50, 50), False),
    "Maine_Coon": ("stocky", "normal", "big_pointy", "bushy", "stripes", (150, 100, 60), (60, 40, 25), True),
    "Persian": ("round", "short", "round", "bushy", "solid", (245, 240, 235), (245, 240, 235), True),
    "Ragdoll": ("round", "normal", "pointy", "bushy", "points", (240, 235, 225), (90, 90, 110), True),
    "Russian_Blue": ("normal", "long", "pointy", "long", "solid", (105, 120, 140), (105, 120, 140), False),
    "Siamese": ("long", "long", "big_pointy", "long", "points", (235, 220, 190), (70, 50, 40), False),
    "Sphynx": ("normal", "long", "big_pointy", "long", "solid", (235, 180, 170), (235, 180, 170), False),
    "american_bulldog": ("stocky", "normal", "folded", "stub", "patches", (245, 245, 240), (170, 120, 80), False),
    "american_pit_bull_terrier": ("stocky", "normal", "folded", "long", "solid", (120, 110, 105), (240, 240, 235),
                                  False),
    "basset_hound": ("long", "short", "long_floppy", "long", "tricolour", (240, 240, 235), (150, 90, 45), False),
    "beagle": ("normal", "normal", "floppy", "long", "tricolour", (240, 240, 235), (190, 120, 60), False),
    "boxer": ("stocky", "long", "folded", "stub", "solid", (200, 140, 80), (240, 240, 235), False),
    "chihuahua": ("normal", "normal", "big_pointy", "long", "solid", (225, 185, 130), (225, 185, 130), False),
    "english_cocker_spaniel": ("normal", "normal", "long_floppy", "stub", "solid", (195, 135, 65), (195, 135, 65),
                               True),
    "english_setter": ("normal", "long", "floppy", "long", "spots", (245, 245, 240), (40, 40, 45), True),
    "german_shorthaired": ("normal", "long", "floppy", "stub", "spots", (120, 75, 45), (245, 245, 240), False),
    "great_pyrenees": ("stocky", "long", "floppy", "bushy", "solid", (248, 246, 240), (248, 246, 240), True),
    "havanese": ("round", "short", "floppy", "curled", "solid", (235, 215, 180), (235, 215, 180), True),
    "japanese_chin": ("round", "short", "round", "curled", "patches", (245, 245, 240), (30, 30, 30), True),
    "keeshond": ("round", "normal", "pointy", "curled", "bicolour", (140, 140, 135), (40, 40, 40), True),
    "leonberger": ("stocky", "long", "floppy", "bushy", "points", (200, 140, 70), (50, 35, 25), True),
    "miniature_pinscher": ("normal", "long", "big_pointy", "stub", "points", (30, 25, 25), (185, 100, 45), False),
    "newfoundland": ("stocky", "normal", "floppy", "bushy", "solid", (30, 30, 32), (30, 30, 32), True),
    "pomeranian": ("round", "short", "pointy", "curled", "solid", (235, 150, 60), (235, 150, 60), True),
    "pug": ("round", "short", "folded", "curled", "points", (220, 190, 140), (35, 30, 30), False),
    "saint_bernard": ("stocky", "long", "floppy", "long", "patches", (245, 245, 240), (160, 80, 35), True),
    "samoyed": ("normal", "normal", "pointy", "curled", "solid", (250, 250, 248), (250, 250, 248), True),
    "scottish_terrier": ("long", "short", "pointy", "stub", "solid", (35, 35, 35), (35, 35, 35), True),
    "shiba_inu": ("normal", "normal", "pointy", "curled", "bicolour", (215, 130, 60), (245, 235, 215), False),
    "staffordshire_bull_terrier": ("stocky", "short", "folded", "long", "stripes", (140, 95, 60), (50, 35, 25), False),
    "wheaten_terrier": ("normal", "normal", "folded", "stub", "solid", (230, 205, 150), (230, 205, 150), True),
    "yorkshire_terrier": ("normal", "short", "pointy", "stub", "bicolour", (85, 95, 120), (200, 150, 80), True),
}

BUILDS = {"normal": (20, 12), "long": (25, 10), "stocky": (20, 14), "round": (18, 14)}  # half width, half height
LEGS = {"short": 6, "normal": 10, "long": 14}
SCALE = 2  # drawn at twice the size, then reduced: smooth edges


def is_cat(breed: str) -> bool:
    """Oxford's convention: cat breeds are capitalised, dog breeds are not."""
    return breed[0].isupper()


def _jitter(colour: tuple, rng: np.random.Generator, amount: float = 10) -> tuple:
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in colour)


def _background(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    """A room at the final size: a wall gradient, a floor, a few blurred objects and sensor noise."""
    wall, floor = rng.uniform(60, 230, 3).astype(np.float32), rng.uniform(40, 200, 3).astype(np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    horizon = rng.uniform(0.55, 0.8)
    img = np.where(t < horizon, wall * (1 - 0.3 * t), floor * (0.8 + 0.2 * t)) * np.ones((1, w, 1), np.float32)
    canvas = Image.fromarray(img.astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(1, 4)):  # furniture, toys: distractors with no breed information
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(0, 0.8) * h
        x1, y1 = x0 + rng.uniform(0.1, 0.4) * w, y0 + rng.uniform(0.1, 0.4) * h
        fill = tuple(int(c) for c in rng.uniform(30, 240, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x0, y0, x1, y1), fill=fill)
    canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    noise = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    return Image.fromarray((np.asarray(canvas, dtype=np.float32) + noise).clip(0, 255).astype(np.uint8))


def _ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill) -> None:
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill)


Part = tuple  # (kind, geometry, colour, line width): one primitive of an animal's silhouette


def _blob(cx: float, cy: float, rx: float, ry: float, colour: tuple, fluffy: bool,
          rng: np.random.Generator) -> Part:
    """An ellipse, or for long-haired breeds a polygon around it with a zig-zag (furry) edge."""
    if not fluffy:
        return ("ellipse", (cx - rx, cy - ry, cx + rx, cy + ry), colour, 0)
    n = 28
    radii = [1.12 if k % 2 else 0.95 + 0.05 * rng.random() for k in range(n)]
    points = [(cx + f * rx * math.cos(2 * math.pi * k / n), cy + f * ry * math.sin(2 * math.pi * k / n))
              for k, f in enumerate(radii)]
    return ("polygon", points, colour, 0)


def _ears(ears: str, hx: float, hy: float, r: float, d: int, colour: tuple) -> list[Part]:
    """The two ears on top of the head (hanging ears are drawn later, over the head)."""
    parts = []
    for side in (-1, 1):
        ex = hx + side * 0.5 * r
        if ears in ("pointy", "big_pointy"):
            height, half = (1.35, 0.4) if ears == "big_pointy" else (0.85, 0.32)
            tip = (ex + 0.1 * side * r, hy - (0.5 + height) * r)
            parts.append(("polygon", [(ex - half * r, hy - 0.5 * r), (ex + half * r, hy - 0.5 * r), tip], colour, 0))
        elif ears == "round":
            parts.append(("ellipse", (ex - 0.3 * r, hy - 1.05 * r, ex + 0.3 * r, hy - 0.45 * r), colour, 0))
        elif ears == "folded":  # small triangles tipped forward
            tip = (ex + d * 0.55 * r, hy - 0.25 * r)
            parts.append(("polygon", [(ex - 0.3 * r, hy - 0.6 * r), (ex + 0.3 * r, hy - 0.6 * r), tip], colour, 0))
    return parts


def _paint(draw: ImageDraw.ImageDraw, parts: list[Part], solid: int | None = None) -> None:
    """Draw parts in order, in their colours, or all in ``solid`` (for the mask)."""
    for kind, geometry, colour, width in parts:
        fill = colour if solid is None else solid
        if kind == "ellipse":
            draw.ellipse(geometry, fill=fill)
        elif kind == "rectangle":
            draw.rectangle(geometry, fill=fill)
        elif kind == "polygon":
            draw.polygon(geometry, fill=fill)
        elif kind == "line":
            draw.line(geometry, fill=fill, width=width)
        else:  # "ring": an ellipse's outline
            draw.ellipse(geometry, outline=fill, width=width)


def _animal(breed: str, w: int, h: int, rng: np.random.Generator) -> tuple[Image.Image, Image.Image, str]:
    """Draw one animal on a layer the size of the image: (RGB layer, mask, facing)."""
    build, legs, ears, tail, pattern, main, second, fluffy = BREEDS[breed]
    main, second = _jitter(main, rng), _jitter(second, rng)
    facing = "right" if rng.random() < 0.5 else "left"
    d = 1 if facing == "right" else -1
    u = min(w, h) / 100 * SCALE * rng.uniform(0.9, 1.1)  # the drawing unit: 1% of the image, jittered
    bw, bh = (v * u for v in BUILDS[build])
    leg_len, leg_w = LEGS[legs] * u, (6 if build == "stocky" else 4.5) * u
    r = 13 * u * (1.08 if build == "stocky" else 1.0)  # a big head: the face tells cats from dogs
    cx = w * SCALE / 2 + rng.uniform(-4, 4) * u - d * 8 * u
    cy = h * SCALE / 2 + rng.uniform(-4, 6) * u + 2 * u
    hx, hy = cx + d * (bw + 0.35 * r), cy - bh * 0.75 - rng.uniform(0, 4) * u
    tx, ty = cx - d * bw, cy - 0.3 * bh
    tip = second if pattern == "points" else main  # ears, legs, tail and muzzle

    parts = [("rectangle", (cx + lx * bw - leg_w / 2, cy, cx + lx * bw + leg_w / 2, cy + bh + leg_len), tip, 0)
             for lx in (-0.65, -0.35, 0.35, 0.65)]
    parts.append({
        "long": ("line", (tx, ty, tx - d * 12 * u, ty - 14 * u), tip, int(3.5 * u)),
        "curled": ("ring", (tx - d * 3 * u - 6 * u, ty - 14 * u, tx - d * 3 * u + 6 * u, ty - 2 * u), tip,
                   int(3.5 * u)),
        "bushy": ("ellipse", (tx - d * 8 * u - 9 * u, ty - 13 * u, tx - d * 8 * u + 9 * u, ty - 3 * u), tip, 0),
        "stub": ("ellipse", (tx - d * 2 * u - 3.5 * u, ty - 5.5 * u, tx - d * 2 * u + 3.5 * u, ty + 1.5 * u), tip, 0),
    }[tail])
    parts.append(_blob(cx, cy, bw, bh, main, fluffy, rng))
    parts += _ears(ears, hx, hy, r, d, tip)
    parts.append(_blob(hx, hy, r, r, main, fluffy, rng))
    if not is_cat(breed):  # the dog's muzzle, pointing where it faces
        mx, my = hx + d * 0.95 * r, hy + 0.3 * r
        parts.append(("ellipse", (mx - 0.8 * r, my - 0.48 * r, mx + 0.8 * r, my + 0.48 * r), tip, 0))
    hanging = []
    if ears in ("floppy", "long_floppy"):  # a hanging ear covers the side of the head
        length = 1.3 if ears == "long_floppy" else 0.85
        ex, ey = hx - d * 0.3 * r, hy + 0.2 * r + 0.3 * length * r
        colour = second if pattern == "tricolour" else tip
        hanging.append(("ellipse", (ex - 0.35 * r, ey - 0.75 * length * r, ex + 0.35 * r, ey + 0.75 * length * r),
                        colour, 0))

    layer = Image.new("RGB", (w * SCALE, h * SCALE), main)
    mask = Image.new("L", (w * SCALE, h * SCALE), 0)
    _paint(ImageDraw.Draw(mask), parts + hanging, solid=255)
    _paint(ImageDraw.Draw(layer), parts)
    _coat(layer, pattern, cx, cy, bw, bh, hx, hy, r, d, main, second, rng)
    _face(ImageDraw.Draw(layer), breed, main, hx, hy, r, d, u)
    _paint(ImageDraw.Draw(layer), hanging)
    return layer, mask, facing


def _coat(layer: Image.Image, pattern: str, cx: float, cy: float, bw: float, bh: float, hx: float, hy: float,
          r: float, d: int, main: tuple, second: tuple, rng: np.random.Generator) -> None:
    """Paint the coat pattern over the body (inside the body's ellipse)."""
    if pattern in ("solid", "points"):
        return
    clip = Image.new("L", layer.size, 0)
    _ellipse(ImageDraw.Draw(clip), cx, cy, bw, bh, 255)
    paint = Image.new("L", layer.size, 0)
    draw = ImageDraw.Draw(paint)
    if pattern == "spots":
        for _ in range(10):
            _ellipse(draw, cx + rng.uniform(-1, 1) * bw, cy + rng.uniform(-1, 1) * bh,
                     0.2 * bh, 0.2 * bh, 255)
    elif pattern == "stripes":
        for k in np.arange(-1, 1.01, 0.3):
            x = cx + k * bw
            draw.line((x, cy - bh, x - d * 0.2 * bw, cy + bh), fill=255, width=int(0.2 * bh) + 1)
    elif pattern in ("patches", "tricolour"):
        for _ in range(2 if pattern == "patches" else 1):
            _ellipse(draw, cx + rng.uniform(-0.6, 0.6) * bw, cy - rng.uniform(0.2, 0.6) * bh,
                     rng.uniform(0.35, 0.55) * bw, rng.uniform(0.5, 0.8) * bh, 255)
    elif pattern == "bicolour":  # light belly, light chest
        _ellipse(draw, cx, cy + 0.7 * bh, 0.9 * bw, 0.55 * bh, 255)
    paint = Image.composite(paint, Image.new("L", layer.size, 0), clip)
    colour = (30, 25, 20) if pattern == "tricolour" else second
    layer.paste(Image.new("RGB", layer.size, colour), (0, 0), paint)
    if pattern == "tricolour":  # brown head and rim around the black saddle
        _ellipse(ImageDraw.Draw(layer), hx, hy - 0.2 * r, 0.9 * r, 0.75 * r, second)


def _face(draw: ImageDraw.ImageDraw, breed: str, main: tuple, hx: float, hy: float, r: float, d: int,
          u: float) -> None:
    """Eye and nose on the side it faces. Cats: a green eye, a pink nose, whiskers; dogs: a black eye and nose."""
    ex, ey = hx + d * 0.4 * r, hy - 0.15 * r
    if is_cat(breed):
        _ellipse(draw, ex, ey, 0.2 * r, 0.2 * r, (90, 200, 60))
        _ellipse(draw, ex + d * 0.05 * r, ey, 0.08 * r, 0.12 * r, (10, 10, 10))
        nx, ny = hx + d * 0.88 * r, hy + 0.15 * r
        _ellipse(draw, nx, ny, 0.14 * r, 0.11 * r, (235, 110, 140))
        light = sum(main) > 450  # whiskers that show against the coat
        for k in (-1, 0, 1):
            draw.line((nx - d * 0.1 * r, ny + 0.1 * r, nx + d * 1.1 * r, ny + (0.1 + 0.35 * k) * r),
                      fill=(40, 40, 40) if light else (250, 250, 250), width=max(1, int(1.2 * u)))
    else:
        _ellipse(draw, ex, ey, 0.14 * r, 0.14 * r, (15, 15, 15))
        _ellipse(draw, hx + d * 1.6 * r, hy + 0.2 * r, 0.22 * r, 0.18 * r, (10, 10, 10))


def draw_pet(breed: str, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """One RGB image of ``breed`` (about 100 to 128 px a side) and which way it faces."""
    w, h = (int(v) for v in rng.integers(100, 129, 2))
    background = _background(w, h, rng).resize((w * SCALE, h * SCALE), Image.Resampling.BILINEAR)
    layer, mask, facing = _animal(breed, w, h, rng)
    img = Image.composite(layer, background, mask)
    return img.resize((w, h), Image.Resampling.LANCZOS), facing


def class_ids() -> dict[str, tuple[int, int, int]]:
    """Oxford's numbering: CLASS-ID 1..37 over names sorted case-insensitively, SPECIES 1=cat 2=dog,
    BREED-ID 1..12 (cats) or 1..25 (dogs)."""
    names = sorted(BREEDS, key=str.lower)
    ids, per_species = {}, {1: 0, 2: 0}
    for i, name in enumerate(names, start=1):
        species = 1 if is_cat(name) else 2
        per_species[species] += 1
        ids[name] = (i, species, per_species[species])
    return ids


def make_sample(dest: Path, n_per_breed: int = 20, seed: int = 0, quality: int = 90) -> None:
    """Write the sample: ``n_per_breed`` JPEGs a breed and the annotations (see the module docstring)."""
    dest = Path(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / "annotations").mkdir(parents=True, exist_ok=True)
    ids = class_ids()
    rows, facing_rows, trainval, test = [], [], [], []
    for b, breed in enumerate(sorted(BREEDS, key=str.lower)):
        for n in range(1, n_per_breed + 1):
            rng = np.random.default_rng([seed, b, n])
            img, facing = draw_pet(breed, rng)
            name = f"{breed}_{n}"
            img.save(dest / "images" / f"{name}.jpg", quality=quality, optimize=False, progressive=False)
            line = f"{name} {ids[breed][0]} {ids[breed][1]} {ids[breed][2]}"
            rows.append(line)
            (trainval if n <= n_per_breed // 2 else test).append(line)
            facing_rows.append((f"{name}.jpg", facing))
    header = ["#Image CLASS-ID SPECIES BREED-ID", "#CLASS-ID: 1-37 over breed names sorted ignoring case",
              "#SPECIES: 1 cat, 2 dog", "#BREED-ID: 1-12 among cats, 1-25 among dogs",
              "#Synthetic sample: cartoon pets drawn by coursesamples/pets.py"]
    (dest / "annotations" / "list.txt").write_text("\n".join(header + rows) + "\n")
    (dest / "annotations" / "trainval.txt").write_text("\n".join(trainval) + "\n")
    (dest / "annotations" / "test.txt").write_text("\n".join(test) + "\n")
    with open(dest / "annotations" / "facing.csv", "w", newline="") as f:
        csv.writer(f).writerows([("image", "facing"), *facing_rows])
