"""One image as a person sees it (coursehelpers.image_io; issue 10, item 5): files shown as a viewer shows
them, 16-bit and float pixels scaled, arrays and tensors of every layout read alike, bad files named.
Test images are drawn with PIL in tmp folders."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from coursehelpers.image_io import BadImageError, as_mode, load_image, open_image, presize, to_uint8, verify_images

RED, BLUE = (255, 0, 0), (0, 0, 255)


def save(img: Image.Image, path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def test_exif_orientation_is_applied(tmp_path):
    stored = Image.new("RGB", (40, 20), RED)
    stored.paste(BLUE, (20, 0, 40, 20))  # stored: red left half, blue right half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view", as a phone held upright writes it
    path = save(stored, tmp_path / "phone.jpg", exif=exif, quality=95)
    shown = load_image(path)
    assert shown.shape == (3, 40, 20)  # upright: taller than wide
    assert shown[0, :15].float().mean() > 200 and shown[2, -15:].float().mean() > 200  # red on top, blue below
    assert torch.equal(load_image(Image.open(path)), shown)  # an opened PIL image is turned the same way


def test_16_bit_pixels_are_scaled_not_clipped(tmp_path):
    ramp = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)  # 0 .. 65535
    path = save(Image.fromarray(ramp), tmp_path / "depth.png")
    assert Image.open(path).mode.startswith("I")  # PIL reads it as 16-bit
    x = load_image(path)
    assert x.shape == (3, 16, 16) and torch.equal(x[0], x[2])
    assert x[0].flatten().tolist() == list(range(256))  # 257 * k -> k: the whole range, nothing clipped at 255
    assert torch.equal(load_image(ramp), x)  # the same pixels as a uint16 array


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # transparent black ...
    rgba.paste((255, 0, 0, 255), (5, 0, 10, 10))  # ... with an opaque red right half
    x = load_image(save(rgba, tmp_path / "logo.png"))
    assert x[:, :, :5].unique().tolist() == [255] and x[:, 0, -1].tolist() == [255, 0, 0]
    half = Image.new("LA", (4, 4), (0, 128))  # half-transparent black: mid-grey on white
    assert abs(int(load_image(save(half, tmp_path / "la.png"))[0, 0, 0]) - 127) <= 1


def test_palette_with_a_transparent_colour_and_cmyk_are_converted(tmp_path):
    palette = Image.new("P", (6, 6), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0])  # 0: black, 1: red
    palette.paste(0, (0, 0, 3, 6))  # left half colour 0, which is marked transparent
    x = load_image(save(palette, tmp_path / "icon.png", transparency=0))
    assert x[:, :, :3].unique().tolist() == [255] and x[:, 0, -1].tolist() == [255, 0, 0]
    cmyk = save(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), tmp_path / "print.jpg", quality=95)  # pure cyan ink
    r, g, b = load_image(cmyk)[:, 4, 4].tolist()
    assert r < 30 and g > 225 and b > 225


def test_greyscale_becomes_rgb_when_the_model_wants_rgb(tmp_path):
    path = save(Image.new("L", (8, 6), 77), tmp_path / "grey.png")
    rgb, grey = load_image(path, 4), load_image(path, 4, mode="L")
    assert rgb.shape == (3, 4, 4) and rgb.unique().tolist() == [77] and grey.shape == (1, 4, 4)


def bad_files(tmp_path) -> dict[str, object]:
    good = save(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)),
                tmp_path / "good.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not an image at all")
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a download cut short
    return {name: tmp_path / f"{name}.jpg" for name in ("good", "empty", "notes", "cut")}


@pytest.mark.parametrize("name", ["empty", "notes", "cut"])
def test_an_unreadable_file_is_an_error_naming_it_and_saying_what_to_do(tmp_path, name):
    path = bad_files(tmp_path)[name]
    with pytest.raises(BadImageError, match=f"{path}.*verify_images"):
        load_image(path, item_size=32)


def test_verify_images_lists_exactly_the_bad_files(tmp_path):
    files = bad_files(tmp_path)
    assert verify_images(files.values()) == [files["empty"], files["notes"], files["cut"]]
    assert load_image(files["good"]).shape == (3, 64, 64)


def test_presize_crops_and_resizes_in_one_step_like_resize_then_crop(tmp_path):
    def resize_then_crop(img, size):  # the previous presize, as a reference
        scale = size / min(img.size)
        w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
        img = img.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0 if scale < 0.5 else None)
        left, top = (w - size) // 2, (h - size) // 2
        return np.asarray(img.crop((left, top, left + size, top + size)), dtype=float)

    def photo(w, h):
        yy, xx = np.mgrid[0:h, 0:w]
        pixels = [xx * 255 / w, yy * 255 / h, 128 + 100 * np.sin(xx / 15) * np.cos(yy / 11)]
        return Image.fromarray(np.stack(pixels, -1).clip(0, 255).astype(np.uint8))

    for w, h, size in ((1680, 1200, 100), (640, 480, 240)):  # the crop falls on whole pixels: identical
        assert np.array_equal(np.asarray(presize(photo(w, h), size), dtype=float), resize_then_crop(photo(w, h), size))
    # 500x375 -> 460: the previous crop was rounded to a whole pixel, half a pixel off centre
    diff = np.abs(np.asarray(presize(photo(500, 375), 460), dtype=float) - resize_then_crop(photo(500, 375), 460))
    assert diff.mean() < 1.0 and diff.max() <= 8
    # a large JPEG is decoded at a reduced scale (at least twice the item size): close to a full decode
    path = save(photo(1680, 1200), tmp_path / "big.jpg", quality=95)
    full = resize_then_crop(Image.open(path).convert("RGB"), 100)
    diff = np.abs(load_image(path, 100).permute(1, 2, 0).numpy().astype(float) - full)
    assert diff.mean() < 1.5 and diff.max() <= 12


def test_arrays_and_tensors_of_every_layout_or_a_clear_error():
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    chw = torch.from_numpy(rgb).permute(2, 0, 1)
    for source in (rgb, chw, chw[None], chw.float() / 255, rgb.astype(np.int64)):
        assert torch.equal(load_image(source), chw)
    with pytest.raises(ValueError, match="permute"):
        load_image(torch.from_numpy(rgb))  # [H, W, C] tensor: it would be read as 6 channels
    with pytest.raises(ValueError, match="divide 0-255 floats by 255|Divide 0-255 floats by 255"):
        load_image(rgb.astype(np.float32))  # floats in 0..255 would all turn white


# ---------------------------------------------------------------- issue 15: what the mutants pointed at
def test_to_uint8_scales_every_16_bit_value_to_the_nearest_8_bit_one():
    every = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(to_uint8(every), np.floor(every.astype(float) * 255 / 65535 + 0.5).astype(np.uint8))


def test_to_uint8_shows_true_as_white_and_false_as_black():
    assert to_uint8(np.array([[True, False]])).tolist() == [[255, 0]]
    assert load_image(np.array([[True, False]]), mode="L").tolist() == [[[255, 0]]]


def test_to_uint8_keeps_uint8_and_0_to_255_integers():
    pixels = np.array([0, 7, 255], np.uint8)
    assert to_uint8(pixels) is pixels
    assert to_uint8(np.array([0, 1])).tolist() == [0, 1]  # a 0/1 integer mask is not scaled like floats
    kept = to_uint8(np.array([0, 7, 255], np.int64))
    assert kept.dtype == np.uint8 and kept.tolist() == [0, 7, 255]


def test_to_uint8_rounds_floats_and_forgives_a_little_rounding_error_outside_0_to_1():
    floats = np.array([-1e-3, -5e-4, 0.0, 0.002, 0.5, 0.998, 1.0, 1.0005, 1 + 1e-3])
    assert to_uint8(floats).tolist() == [0, 0, 0, 1, 128, 254, 255, 255, 255]
    assert to_uint8(np.zeros((0, 3), np.float32)).shape == (0, 3)  # nothing to scale


@pytest.mark.parametrize("pixels", [np.array([-0.01, 0.5]), np.array([0.5, 1.01]), np.array([-1, 5]),
                                    np.array([0, 256])])
def test_to_uint8_refuses_pixels_out_of_range_naming_the_range_and_what_to_do(pixels):
    with pytest.raises(ValueError, match=rf"my pixels holds {pixels.dtype} pixels from .*: images must be uint8"):
        to_uint8(pixels, "my pixels")


def test_a_float_pil_image_in_0_to_1_is_scaled_and_one_outside_is_named():
    levels = [0, 1, 100, 254, 255]
    ramp = (np.array([levels], np.float32) / 255)
    img = Image.fromarray(ramp)
    assert img.mode == "F"
    assert load_image(img, mode="L")[0, 0].tolist() == levels
    with pytest.raises(ValueError, match=r"a floating-point image holds float32 pixels from 0 to 255"):
        load_image(Image.fromarray(ramp * 255))


def test_as_mode_gives_rgb_unless_asked_otherwise():
    assert as_mode(Image.new("L", (2, 2), 9)).mode == "RGB"
    assert as_mode(Image.new("RGB", (2, 2)), "L").mode == "L"


def test_32_bit_integer_pixels_are_clipped_to_the_16_bit_range_then_scaled():
    img = Image.fromarray(np.array([[-5, 0, 257, 65535, 100_000]], np.int32))
    assert img.mode == "I"
    assert load_image(img, mode="L")[0, 0].tolist() == [0, 0, 1, 255, 255]


def test_single_channel_arrays_and_tensors_are_greyscale(tmp_path):
    grey = np.array([[0, 50], [100, 250]], np.uint8)
    expected = torch.from_numpy(grey)[None].expand(3, 2, 2)
    for source in (grey, grey[..., None], torch.from_numpy(grey), torch.from_numpy(grey)[None],
                   torch.from_numpy(grey)[None, None]):
        x = load_image(source)
        assert torch.equal(x, expected) and x.is_contiguous(), type(source)


def test_an_rgba_array_is_shown_on_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # one opaque red pixel, the rest transparent
    assert load_image(rgba)[:, :, :].permute(1, 2, 0).reshape(4, 3).tolist() == [[255, 0, 0]] + [[255] * 3] * 3


@pytest.mark.parametrize("shape", [(4, 5, 2), (4, 5, 5), (3, 4, 5, 3), (2, 4, 5)])
def test_arrays_of_an_unknown_layout_are_refused_with_the_layouts_allowed(shape):
    with pytest.raises(ValueError, match=rf"An image array is \[H, W\] or \[H, W, C\] .*not \({shape[0]}, "):
        load_image(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(2, 4, 5), (5, 4, 5), (2, 3, 4, 5)])
def test_tensors_of_an_unknown_layout_are_refused(shape):
    with pytest.raises(ValueError, match=r"An image (tensor|array) is"):
        load_image(torch.zeros(shape, dtype=torch.uint8))


def test_a_tensor_that_needs_gradients_is_read_like_any_other():
    x = torch.full((3, 2, 2), 0.5, requires_grad=True)
    assert load_image(x).unique().tolist() == [128]


def test_anything_else_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match=r"Cannot read an image from a list: pass a file path"):
        load_image([[0, 1], [2, 3]])


def mirrored_pair(tmp_path, orientation: int):
    stored = Image.new("RGB", (40, 20), RED)
    stored.paste(BLUE, (20, 0, 40, 20))  # red left half, blue right half
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(stored, tmp_path / f"o{orientation}.png", exif=exif)


@pytest.mark.parametrize("orientation, left", [(1, RED), (2, BLUE)])  # 2: "mirrored left to right"
def test_exif_orientation_1_is_left_alone_and_2_is_mirrored(tmp_path, orientation, left):
    path = mirrored_pair(tmp_path, orientation)
    for shown in (load_image(path), load_image(Image.open(path))):
        assert shown.shape == (3, 20, 40)
        assert tuple(shown[:, 10, 5].tolist()) == left and tuple(shown[:, 10, 35].tolist()) != left


@pytest.mark.parametrize("size", [(10, 30), (30, 10)])
def test_presize_keeps_the_centre_of_a_tall_or_wide_image(size):
    img = Image.new("RGB", size, RED)
    third = (0, 10, 10, 20) if size[0] == 10 else (10, 0, 20, 10)
    img.paste(BLUE, third)  # the middle third, top to bottom or left to right
    assert np.asarray(presize(img, 10)).reshape(-1, 3).tolist() == [list(BLUE)] * 100
    assert presize(img, None) is img


@pytest.mark.parametrize("stored, decoded", [((800, 800), (200, 200)), ((1600, 800), (400, 200)),
                                              ((800, 1600), (200, 400))])
def test_a_big_jpeg_is_decoded_at_no_less_than_twice_the_size_asked_for(tmp_path, stored, decoded):
    path = save(Image.new("RGB", stored, RED), tmp_path / "photo.jpg")
    assert open_image(path, min_size=100).size == decoded  # an eighth would leave the short side under 200
    assert open_image(path).size == stored


def test_load_image_decodes_a_big_jpeg_at_the_reduced_scale(tmp_path):
    rng = np.random.default_rng(0)
    path = save(Image.fromarray(rng.integers(0, 256, (400, 480, 3), dtype=np.uint8)), tmp_path / "noise.jpg")
    reduced, full = open_image(path, min_size=50), open_image(path)
    assert reduced.size == (120, 100) and torch.equal(load_image(path, 50), load_image(reduced, 50))
    assert not torch.equal(load_image(path, 50), load_image(full, 50))  # the full decode is slower and differs


def test_an_image_too_big_to_decode_safely_is_named(tmp_path, monkeypatch):
    path = save(Image.new("RGB", (64, 64)), tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 4096 pixels: over twice the limit, a decompression bomb
    with pytest.raises(BadImageError, match=rf"Cannot read the image {path}"):
        open_image(path)


def test_verify_images_gives_paths_for_names_given_as_text(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    assert verify_images([str(tmp_path / "empty.png")]) == [tmp_path / "empty.png"]
