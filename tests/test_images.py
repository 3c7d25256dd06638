"""A learner's own images and labels (issue 10, items 5 and 6): files shown as a viewer shows them, bad files
named, dataset mistakes listed when the datasets are built. Test images are drawn with PIL in tmp folders."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from coursehelpers.image_io import BadImageError, load_image, presize, verify_images
from coursehelpers.images import datasets_from_csv, datasets_from_df, datasets_from_folder, get_image_files

RED, BLUE = (255, 0, 0), (0, 0, 255)


def save(img: Image.Image, path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def colour_folders(root, layout: dict[str, int]):
    """``root/<class>/<i>.png`` for each class and count in ``layout`` (a class named "red..." is red, else blue)."""
    for name, n in layout.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            save(Image.new("RGB", (24, 20), RED if name.lower().startswith("r") else BLUE), root / name / f"{i}.png")
    return root


def labels_csv(tmp_path, rows: list[str], header: str = "name,label"):
    for i in range(len(rows)):
        save(Image.new("RGB", (12, 12), RED), tmp_path / f"{i}.png")
    (tmp_path / "labels.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return tmp_path


# ---------------------------------------------------------------- item 5: images as a person sees them
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


def test_folder_builder_drops_bad_files_only_when_asked(tmp_path, capsys):
    root = colour_folders(tmp_path / "pics", {"red": 5, "blue": 5})
    (root / "red" / "broken.png").write_bytes(b"\x89PNG\r\n")  # a truncated PNG header
    (root / "blue" / "empty.jpg").write_bytes(b"")
    kept = datasets_from_folder(root, valid_pct=0.3, item_size=8)
    assert sum(len(ds) for ds in kept) == 12  # off by default: building reads no pixels
    train_ds, valid_ds = datasets_from_folder(root, valid_pct=0.3, item_size=8, drop_bad=True)
    assert "Dropped 2 of 12 images" in capsys.readouterr().out
    files = train_ds.files + valid_ds.files
    assert len(files) == 10 and not {f.name for f in files} & {"broken.png", "empty.jpg"}


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


# ---------------------------------------------------------------- item 6: dataset mistakes are listed
def test_train_and_valid_class_names_that_differ_are_listed(tmp_path):
    colour_folders(tmp_path / "train", {"Right": 3, "left": 3})
    colour_folders(tmp_path / "valid", {"right": 2, "left": 2})
    with pytest.raises(ValueError, match=r"only in training \['Right'\], only in validation \['right'\]"):
        datasets_from_folder(tmp_path)


def test_one_class_only_is_an_error(tmp_path):
    colour_folders(tmp_path / "train", {"cat": 3})
    colour_folders(tmp_path / "valid", {"cat": 2})
    with pytest.raises(ValueError, match=r"one class \['cat'\]"):
        datasets_from_folder(tmp_path)


def test_an_empty_class_folder_is_named(tmp_path):
    colour_folders(tmp_path / "train", {"red": 3, "blue": 3, "green": 0})
    colour_folders(tmp_path / "valid", {"red": 2, "blue": 2})
    with pytest.raises(ValueError, match=r"no images in .*train: \['green'\]"):
        datasets_from_folder(tmp_path)


def test_hidden_folders_and_files_are_ignored(tmp_path):
    root = colour_folders(tmp_path / "pics", {"red": 4, "blue": 4})
    save(Image.new("RGB", (8, 8)), root / "red" / ".ipynb_checkpoints" / "0-checkpoint.png")
    save(Image.new("RGB", (8, 8)), root / ".ipynb_checkpoints" / "blue" / "0.png")
    save(Image.new("RGB", (8, 8)), root / "blue" / "._0.png")  # macOS metadata file
    assert len(get_image_files(root)) == 8
    train_ds, valid_ds = datasets_from_folder(root, valid_pct=0.25)
    assert train_ds.classes == ["blue", "red"] and len(train_ds) + len(valid_ds) == 8


def test_empty_or_nan_labels_are_errors_naming_their_rows(tmp_path):
    path = labels_csv(tmp_path, ["0.png,cat", "1.png,", "2.png,dog", "3.png,  ", "4.png,dog"])
    with pytest.raises(ValueError, match=r"labels.csv: column 1 is empty in rows 1, 3"):
        datasets_from_csv(path)
    df = pd.DataFrame({"file": ["0.png", "1.png", "2.png"], "label": ["cat", np.nan, "dog"]})
    with pytest.raises(ValueError, match=r"column 'label' is empty in rows 1 "):
        datasets_from_df(df, tmp_path, fn_col="file", label_col="label")


def test_a_csv_naming_missing_files_lists_them_when_the_datasets_are_built(tmp_path):
    path = labels_csv(tmp_path, ["0.png,cat", "1.png,dog", "2.png,cat", "3.png,dog"])
    (tmp_path / "labels.csv").write_text("name,label\n0.png,cat\n1.png,dog\n2.png,cat\n3.png,dog\n"
                                         "lost.png,cat\ngone.png,dog\n")
    with pytest.raises(FileNotFoundError, match=r"2 of the 6 files do not exist: .*lost.png, .*gone.png"):
        datasets_from_csv(path)


def test_labels_lose_surrounding_spaces(tmp_path):
    path = labels_csv(tmp_path, ["0.png, cat", "1.png,dog ", "2.png,cat", "3.png, dog"])
    train_ds, _ = datasets_from_csv(path, valid_pct=0.25)
    assert train_ds.classes == ["cat", "dog"]
    (tmp_path / "tags.csv").write_text("name,tags\n0.png, clear  primary \n1.png,haze\n2.png,\n3.png,clear\n")
    tagged, _ = datasets_from_csv(tmp_path, "tags.csv", label_delim=" ", valid_pct=0.25)
    assert tagged.classes == ["clear", "haze", "primary"]


def test_datasets_from_a_dataframe_match_the_csv(tmp_path):
    path = labels_csv(tmp_path, [f"{i}.png,{'ab'[i % 2]},{i >= 4}" for i in range(6)], "name,label,is_valid")
    df = pd.read_csv(path / "labels.csv")
    from_df = datasets_from_df(df, path, fn_col="name", label_col="label", valid_col="is_valid")
    from_csv = datasets_from_csv(path, fn_col="name", label_col="label", valid_col="is_valid")
    for a, b in zip(from_df, from_csv):
        assert a.files == b.files and torch.equal(a.targets, b.targets) and a.classes == b.classes
    assert [f.name for f in from_df[1].files] == ["4.png", "5.png"]
    with pytest.raises(ValueError, match=r"no column 'labels'; its columns are \['name', 'label', 'is_valid'\]"):
        datasets_from_df(df, path, label_col="labels")
