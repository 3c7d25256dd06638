"""A learner's own images and labels (issue 10, items 5 and 6): files shown as a viewer shows them, bad files
named, dataset mistakes listed when the datasets are built. Test images are drawn with PIL in tmp folders."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from coursehelpers.images import (
    ImageDataset, datasets_from_csv, datasets_from_df, datasets_from_folder, encode_labels, get_image_files,
    image_datasets, label_from_regex, random_split,
)

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


# ---------------------------------------------------------------- item 5: bad files left out when asked
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


# ---------------------------------------------------------------- issue 15: what the mutants pointed at
def test_get_image_files_matches_extensions_in_any_case_and_skips_folders(tmp_path):
    for name in ("a.JPG", "b.png", "c.txt", "d.webp"):
        save(Image.new("RGB", (4, 4)), tmp_path / "x" / name, format="PNG")
    (tmp_path / "x" / "folder.png").mkdir()  # a folder named like an image
    assert [p.name for p in get_image_files(tmp_path / "x")] == ["a.JPG", "b.png", "d.webp"]
    assert [p.name for p in get_image_files(tmp_path / "x", extensions=(".png",))] == ["b.png"]


def test_get_image_files_of_a_missing_folder_says_how_to_fetch_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"No folder {tmp_path / 'nope'}: .*get_data"):
        get_image_files(tmp_path / "nope")


def test_a_folder_with_no_images_at_all_is_named(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "notes.txt").write_text("no images here")  # a file, but no class folder
    (tmp_path / "valid").mkdir()
    with pytest.raises(ValueError, match=rf"No images \(\.jpg, .*\) under {tmp_path / 'train'}: check the path"):
        datasets_from_folder(tmp_path)


def test_a_hidden_empty_folder_is_not_called_an_empty_class(tmp_path):
    root = colour_folders(tmp_path / "pics", {"red": 2, "blue": 2})
    (root / ".cache").mkdir()
    train_ds, valid_ds = datasets_from_folder(root, valid_pct=0.5)
    assert train_ds.classes == ["blue", "red"] and len(train_ds) + len(valid_ds) == 4


def test_train_and_valid_folders_may_have_other_names(tmp_path):
    colour_folders(tmp_path / "training", {"red": 3, "blue": 3})
    colour_folders(tmp_path / "val", {"red": 1, "blue": 1})
    train_ds, valid_ds = datasets_from_folder(tmp_path, train="training", valid="val", item_size=6)
    assert len(train_ds) == 6 and {f.parent.parent.name for f in valid_ds.files} == {"val"}
    assert valid_ds.item_size == 6 and valid_ds[0][0].shape == (3, 6, 6)


def test_a_long_list_of_missing_files_shows_five_and_counts_the_rest(tmp_path):
    files = [tmp_path / f"{i}.png" for i in range(8)]
    with pytest.raises(FileNotFoundError, match=r"8 of the 8 files do not exist: .*0\.png, .*4\.png and 3 more\."):
        image_datasets(files, ["a", "b"] * 4)


def test_files_and_labels_that_do_not_pair_up_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"2 files and 1 labels"):
        image_datasets([tmp_path / "0.png", tmp_path / "1.png"], ["a"])
    with pytest.raises(ValueError, match=r"0 files and 0 labels"):
        image_datasets([], [])


def test_items_without_a_label_are_named(tmp_path):
    files = [tmp_path / f"{i}.png" for i in range(3)]
    with pytest.raises(ValueError, match=r"2 items have no label: 0 \(0\.png\), 2 \(2\.png\)\."):
        image_datasets(files, [" ", "cat", None])


def test_a_valid_mask_of_the_wrong_length_or_one_class_is_refused(tmp_path):
    path = labels_csv(tmp_path, ["0.png,cat", "1.png,dog", "2.png,cat"])
    files = [path / f"{i}.png" for i in range(3)]
    with pytest.raises(ValueError, match=r"valid has 2 entries for 3 files"):
        image_datasets(files, ["cat", "dog", "cat"], valid=[True, False])
    with pytest.raises(ValueError, match=r"All 3 files have the one class \['cat'\]"):
        image_datasets(files, ["cat"] * 3)
    with pytest.raises(ValueError, match=r"leaves 3 of 3 files for validation"):
        image_datasets(files, ["cat", "dog", "cat"], valid=[True] * 3)


def test_multi_label_splits_need_not_share_every_tag(tmp_path):
    path = labels_csv(tmp_path, [f"{i}.png,x" for i in range(4)])
    files = [path / f"{i}.png" for i in range(4)]
    train_ds, valid_ds = image_datasets(files, [["a"], ["a", " b "], ["c", ""], []], valid=[False, False, True, True])
    assert train_ds.classes == ["a", "b", "c"] and valid_ds.targets.tolist() == [[0, 0, 1], [0, 0, 0]]


def test_image_datasets_pass_the_size_and_cache_on(tmp_path):
    path = labels_csv(tmp_path, [f"{i}.png,{'ab'[i % 2]}" for i in range(4)])
    files = [path / f"{i}.png" for i in range(4)]
    train_ds, valid_ds = image_datasets(files, ["a", "b"] * 2, valid=[False, False, True, True], item_size=5,
                                        cache=True, classes=["b", "a"])
    assert train_ds.classes == ["b", "a"] and train_ds.targets.tolist() == [1, 0]
    x = valid_ds[0][0]
    assert x.shape == (3, 5, 5) and valid_ds[0][0] is x  # cached


def test_an_uncached_dataset_reads_the_file_each_time_in_its_mode(tmp_path):
    path = save(Image.new("RGB", (6, 6), RED), tmp_path / "a.png")
    ds = ImageDataset([str(path)], torch.tensor([[1.0, 0.0]]), mode="L")
    first = ds[0][0]
    assert ds.multi_label and ds.files == [path] and ds.classes is None
    assert first.shape == (1, 6, 6) and ds[0][0] is not first and ds.cached == {}


def test_random_split_refuses_a_fraction_outside_0_to_1():
    for pct in (0, 1, 1.5):
        with pytest.raises(ValueError, match=rf"valid_pct={pct} must be between 0 and 1"):
            random_split(10, pct)
    assert int(random_split(7, 0.5).sum()) == 4 and random_split(10).sum() == 2  # round(3.5); the default 20%


def test_a_regex_without_a_group_is_refused_naming_the_file():
    with pytest.raises(ValueError, match=r"Pattern '\\\\d' does not match file name 'a1\.jpg' \(or has no group\)"):
        label_from_regex(r"\d")("x/a1.jpg")


def test_encode_labels_keeps_the_classes_given_and_their_order():
    targets, classes = encode_labels([["b"], ["a", "b"]], classes=["b", "a", "z"])
    assert classes == ["b", "a", "z"] and targets.tolist() == [[1, 0, 0], [1, 1, 0]]
    assert encode_labels([])[0].tolist() == [] and encode_labels([])[1] == []


def test_dataframe_columns_by_position_suffix_and_tags(tmp_path):
    path = labels_csv(tmp_path, [f"{i}.png,x" for i in range(4)])
    df = pd.DataFrame({"tags": ["a b", np.nan, "b", "a"], "file": [" 0", "1", "2 ", "3"],
                       "valid": ["no", "Yes", "0", "t"]})
    train_ds, valid_ds = datasets_from_df(df, path, fn_col=1, label_col=0, label_delim=" ", suffix=".png",
                                          valid_col="valid")
    assert [f.name for f in valid_ds.files] == ["1.png", "3.png"] and valid_ds.targets.tolist() == [[0, 0], [1, 0]]
    assert train_ds.classes == ["a", "b"]
    with pytest.raises(ValueError, match=r"my table has no column 3; its columns are \['tags', 'file', 'valid'\]"):
        datasets_from_df(df, path, fn_col=3, name="my table")


@pytest.mark.parametrize("flag", ["1", "1.0", "y", "yes", "t", "True"])
def test_every_way_of_writing_true_marks_a_validation_row(tmp_path, flag):
    path = labels_csv(tmp_path, ["0.png,a", "1.png,b", "2.png,a", "3.png,b"])
    df = pd.DataFrame({"name": [f"{i}.png" for i in range(4)], "label": list("abab"),
                       "is_valid": ["0", "no", flag, flag]})
    assert [f.name for f in datasets_from_df(df, path, valid_col="is_valid")[1].files] == ["2.png", "3.png"]


def test_a_csv_names_itself_in_errors_and_finds_its_files_in_a_folder(tmp_path):
    for i in range(4):
        save(Image.new("RGB", (4, 4)), tmp_path / "imgs" / f"{i}.png")
    (tmp_path / "list.csv").write_text("name,label\n0.png,a\n1.png,b\n2.png,a\n3.png,\n")
    with pytest.raises(ValueError, match=rf"{tmp_path / 'list.csv'}: column 1 is empty in rows 3 "):
        datasets_from_csv(tmp_path, "list.csv", folder="imgs")
    (tmp_path / "list.csv").write_text("name,label\n0.png,a\n1.png,b\n2.png,a\n3.png,b\n")
    train_ds, valid_ds = datasets_from_csv(tmp_path, "list.csv", folder="imgs", valid_pct=0.5)
    assert {f.parent.name for f in train_ds.files + valid_ds.files} == {"imgs"}


def test_dropping_bad_files_names_them(tmp_path, capsys):
    root = colour_folders(tmp_path / "pics", {"red": 3, "blue": 3})
    (root / "red" / "broken.png").write_bytes(b"")
    datasets_from_folder(root, valid_pct=0.3, drop_bad=True)
    assert capsys.readouterr().out == f"Dropped 1 of 7 images that cannot be read: {root / 'red' / 'broken.png'}\n"
    (root / "red" / "broken.png").unlink()
    datasets_from_folder(root, valid_pct=0.3, drop_bad=True)
    assert capsys.readouterr().out == "Dropped 0 of 6 images that cannot be read\n"


def test_five_items_are_listed_whole_and_a_sixth_is_counted(tmp_path):
    for n, tail in ((5, r"4\.png\. Check"), (6, r"4\.png and 1 more\. Check")):
        with pytest.raises(FileNotFoundError, match=rf"{n} of the {n} files do not exist: .*{tail}"):
            image_datasets([tmp_path / f"{i}.png" for i in range(n)], ["a", "b", "a", "b", "a", "b"][:n])


def test_a_single_item_with_tags_is_multi_label():
    targets, classes = encode_labels([["b", "a"]])
    assert classes == ["a", "b"] and targets.tolist() == [[1.0, 1.0]]
    assert encode_labels([])[0].dtype == torch.long  # class indices, even for none


def test_a_nan_label_is_no_label(tmp_path):
    files = [tmp_path / f"{i}.png" for i in range(2)]
    with pytest.raises(ValueError, match=r"1 items have no label: 1 \(1\.png\)"):
        image_datasets(files, ["cat", float("nan")])


def test_the_default_split_is_seed_42s_and_the_seed_given_is_used(tmp_path):
    path = labels_csv(tmp_path, [f"{i}.png,x" for i in range(12)])
    files, labels = [path / f"{i}.png" for i in range(12)], ["a", "b"] * 6
    held = {seed: image_datasets(files, labels, seed=seed)[1].files for seed in (1, 2, 42)}
    assert image_datasets(files, labels)[1].files == held[42] and held[1] != held[2]
    assert random_split(12).equal(random_split(12, seed=42))


def test_datasets_read_their_files_again_unless_asked_to_cache(tmp_path):
    path = labels_csv(tmp_path, [f"{i}.png,x" for i in range(4)])
    train_ds, _ = image_datasets([path / f"{i}.png" for i in range(4)], ["a", "b"] * 2, valid=[0, 0, 1, 1])
    assert [f.name for f in train_ds.files] == ["0.png", "1.png"]  # a 0/1 mask works like True/False
    assert train_ds[0][0] is not train_ds[0][0] and train_ds.cached == {}


def test_any_tag_separator_and_the_other_arguments_are_passed_on(tmp_path):
    path = labels_csv(tmp_path, [f"{i}.png,x" for i in range(4)])
    df = pd.DataFrame({"name": [f"{i}.png" for i in range(4)], "tags": ["a;b", "b", "a", "a b"]})
    train_ds, valid_ds = datasets_from_df(df, path, label_delim=";", valid_pct=0.5, item_size=5)
    assert train_ds.classes == ["a", "a b", "b"] and len(valid_ds) == 2  # "a b" is one tag here
    assert valid_ds.item_size == 5 and valid_ds[0][0].shape == (3, 5, 5)
