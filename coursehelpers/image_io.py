"""One image as a person sees it: a file, PIL image, array or tensor -> a presized uint8 tensor [C, S, S].

A file is shown as a viewer shows it: turned as its EXIF orientation says, 16-bit
pixels scaled to 8 bits, transparent pixels on `BACKGROUND` (white), palette and
CMYK images converted. A file that cannot be read is a `BadImageError` naming it;
`verify_images` lists every such file before training.

Example:
    >>> load_image(np.zeros((30, 60, 3), np.uint8), item_size=20).shape
    torch.Size([3, 20, 20])
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white, as image viewers and browsers show them
ImageSource = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


class BadImageError(ValueError):
    """A file that cannot be read as an image (empty, truncated, or not an image at all)."""


def open_image(file: str | os.PathLike, min_size: int | None = None) -> Image.Image:
    """The decoded image in ``file``, upright; `BadImageError` naming the file if it cannot be read.

    ``min_size``: a JPEG at least twice that size is decoded at a reduced scale
    (still at least twice ``min_size``, so the final resize stays smooth): much faster for phone photos.
    """
    try:
        with Image.open(file) as img:
            if min_size is not None:
                img.draft(None, (2 * min_size, 2 * min_size))
            img.load()  # decode now: a truncated file fails here, not in the middle of an epoch
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise BadImageError(f"Cannot read the image {file} ({e}). Open it in an image viewer: if it is broken, "
                            "delete or replace it. verify_images(files) lists every such file, and the "
                            "dataset builders leave them out with drop_bad=True.") from e
    return upright(img)


def upright(img: Image.Image) -> Image.Image:
    """``img`` turned as its EXIF orientation tag says (phones store photos sideways and set this tag)."""
    return ImageOps.exif_transpose(img) if img.getexif().get(0x0112, 1) != 1 else img


def as_mode(img: Image.Image, mode: str = "RGB") -> Image.Image:
    """``img`` in ``mode`` ("RGB" or "L"): 16-bit scaled to 8, transparency on `BACKGROUND`, palette/CMYK converted.

    Example:
        >>> as_mode(Image.new("RGBA", (1, 1), (255, 0, 0, 0))).getpixel((0, 0))  # fully transparent: white
        (255, 255, 255)
    """
    if img.mode.startswith("I"):  # "I;16" and "I" (16-bit files): PIL's convert would clip at 255
        img = Image.fromarray(to_uint8(np.asarray(img).clip(0, 65535).astype(np.uint16)))
    elif img.mode == "F":  # floating-point pixels, in [0, 1]
        img = Image.fromarray(to_uint8(np.asarray(img), "a floating-point image"))
    if "A" in img.getbands() or "transparency" in img.info:  # RGBA, LA, PA, palettes with a clear colour
        flat = Image.new("RGBA", img.size, BACKGROUND + (255,))
        flat.alpha_composite(img.convert("RGBA"))
        img = flat
    return img if img.mode == mode else img.convert(mode)


def to_uint8(pixels: np.ndarray, what: str = "the array") -> np.ndarray:
    """Pixels as uint8: uint16 scaled (65535 -> 255), floats in [0, 1] times 255, other integers kept in 0..255.

    Example:
        >>> to_uint8(np.array([0, 32896, 65535], np.uint16)).tolist(), to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
        ([0, 128, 255], [0, 128, 255])
    """
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:
        return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if pixels.dtype == np.bool_:
        return pixels.astype(np.uint8) * 255
    lo, hi = (float(pixels.min()), float(pixels.max())) if pixels.size else (0.0, 0.0)
    if np.issubdtype(pixels.dtype, np.floating) and -1e-3 <= lo and hi <= 1 + 1e-3:
        return (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)
    if np.issubdtype(pixels.dtype, np.integer) and 0 <= lo and hi <= 255:
        return pixels.astype(np.uint8)
    raise ValueError(f"{what} holds {pixels.dtype} pixels from {lo:g} to {hi:g}: images must be uint8 (0-255), "
                     "uint16 (0-65535) or floats in [0, 1]. Divide 0-255 floats by 255 first.")


def _array_image(source: np.ndarray | torch.Tensor) -> Image.Image:
    """An array [H, W(, C)] or a tensor [(1,) C, H, W] / [H, W] as a PIL image (C = 1, 3 or 4)."""
    if isinstance(source, torch.Tensor):
        t = source.detach().cpu()
        t = t[0] if t.ndim == 4 and len(t) == 1 else t  # a batch of one
        if t.ndim == 3 and t.shape[0] not in (1, 3, 4):
            raise ValueError(f"An image tensor is [C, H, W] with C = 1, 3 or 4, not {tuple(t.shape)}: "
                             "permute an [H, W, C] tensor with .permute(2, 0, 1) first.")
        source = (t.permute(1, 2, 0) if t.ndim == 3 else t).numpy()
    if source.ndim == 3 and source.shape[-1] == 1:
        source = source[..., 0]
    if not (source.ndim == 2 or (source.ndim == 3 and source.shape[-1] in (3, 4))):
        raise ValueError(f"An image array is [H, W] or [H, W, C] with C = 1, 3 or 4, not {source.shape}.")
    return Image.fromarray(to_uint8(np.ascontiguousarray(source), "the image array"))


def presize(img: Image.Image, item_size: int | None) -> Image.Image:
    """The centre square of ``img``, resized to ``item_size`` in one step (None: unchanged).

    Cropping and resizing in the same call resamples only the pixels kept (the
    filter still reads a little past the square's edge, as resizing first would).
    """
    if item_size is None:
        return img
    side = min(img.size)
    left, top = (img.width - side) / 2, (img.height - side) / 2
    return img.resize((item_size, item_size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side),
                      reducing_gap=2.0 if side >= 2 * item_size else None)


def load_image(source: ImageSource, item_size: int | None = None, mode: str = "RGB") -> torch.Tensor:
    """One image as a uint8 tensor [C, S, S] (C = 3 for "RGB", 1 for "L"), presized to ``item_size``.

    ``source``: a file, a PIL image (turned by its EXIF tag, like its file), an array
    [H, W(, C)] or a tensor [(1,) C, H, W] (uint8, uint16, or floats in [0, 1]); all go
    through the same conversion and resize, so each gives the same pixels as its file.

    Example:
        >>> x = load_image(torch.ones(3, 8, 12), item_size=4)
        >>> x.shape, x.dtype, int(x.max())
        (torch.Size([3, 4, 4]), torch.uint8, 255)
    """
    if isinstance(source, (str, os.PathLike)):
        img = open_image(source, item_size)
    elif isinstance(source, Image.Image):
        img = upright(source)
    elif isinstance(source, (np.ndarray, torch.Tensor)):
        img = _array_image(source)
    else:
        raise TypeError(f"Cannot read an image from a {type(source).__name__}: pass a file path, a PIL image, "
                        "a NumPy array [H, W, C] or a tensor [C, H, W].")
    x = torch.from_numpy(np.array(presize(as_mode(img, mode), item_size), dtype=np.uint8))
    return x[None] if x.ndim == 2 else x.permute(2, 0, 1).contiguous()


def verify_images(files: Iterable[str | os.PathLike]) -> list[Path]:
    """The files that cannot be read as images (empty, truncated, not an image): fix or drop them before training.

    Example:
        >>> [str(f) for f in verify_images([os.devnull])]  # an empty "file"
        ['/dev/null']
    """
    bad = []
    for f in files:
        try:
            open_image(f)
        except BadImageError:
            bad.append(Path(f))
    return bad
