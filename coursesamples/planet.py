"""Generate the offline Planet sample: satellite-like tiles with Kaggle's 17 tags and file layout.

The real data (Kaggle, "Planet: Understanding the Amazon from Space") is 40,479
labelled 256 px chips of the Amazon basin. This module draws small synthetic
tiles in the same layout, so lesson 3 runs offline on a CPU:

    dest/train_v2.csv              image_name,tags  (train_0, "agriculture clear primary road")
    dest/train-jpg/train_N.jpg
    dest/test-jpg/test_N.jpg
    dest/sample_submission_v2.csv  image_name,tags  for the test tiles, as Kaggle gives it

Each tag has a visible cause drawn into the tile: dark textured forest for
``primary``, light rectangular fields for ``agriculture``, thin straight light
lines for ``road``, a blue meandering band for ``water``, clusters of small
bright squares for ``habitation``, white blobs for ``partly_cloudy``, an opaque
white cover for ``cloudy``, a low-contrast whitish veil for ``haze``, and so on
(see ``_DRAW``). Every tile has exactly one weather tag (clear, partly_cloudy,
haze or cloudy), and cloudy tiles carry no other tag, as in the real data.

Tag frequencies follow the real train_v2.csv (primary ~93%, clear ~70%,
agriculture ~31%, road ~20%, water ~18%, partly_cloudy ~18%, cultivation ~11%,
habitation ~9%, haze ~7%, cloudy ~5%, bare_ground ~2%), with two deliberate
changes: the six rare tags (selective_logging, artisinal_mine, blooming,
slash_burn, blow_down, conventional_mine; each under 1% in the real data) are
drawn at 1.2-2% so that a sample of ~1,000 tiles holds a dozen or more of each,
and bare_ground at ~3%. Tags co-occur as in the real data: roads mostly run
through farmland, habitation mostly sits on roads, cultivation mostly sits
next to agriculture.

Tiles are drawn at twice their final size and shrunk with a box filter, so thin
things (roads, logging tracks) survive as faint one-pixel lines: a model sees
them better at full size than at half size, which is what progressive resizing
exploits. Every tile has its own random generator seeded by (seed, split,
index), so the bytes are the same on every run and a smaller sample is a prefix
of a larger one.

Example:
    >>> from pathlib import Path; import tempfile
    >>> make_sample(Path(tempfile.mkdtemp()), n_train=4, n_test=2)
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

TAGS = [
    "agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down", "clear", "cloudy",
    "conventional_mine", "cultivation", "habitation", "haze", "partly_cloudy", "primary", "road",
    "selective_logging", "slash_burn", "water",
]
WEATHER = ["clear", "partly_cloudy", "haze", "cloudy"]
WEATHER_P = [0.70, 0.18, 0.07, 0.05]  # real train_v2: 70% / 18% / 7% / 5%
# Probabilities of the land tags on a tile that is not cloudy (cloudy tiles have none);
# boosted above the real (<1%) frequencies so a small sample holds some of each.
RARE_P = {"selective_logging": 0.02, "artisinal_mine": 0.02, "blooming": 0.02,
          "slash_burn": 0.016, "conventional_mine": 0.013, "blow_down": 0.013}
SUBMISSION_TAGS = "primary clear agriculture road water"  # the placeholder in Kaggle's file

RGB = {  # colours in [0, 1]
    "forest": (0.09, 0.22, 0.10), "savanna": (0.42, 0.42, 0.28), "field_green": (0.52, 0.68, 0.34),
    "field_tan": (0.76, 0.66, 0.46), "cultivation": (0.58, 0.56, 0.32), "road": (0.86, 0.80, 0.68),
    "water": (0.22, 0.38, 0.62), "house": (0.93, 0.92, 0.90), "bare": (0.58, 0.36, 0.20),
    "logging": (0.62, 0.50, 0.34), "artisinal": (0.92, 0.62, 0.22), "mine": (0.62, 0.62, 0.64),
    "bloom": (0.95, 0.78, 0.90), "burn": (0.10, 0.08, 0.07), "blow_down": (0.45, 0.62, 0.30),
    "cloud": (0.96, 0.96, 0.97), "haze": (0.78, 0.79, 0.82),
}


def sample_tags(rng: np.random.Generator) -> list[str]:
    """Draw one tile's tags: one weather tag, then land tags that depend on each other.

    Example:
        >>> tags = sample_tags(np.random.default_rng(0))
        >>> sum(t in WEATHER for t in tags)
        1
    """
    weather = WEATHER[rng.choice(len(WEATHER), p=WEATHER_P)]
    if weather == "cloudy":
        return ["cloudy"]
    tags = {weather}
    agriculture = rng.random() < 0.33
    road = rng.random() < (0.45 if agriculture else 0.10)
    extra = {
        "agriculture": agriculture,
        "road": road,
        "primary": rng.random() < (0.93 if agriculture else 0.995),
        "habitation": rng.random() < (0.35 if road else 0.02),
        "cultivation": rng.random() < (0.25 if agriculture else 0.05),
        "water": rng.random() < 0.19,
        "bare_ground": rng.random() < 0.03,
    }
    extra.update({tag: rng.random() < p for tag, p in RARE_P.items()})
    tags |= {tag for tag, present in extra.items() if present}
    return sorted(tags)


class _Canvas:
    """An RGB float image with pixel coordinates, and the few shapes the tags need."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size, self.rng = size, rng
        self.img = np.zeros((size, size, 3), dtype=np.float32)
        self.y, self.x = np.mgrid[0:size, 0:size].astype(np.float32)

    def smooth_noise(self, cells: int) -> np.ndarray:
        """Noise in [0, 1] that varies over about size/cells pixels."""
        coarse = self.rng.random((cells, cells)).astype(np.float32)
        img = Image.fromarray(coarse, mode="F").resize((self.size, self.size), Image.BICUBIC)
        return np.clip(np.asarray(img), 0, 1)

    def paint(self, mask: np.ndarray, colour: tuple, jitter: float = 0.04) -> None:
        """Blend ``colour`` (slightly varied) into the image where mask (0..1) says."""
        c = np.asarray(colour, np.float32) * (1 + self.rng.uniform(-jitter, jitter, 3)).astype(np.float32)
        m = mask.astype(np.float32)[..., None]
        self.img = self.img * (1 - m) + c * m

    def rotated(self, cx: float, cy: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates (u along ``angle``, v across it) relative to (cx, cy)."""
        dx, dy = self.x - cx, self.y - cy
        cos, sin = np.cos(angle), np.sin(angle)
        return dx * cos + dy * sin, -dx * sin + dy * cos

    def rect(self, cx: float, cy: float, w: float, h: float, angle: float) -> np.ndarray:
        u, v = self.rotated(cx, cy, angle)
        return (np.abs(u) < w / 2) & (np.abs(v) < h / 2)

    def disc(self, cx: float, cy: float, r: float) -> np.ndarray:
        return (self.x - cx) ** 2 + (self.y - cy) ** 2 < r**2

    def blob(self, cx: float, cy: float, r: float) -> np.ndarray:
        """An irregular patch: a disc whose edge is pushed around by smooth noise."""
        d = np.sqrt((self.x - cx) ** 2 + (self.y - cy) ** 2) / r
        return d < 0.75 + 0.5 * self.smooth_noise(6)

    def line(self, cx: float, cy: float, angle: float, width: float, length: float = 1e9) -> np.ndarray:
        u, v = self.rotated(cx, cy, angle)
        return (np.abs(v) < width / 2) & (np.abs(u) < length / 2)

    def point(self, margin: float = 0.1) -> tuple[float, float]:
        lo, hi = margin * self.size, (1 - margin) * self.size
        return float(self.rng.uniform(lo, hi)), float(self.rng.uniform(lo, hi))


# One function per visible cause. Sizes are in pixels of the drawing canvas (2x the tile).
def _primary(cv: _Canvas) -> None:
    canopy = 0.6 * cv.smooth_noise(cv.size // 3) + 0.4 * cv.smooth_noise(8)
    cv.img = np.asarray(RGB["forest"], np.float32) * (0.7 + 0.6 * canopy[..., None])


def _savanna(cv: _Canvas) -> None:
    cv.img = np.asarray(RGB["savanna"], np.float32) * (0.85 + 0.3 * cv.smooth_noise(5)[..., None])


def _agriculture(cv: _Canvas, primary: bool) -> None:
    angle = cv.rng.uniform(0, np.pi)
    for _ in range(cv.rng.integers(2, 5) if primary else cv.rng.integers(5, 9)):
        cx, cy = cv.point(0.0)
        w, h = cv.rng.uniform(0.15, 0.45, 2) * cv.size
        colour = RGB["field_green"] if cv.rng.random() < 0.5 else RGB["field_tan"]
        cv.paint(cv.rect(cx, cy, w, h, angle + cv.rng.normal(0, 0.05)), colour, jitter=0.1)


def _cultivation(cv: _Canvas) -> None:
    for _ in range(cv.rng.integers(2, 5)):
        cx, cy = cv.point()
        mottle = 0.7 + 0.3 * cv.smooth_noise(cv.size // 4)
        cv.paint(cv.blob(cx, cy, cv.rng.uniform(0.06, 0.11) * cv.size) * mottle, RGB["cultivation"])


def _bare_ground(cv: _Canvas) -> None:
    for _ in range(cv.rng.integers(1, 3)):
        cx, cy = cv.point()
        cv.paint(cv.blob(cx, cy, cv.rng.uniform(0.08, 0.15) * cv.size), RGB["bare"])


def _blow_down(cv: _Canvas) -> None:
    cx, cy = cv.point(0.25)
    cv.paint(cv.rect(cx, cy, 0.45 * cv.size, 0.07 * cv.size, cv.rng.uniform(0, np.pi)), RGB["blow_down"])


def _slash_burn(cv: _Canvas) -> None:
    cx, cy = cv.point(0.2)
    r = cv.rng.uniform(0.06, 0.1) * cv.size
    cv.paint(cv.disc(cx, cy, 2 * r) * 0.35, (0.45, 0.45, 0.45))  # a halo of ash and smoke
    cv.paint(cv.blob(cx, cy, r), RGB["burn"])


def _water(cv: _Canvas) -> None:
    cx, cy = cv.point(0.3)
    u, v = cv.rotated(cx, cy, cv.rng.uniform(0, np.pi))
    amplitude, period = cv.rng.uniform(0.05, 0.15) * cv.size, cv.rng.uniform(0.5, 1.0) * cv.size
    width = cv.rng.uniform(0.05, 0.09) * cv.size
    cv.paint(np.abs(v - amplitude * np.sin(2 * np.pi * u / period)) < width, RGB["water"])


def _road(cv: _Canvas) -> None:
    for _ in range(cv.rng.integers(1, 3)):
        cx, cy = cv.point(0.3)
        cv.paint(cv.line(cx, cy, cv.rng.uniform(0, np.pi), width=2.0), RGB["road"])


def _selective_logging(cv: _Canvas) -> None:
    """A fishbone: a short track with short spurs, the pattern of logging trails."""
    cx, cy = cv.point(0.3)
    angle, length = cv.rng.uniform(0, np.pi), 0.5 * cv.size
    cv.paint(cv.line(cx, cy, angle, 1.6, length), RGB["logging"])
    for t in np.linspace(-0.4, 0.4, 5) * length:
        side = 1 if cv.rng.random() < 0.5 else -1
        sx, sy = cx + t * np.cos(angle), cy + t * np.sin(angle)
        spur = angle + side * np.pi / 3
        mx, my = sx + 0.06 * cv.size * np.cos(spur), sy + 0.06 * cv.size * np.sin(spur)
        cv.paint(cv.line(mx, my, spur, 1.6, 0.12 * cv.size), RGB["logging"])


def _habitation(cv: _Canvas) -> None:
    cx, cy = cv.point(0.2)
    for _ in range(cv.rng.integers(15, 35)):
        hx, hy = cx + cv.rng.normal(0, 0.08 * cv.size), cy + cv.rng.normal(0, 0.08 * cv.size)
        side = cv.rng.uniform(2.5, 4.5)
        cv.paint(cv.rect(hx, hy, side, side, 0.0), RGB["house"], jitter=0.08)


def _artisinal_mine(cv: _Canvas) -> None:
    cx, cy = cv.point(0.2)
    angle = cv.rng.uniform(0, np.pi)
    for t in np.linspace(-0.15, 0.15, cv.rng.integers(3, 6)) * cv.size:
        px, py = cx + t * np.cos(angle), cy + t * np.sin(angle)
        cv.paint(cv.disc(px, py, cv.rng.uniform(2.5, 4.5)), RGB["artisinal"])


def _conventional_mine(cv: _Canvas) -> None:
    cx, cy = cv.point(0.25)
    r = cv.rng.uniform(0.15, 0.22) * cv.size
    for k, shade in enumerate([1.0, 0.8, 0.95, 0.7]):  # terraced rings down into the pit
        cv.paint(cv.disc(cx, cy, r * (1 - 0.22 * k)), tuple(c * shade for c in RGB["mine"]), 0.0)


def _blooming(cv: _Canvas) -> None:
    for _ in range(cv.rng.integers(40, 80)):
        bx, by = cv.point(0.0)
        cv.paint(cv.disc(bx, by, cv.rng.uniform(1.0, 2.0)), RGB["bloom"], jitter=0.05)


def _partly_cloudy(cv: _Canvas) -> None:
    for _ in range(cv.rng.integers(1, 4)):
        cx, cy = cv.point(0.0)
        d = np.sqrt((cv.x - cx) ** 2 + (cv.y - cy) ** 2) / (cv.rng.uniform(0.15, 0.3) * cv.size)
        puff = np.clip(1.6 - d - 0.6 * cv.smooth_noise(8), 0, 1) ** 0.7  # soft edges
        cv.paint(0.95 * puff, RGB["cloud"], jitter=0.02)


def _haze(cv: _Canvas) -> None:
    veil = 0.5 + 0.15 * cv.smooth_noise(3)
    cv.paint(veil, RGB["haze"], jitter=0.03)


def _cloudy(cv: _Canvas) -> None:
    cover = 0.9 + 0.1 * cv.smooth_noise(4)
    cv.paint(cover, RGB["cloud"], jitter=0.02)
    cv.img *= (0.88 + 0.12 * cv.smooth_noise(10))[..., None]  # the texture of the cloud top


# Land first (bottom to top), then the weather over everything.
_DRAW = [
    ("cultivation", _cultivation), ("bare_ground", _bare_ground), ("blow_down", _blow_down),
    ("slash_burn", _slash_burn), ("water", _water), ("road", _road),
    ("selective_logging", _selective_logging), ("habitation", _habitation),
    ("artisinal_mine", _artisinal_mine), ("conventional_mine", _conventional_mine),
    ("blooming", _blooming), ("partly_cloudy", _partly_cloudy), ("haze", _haze), ("cloudy", _cloudy),
]


def draw_tile(tags: list[str], rng: np.random.Generator, size: int = 64) -> Image.Image:
    """Draw a tile showing ``tags`` at 2x ``size``, shrink it, and return an RGB PIL image.

    Example:
        >>> draw_tile(["clear", "primary"], np.random.default_rng(0)).size
        (64, 64)
    """
    cv = _Canvas(2 * size, rng)
    _primary(cv) if "primary" in tags else _savanna(cv)
    if "agriculture" in tags:
        _agriculture(cv, primary="primary" in tags)
    for tag, draw in _DRAW:
        if tag in tags:
            draw(cv)
    cv.img = cv.img * rng.uniform(0.9, 1.1) + rng.normal(0, 0.015, cv.img.shape)  # sensor variation
    pixels = (np.clip(cv.img, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB").resize((size, size), Image.BOX)


def _tile_rng(seed: int, split: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, split, index])


def _write_split(dest: Path, prefix: str, n: int, split: int, size: int, seed: int, quality: int) -> list:
    """Draw and save ``n`` tiles named ``<prefix>_<i>.jpg``; return their (name, tags) rows."""
    folder = dest / f"{prefix}-jpg"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        rng = _tile_rng(seed, split, i)
        tags = sample_tags(rng)
        # Fixed JPEG settings and no metadata: the same pixels give the same bytes.
        draw_tile(tags, rng, size).save(folder / f"{prefix}_{i}.jpg", format="JPEG", quality=quality,
                                        subsampling=0)
        rows.append((f"{prefix}_{i}", " ".join(tags)))
    return rows


def _write_csv(path: Path, rows: list) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["image_name", "tags"])
        writer.writerows(rows)


def make_sample(dest: Path, n_train: int = 1200, n_test: int = 200, size: int = 64,
                seed: int = 42, quality: int = 90) -> None:
    """Write the Planet sample into ``dest`` (Kaggle's layout; see the module docstring).

    The test tiles' own tags are drawn but not written: like Kaggle, the sample
    submission holds one placeholder tag string for every test image.

    Example:
        >>> from pathlib import Path; import tempfile
        >>> d = Path(tempfile.mkdtemp()); make_sample(d, n_train=3, n_test=1)
        >>> sorted(p.name for p in d.iterdir())
        ['sample_submission_v2.csv', 'test-jpg', 'train-jpg', 'train_v2.csv']
    """
    dest = Path(dest)
    _write_csv(dest / "train_v2.csv", _write_split(dest, "train", n_train, 0, size, seed, quality))
    test_rows = _write_split(dest, "test", n_test, 1, size, seed, quality)
    _write_csv(dest / "sample_submission_v2.csv", [(name, SUBMISSION_TAGS) for name, _ in test_rows])
