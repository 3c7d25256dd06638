"""Batch augmentation on the device: flips, dihedral, rotation, zoom, perspective warp, lighting.

The transforms work on a whole batch of float images ``[B, C, H, W]`` in ``[0, 1]``
(uint8 batches are converted first), on whatever device the batch is on. All the
geometric ones are composed into one 3x3 matrix per image, so the batch is
resampled ONCE with a single ``F.grid_sample``: every extra interpolation would
blur the images a little more. The output may be smaller than the input: that is
*presizing*, where items are resized once to a large size (say 460 px) and the
batch is randomly cropped, zoomed, rotated and warped to the final size (224 px)
in that same resample.

Coordinates are normalised to ``[-1, 1]`` (x to the right, y downwards), as
``F.grid_sample`` wants them. A matrix maps an OUTPUT pixel's position to the
INPUT position it is sampled from.

Example:
    >>> tfm = aug_transforms(size=64, generator=torch.Generator().manual_seed(0))
    >>> tfm(torch.rand(8, 3, 96, 96)).shape
    torch.Size([8, 3, 64, 64])
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# Channel means and standard deviations of ImageNet's training set, used to
# normalise images for every torchvision model pretrained on it.
IMAGENET_STATS: tuple[tuple[float, ...], tuple[float, ...]] = (
    (0.485, 0.456, 0.406),
    (0.229, 0.224, 0.225),
)

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")

Size = int | tuple[int, int] | None


# ---------------------------------------------------------------- matrices
def _eye(b: int) -> torch.Tensor:
    return torch.eye(3).repeat(b, 1, 1)


def flip_matrix(flip: torch.Tensor) -> torch.Tensor:
    """Horizontal flips: ``flip`` is a bool vector [B]; True mirrors x.

    Example:
        >>> flip_matrix(torch.tensor([True]))[0, 0, 0].item()
        -1.0
    """
    m = _eye(len(flip))
    m[:, 0, 0] = 1.0 - 2.0 * flip.float()
    return m


def dihedral_matrix(k: torch.Tensor) -> torch.Tensor:
    """The 8 symmetries of a square: ``k`` in 0..7 (bit 2 = mirror x first, bits 0-1 = quarter turns).

    Quarter turns move pixel centres onto pixel centres, so on square images the
    resample is exact. k=0 is the identity.

    Example:
        >>> dihedral_matrix(torch.tensor([0]))[0].equal(torch.eye(3))
        True
    """
    m = _eye(len(k))
    turns, mirror = k % 4, k >= 4
    for t in range(1, 4):
        c, s = round(math.cos(t * math.pi / 2)), round(math.sin(t * math.pi / 2))
        m[turns == t, :2, :2] = torch.tensor([[c, -s], [s, c]], dtype=torch.float)
    return m @ flip_matrix(mirror)


def rotate_matrix(degrees: torch.Tensor, aspect: float = 1.0) -> torch.Tensor:
    """Rotations by ``degrees`` [B] about the centre; ``aspect`` = input width / height.

    Normalised coordinates stretch a non-square image differently along x and y,
    so the rotation is made in pixel units and converted back.

    Example:
        >>> torch.allclose(rotate_matrix(torch.tensor([0.0]))[0], torch.eye(3))
        True
    """
    theta = degrees * math.pi / 180
    m = _eye(len(degrees))
    m[:, 0, 0], m[:, 0, 1] = theta.cos(), -theta.sin() / aspect
    m[:, 1, 0], m[:, 1, 1] = theta.sin() * aspect, theta.cos()
    return m


def crop_zoom_matrix(zoom: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor,
                     sx: float = 1.0, sy: float = 1.0) -> torch.Tensor:
    """Zoom in by ``zoom`` >= 1 on a window centred at (dx, dy), inside a central crop of scale (sx, sy).

    ``dx, dy`` in [-1, 1] say where the window sits in the room it has: 0 is the
    centre, +-1 touches an edge. So a zoomed output never samples outside the image.

    Example:
        >>> crop_zoom_matrix(torch.tensor([2.0]), torch.tensor([1.0]), torch.tensor([0.0]))[0, 0].tolist()
        [0.5, 0.0, 0.5]
    """
    m = _eye(len(zoom))
    m[:, 0, 0], m[:, 1, 1] = sx / zoom, sy / zoom
    m[:, 0, 2], m[:, 1, 2] = dx * sx * (1 - 1 / zoom), dy * sy * (1 - 1 / zoom)
    return m


def warp_matrix(wx: torch.Tensor, wy: torch.Tensor) -> torch.Tensor:
    """Perspective (projective) warps: the image is tilted away by ``wx`` along x and ``wy`` along y.

    The bottom row (wx, wy, 1) divides coordinates by ``1 + wx*x + wy*y``, so one
    side of the image looks nearer than the other: the right edge appears
    ``(1 + wx) / (1 - wx)`` times as tall as the left one. wx = wy = 0 is the identity.

    Example:
        >>> warp_matrix(torch.tensor([0.2]), torch.tensor([0.0]))[0, 2].tolist()
        [0.20000000298023224, 0.0, 1.0]
    """
    m = _eye(len(wx))
    m[:, 2, 0], m[:, 2, 1] = wx, wy
    return m


def sampling_grid(mats: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """Apply 3x3 matrices [B, 3, 3] to the output pixel centres: the grid [B, h, w, 2] for ``grid_sample``.

    Example:
        >>> sampling_grid(torch.eye(3)[None], (2, 2))[0, 0, 0].tolist()
        [-0.5, -0.5]
    """
    h, w = out_hw
    ys = (torch.arange(h, dtype=mats.dtype, device=mats.device) * 2 + 1) / h - 1
    xs = (torch.arange(w, dtype=mats.dtype, device=mats.device) * 2 + 1) / w - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([xx, yy, torch.ones_like(xx)], dim=-1).reshape(-1, 3)  # [h*w, 3]
    mapped = points @ mats.transpose(1, 2)  # [B, h*w, 3]
    grid = mapped[..., :2] / mapped[..., 2:]
    return grid.reshape(len(mats), h, w, 2)


def resample(x: torch.Tensor, mats: torch.Tensor, out_hw: tuple[int, int],
             mode: str = "bilinear", padding_mode: str = "reflection") -> torch.Tensor:
    """Resample images [B, C, H, W] through matrices [B, 3, 3] into size ``out_hw``, in one ``grid_sample``."""
    grid = sampling_grid(mats.to(x.device, torch.float32), out_hw)
    return F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode=padding_mode, align_corners=False)


# ---------------------------------------------------------------- helpers
def _out_hw(size: Size, x: torch.Tensor) -> tuple[int, int]:
    if size is None:
        return x.shape[-2], x.shape[-1]
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _central_crop_scale(in_hw: tuple[int, int], out_hw: tuple[int, int]) -> tuple[float, float]:
    """Scale of the largest central window of the input that has the output's aspect ratio."""
    in_aspect, out_aspect = in_hw[1] / in_hw[0], out_hw[1] / out_hw[0]
    if in_aspect > out_aspect:  # input is wider: crop its sides
        return out_aspect / in_aspect, 1.0
    return 1.0, in_aspect / out_aspect


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in 0..255 become float32 in [0, 1]; float images are returned as they are."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _chance(n: int, p: float, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


# ---------------------------------------------------------------- modules
class BatchAugment(nn.Module):
    """Random flips/dihedral, rotation, zoom, warp (one resample) then lighting, on a batch.

    Each image draws its own parameters. Random numbers come from ``generator``
    (on the CPU, so a seed gives the same batch on any device); None uses torch's
    global generator. In ``eval()`` mode it only resizes (centre crop), like
    :func:`valid_transforms`.

    Example:
        >>> aug = BatchAugment(size=32, max_rotate=0., max_warp=0., generator=torch.Generator().manual_seed(0))
        >>> aug(torch.rand(2, 3, 48, 48)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, size: Size = None, do_flip: bool = True, flip_vert: bool = False,
                 max_rotate: float = 10.0, max_zoom: float = 1.1, max_lighting: float = 0.2,
                 max_warp: float = 0.2, p_affine: float = 0.75, p_lighting: float = 0.75,
                 p_flip: float = 0.5, mode: str = "bilinear", padding_mode: str = "reflection",
                 generator: torch.Generator | None = None):
        super().__init__()
        if max_zoom < 1:
            raise ValueError(f"max_zoom={max_zoom} must be >= 1 (1 means no zoom).")
        if not 0 <= max_lighting < 1:
            raise ValueError(f"max_lighting={max_lighting} must be in [0, 1).")
        self.size, self.do_flip, self.flip_vert = size, do_flip, flip_vert
        self.max_rotate, self.max_zoom, self.max_warp = max_rotate, max_zoom, max_warp
        self.max_lighting, self.p_affine, self.p_lighting, self.p_flip = max_lighting, p_affine, p_lighting, p_flip
        self.mode, self.padding_mode, self.generator = mode, padding_mode, generator

    def matrices(self, b: int, in_hw: tuple[int, int], out_hw: tuple[int, int]) -> torch.Tensor:
        """Draw the composed geometric matrices [B, 3, 3] for a batch of ``b`` images."""
        g, p = self.generator, self.p_affine
        sx, sy = _central_crop_scale(in_hw, out_hw)
        zoom = torch.where(_chance(b, p, g), _uniform(b, 1.0, self.max_zoom, g), torch.ones(b))
        crop = crop_zoom_matrix(zoom, _uniform(b, -1, 1, g), _uniform(b, -1, 1, g), sx, sy)
        degrees = _uniform(b, -self.max_rotate, self.max_rotate, g) * _chance(b, p, g)
        rotate = rotate_matrix(degrees, aspect=in_hw[1] / in_hw[0])
        if self.flip_vert:
            k = torch.randint(0, 8, (b,), generator=g) * _chance(b, self.p_flip, g)
            sym = dihedral_matrix(k)
        elif self.do_flip:
            sym = flip_matrix(_chance(b, self.p_flip, g))
        else:
            sym = _eye(b)
        on = _chance(b, p, g).float()
        # Tilts up to max_warp / 2: at max_warp=0.2 one edge appears up to 1.1/0.9 = 1.22x the other.
        half = self.max_warp / 2
        warp = warp_matrix(_uniform(b, -half, half, g) * on, _uniform(b, -half, half, g) * on)
        # Read right to left: an output point is warped, flipped, rotated, then placed in the crop.
        return crop @ rotate @ sym @ warp

    def lighting(self, x: torch.Tensor) -> torch.Tensor:
        """Random brightness (added) and contrast (scaled about mid-grey), clamped to [0, 1]."""
        b, g, m = len(x), self.generator, self.max_lighting
        on = _chance(b, self.p_lighting, g).float()
        brightness = _uniform(b, -m / 2, m / 2, g) * on
        log_c = math.log(1 / (1 - m)) if m > 0 else 0.0
        contrast = torch.exp(_uniform(b, -log_c, log_c, g) * on)
        shape = (b, 1, 1, 1)
        contrast, brightness = contrast.view(shape).to(x), brightness.view(shape).to(x)
        return ((x - 0.5) * contrast + 0.5 + brightness).clamp(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_float(x)
        in_hw, out_hw = (x.shape[-2], x.shape[-1]), _out_hw(self.size, x)
        if not self.training:
            return center_resize(x, out_hw, self.mode)
        mats = self.matrices(len(x), in_hw, out_hw)
        x = resample(x, mats, out_hw, self.mode, self.padding_mode)
        return self.lighting(x) if self.max_lighting > 0 else x

    def extra_repr(self) -> str:
        return (f"size={self.size}, do_flip={self.do_flip}, flip_vert={self.flip_vert}, "
                f"max_rotate={self.max_rotate}, max_zoom={self.max_zoom}, max_lighting={self.max_lighting}, "
                f"max_warp={self.max_warp}, p_affine={self.p_affine}, p_lighting={self.p_lighting}")


def center_resize(x: torch.Tensor, out_hw: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Centre crop to the output's aspect ratio and resize, with the same resampler as the augmentation.

    Using ``grid_sample`` here too keeps validation images interpolated exactly like training ones.
    """
    x = to_float(x)
    in_hw = (x.shape[-2], x.shape[-1])
    if in_hw == tuple(out_hw):
        return x
    sx, sy = _central_crop_scale(in_hw, out_hw)
    ones = torch.ones(len(x))
    mats = crop_zoom_matrix(ones, 0 * ones, 0 * ones, sx, sy)
    return resample(x, mats, out_hw, mode, padding_mode="border")


class CenterResize(nn.Module):
    """Deterministic transform for validation: centre crop to the output aspect, resize to ``size``.

    Example:
        >>> CenterResize(16)(torch.rand(2, 3, 20, 30)).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(self, size: Size = None, mode: str = "bilinear"):
        super().__init__()
        self.size, self.mode = size, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return center_resize(x, _out_hw(self.size, x), self.mode)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def aug_transforms(size: Size = None, do_flip: bool = True, flip_vert: bool = False,
                   max_rotate: float = 10.0, max_zoom: float = 1.1, max_lighting: float = 0.2,
                   max_warp: float = 0.2, p_affine: float = 0.75, p_lighting: float = 0.75,
                   generator: torch.Generator | None = None) -> BatchAugment:
    """The standard training augmentation (defaults as reported by fastai), as one ``nn.Module``.

    Pass it as ``DataLoaders(train_tfm=aug_transforms(size=224))``. ``flip_vert=True``
    draws any of the 8 dihedral symmetries (for satellite images, which have no "up").

    Example:
        >>> tfm = aug_transforms(size=224, max_warp=0.)
        >>> tfm.size, tfm.max_rotate, tfm.p_affine
        (224, 10.0, 0.75)
    """
    return BatchAugment(size=size, do_flip=do_flip, flip_vert=flip_vert, max_rotate=max_rotate,
                        max_zoom=max_zoom, max_lighting=max_lighting, max_warp=max_warp,
                        p_affine=p_affine, p_lighting=p_lighting, generator=generator)


def valid_transforms(size: Size = None) -> CenterResize:
    """The deterministic validation transform matching :func:`aug_transforms`: centre crop and resize.

    Example:
        >>> valid_transforms(8)(torch.rand(1, 3, 10, 10)).shape
        torch.Size([1, 3, 8, 8])
    """
    return CenterResize(size)


# ---------------------------------------------------------------- files
def resize_images(src: str | os.PathLike, dst: str | os.PathLike, max_size: int,
                  extensions: tuple[str, ...] = IMAGE_EXTENSIONS, quality: int = 90) -> list[Path]:
    """Write copies of every image under ``src`` into ``dst`` (same relative paths), longest side <= ``max_size``.

    A copy that exists and is newer than its original is skipped, so a second call
    is nearly free; smaller images are copied as they are (never enlarged).
    Returns the paths of the copies. Decoding a 500 px JPEG is several times faster
    than a 2000 px one, so this pays off on every epoch.

    Example:
        >>> # resize_images("data/oxford-iiit-pet/images", "data/pets-500", max_size=500)
    """
    from PIL import Image

    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"resize_images: source folder {src} does not exist.")
    out = []
    for path in sorted(p for p in src.rglob("*") if p.suffix.lower() in extensions):
        target = dst / path.relative_to(src)
        out.append(target)
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as img:
            img.load()
            if max(img.size) > max_size:
                scale = max_size / max(img.size)
                new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
                img = img.resize(new, Image.Resampling.BILINEAR, reducing_gap=2.0)
            if target.suffix.lower() in (".jpg", ".jpeg"):
                img.convert("RGB").save(target, quality=quality)
            else:
                img.save(target)
    return out
