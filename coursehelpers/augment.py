"""Batch augmentation on the device: flips, dihedral turns, rotation, zoom, perspective warp, lighting.

A batch ``[B, C, H, W]`` (uint8, or floats in [0, 1]) becomes floats in [0, 1],
transformed where it is (uint8 is converted inside the resample, never as a
whole batch of full-size floats). The geometric transforms are composed into one 3x3
matrix per image, so the batch is resampled ONCE (each interpolation blurs), and
to the final size: items presized to 460 px become 224 px batches in that same
resample. Coordinates are normalised to [-1, 1] (x right, y down), as
``grid_sample`` wants; a matrix maps an OUTPUT pixel to the INPUT point it samples.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Size = int | tuple[int, int] | None
# Floats resampled per grid_sample call on a CPU: measured fastest from 64 px (16 images) to 460 px (1 image).
CPU_CHUNK_BYTES = 2**20


# ---------------------------------------------------------------- matrices
def _eye(b: int) -> torch.Tensor:
    return torch.eye(3).repeat(b, 1, 1)


def flip_matrix(flip: torch.Tensor) -> torch.Tensor:
    """Horizontal flips: ``flip`` is a bool vector [B]; True mirrors x."""
    m = _eye(len(flip))
    m[:, 0, 0] = 1.0 - 2.0 * flip.float()
    return m


def dihedral_matrix(k: torch.Tensor) -> torch.Tensor:
    """The 8 symmetries of a square: ``k`` in 0..7 (k >= 4 mirrors x first, then k % 4 quarter turns).

    Quarter turns move pixel centres onto pixel centres: on square images the resample is exact.
    """
    m = _eye(len(k))
    turns, mirror = k % 4, k >= 4
    for t in range(1, 4):
        c, s = round(math.cos(t * math.pi / 2)), round(math.sin(t * math.pi / 2))
        m[turns == t, :2, :2] = torch.tensor([[c, -s], [s, c]], dtype=torch.float)
    return m @ flip_matrix(mirror)


def rotate_matrix(degrees: torch.Tensor, aspect: float = 1.0) -> torch.Tensor:
    """Rotations by ``degrees`` [B] about the centre, in pixel units for an input of width / height ``aspect``."""
    theta = degrees * math.pi / 180
    m = _eye(len(degrees))
    m[:, 0, 0], m[:, 0, 1] = theta.cos(), -theta.sin() / aspect
    m[:, 1, 0], m[:, 1, 1] = theta.sin() * aspect, theta.cos()
    return m


def crop_zoom_matrix(zoom: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor,
                     sx: float = 1.0, sy: float = 1.0) -> torch.Tensor:
    """Zoom in by ``zoom`` >= 1 on a window at (dx, dy), inside a central crop of scale (sx, sy).

    ``dx, dy`` in [-1, 1] place the window in the room it has (0: centre, +-1: an
    edge), so a zoomed output never samples outside the image.
    """
    m = _eye(len(zoom))
    m[:, 0, 0], m[:, 1, 1] = sx / zoom, sy / zoom
    m[:, 0, 2], m[:, 1, 2] = dx * sx * (1 - 1 / zoom), dy * sy * (1 - 1 / zoom)
    return m


def warp_matrix(wx: torch.Tensor, wy: torch.Tensor) -> torch.Tensor:
    """Perspective warps: dividing by ``1 + wx*x + wy*y`` makes the right edge ``(1+wx)/(1-wx)`` times as tall."""
    m = _eye(len(wx))
    m[:, 2, 0], m[:, 2, 1] = wx, wy
    return m


def sampling_grid(mats: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """The matrices [B, 3, 3] applied to the output pixel centres: the grid [B, h, w, 2] for ``grid_sample``.

    Example:
        >>> sampling_grid(torch.eye(3)[None], (2, 2))[0].tolist()  # the identity: the 4 pixel centres
        [[[-0.5, -0.5], [0.5, -0.5]], [[-0.5, 0.5], [0.5, 0.5]]]
    """
    h, w = out_hw
    ys = ((torch.arange(h, dtype=mats.dtype, device=mats.device) * 2 + 1) / h - 1).view(1, h, 1)
    xs = ((torch.arange(w, dtype=mats.dtype, device=mats.device) * 2 + 1) / w - 1).view(1, 1, w)
    m = mats.view(-1, 3, 3, 1, 1)
    # row r of the matrix times (x, y, 1), broadcast over the grid: cheaper than a batched [h*w, 3] @ [3, 3]
    x, y, z = (m[:, r, 0] * xs + m[:, r, 1] * ys + m[:, r, 2] for r in range(3))
    return torch.stack([x / z, y / z], dim=-1)


def resample(x: torch.Tensor, mats: torch.Tensor, out_hw: tuple[int, int],
             mode: str = "bilinear", padding_mode: str = "reflection") -> torch.Tensor:
    """Images [B, C, H, W] (uint8, or floats in [0, 1]) resampled through matrices [B, 3, 3] to floats of ``out_hw``.

    On the CPU a few images at a time (about `CPU_CHUNK_BYTES` of floats), whose
    float copy stays in the cache: at 460 px, one image at a time is several times
    faster than a whole batch of floats (benchmarks/image_pipeline.py). Elsewhere the whole batch at once.
    """
    mats = mats.to(x.device, torch.float32)
    dtype = x.dtype if x.is_floating_point() else torch.float32
    scale = 1 / 255 if x.dtype == torch.uint8 else 1.0  # linear: scaling the output is the same as the input
    per_image = max(1, x[0].numel() * 4) if len(x) else 1
    step = max(1, CPU_CHUNK_BYTES // per_image) if x.device.type == "cpu" else max(1, len(x))
    out = torch.empty(len(x), x.shape[1], *out_hw, dtype=dtype, device=x.device)
    for i in range(0, len(x), step):
        grid = sampling_grid(mats[i:i + step], out_hw).to(dtype)
        sampled = F.grid_sample(x[i:i + step].to(dtype), grid, mode=mode, padding_mode=padding_mode,
                                align_corners=False)
        out[i:i + step] = sampled.mul_(scale) if scale != 1 else sampled
    return out


def _out_hw(size: Size, x: torch.Tensor) -> tuple[int, int]:
    if size is None:
        return x.shape[-2], x.shape[-1]
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def _central_crop_scale(in_hw: tuple[int, int], out_hw: tuple[int, int]) -> tuple[float, float]:
    """Scale of the largest central window of the input that has the output's aspect ratio."""
    in_aspect, out_aspect = in_hw[1] / in_hw[0], out_hw[1] / out_hw[0]
    if in_aspect > out_aspect:  # the input is wider: crop its sides
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
class CenterResize(nn.Module):
    """Validation's transform: centre crop to the output's aspect, resize to ``size`` (same resampler as training)."""

    def __init__(self, size: Size = None, mode: str = "bilinear"):
        super().__init__()
        self.size, self.mode = size, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        in_hw, out_hw = (x.shape[-2], x.shape[-1]), _out_hw(self.size, x)
        if in_hw == out_hw:
            return to_float(x)
        sx, sy = _central_crop_scale(in_hw, out_hw)
        ones = torch.ones(len(x))
        return resample(x, crop_zoom_matrix(ones, 0 * ones, 0 * ones, sx, sy), out_hw, self.mode, "border")


class BatchAugment(nn.Module):
    """Random flips or dihedral turns, rotation, zoom, warp (one resample), then lighting, on a batch.

    Each image draws its own parameters, from ``generator`` (on the CPU, so a seed
    gives the same batch on any device; None: torch's global generator). In
    ``eval()`` mode it only resizes, like `CenterResize`. ``flip_vert=True`` draws
    any of the 8 symmetries of the square (satellite tiles have no "up").

    Example:
        >>> aug = BatchAugment(size=32, max_warp=0., generator=torch.Generator().manual_seed(0))
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
            sym = dihedral_matrix(torch.randint(0, 8, (b,), generator=g) * _chance(b, self.p_flip, g))
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
        """Random brightness (added) and contrast (scaled about mid-grey), clamped to [0, 1], IN PLACE on ``x``."""
        b, g, m = len(x), self.generator, self.max_lighting
        on = _chance(b, self.p_lighting, g).float()
        brightness = _uniform(b, -m / 2, m / 2, g) * on
        log_c = math.log(1 / (1 - m)) if m > 0 else 0.0
        contrast = torch.exp(_uniform(b, -log_c, log_c, g) * on)
        # (x - 0.5) * contrast + 0.5 + brightness, as one multiply and one add on the batch
        shift = 0.5 - 0.5 * contrast + brightness
        contrast, shift = (t.view(b, 1, 1, 1).to(x) for t in (contrast, shift))
        return x.mul_(contrast).add_(shift).clamp_(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        in_hw, out_hw = (x.shape[-2], x.shape[-1]), _out_hw(self.size, x)
        if not self.training:
            return CenterResize(out_hw, self.mode)(x)
        x = resample(x, self.matrices(len(x), in_hw, out_hw), out_hw, self.mode, self.padding_mode)
        return self.lighting(x) if self.max_lighting > 0 else x


def aug_transforms(size: Size = None, **kwargs) -> BatchAugment:
    """The standard training augmentation: a `BatchAugment` with fastai's defaults, unless ``kwargs`` change them."""
    return BatchAugment(size=size, **kwargs)
