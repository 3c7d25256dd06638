"""Unit tests of coursehelpers.vision: labelling, splitting, presizing, DataLoaders, body/head/learner (CPU)."""
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from coursehelpers.augment import aug_transforms
from coursehelpers.vision import (
    BODY_NAMES, ImageDataset, create_body, dataloaders_from_csv, dataloaders_from_folder, get_image_files,
    dataloaders_from_name_re, encode_labels, image_tensor, label_from_regex, num_features, presize,
    random_split, resnet_splitter, tiny_resnet, vision_head, vision_learner, weights_file,
)

CPU = torch.device("cpu")


def write_image(path, colour, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def folder_data(tmp_path):
    """train/{red,blue}/*.png and valid/{red,blue}/*.png, 6 + 2 images a class."""
    for split, n in (("train", 6), ("valid", 2)):
        for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
            for i in range(n):
                write_image(tmp_path / split / name / f"{i}.png", colour)
    return tmp_path


def test_label_from_regex_on_pet_names():
    label = label_from_regex(r"^(.+)_\d+\.jpg$")
    assert label("images/great_pyrenees_17.jpg") == "great_pyrenees"
    assert label("Egyptian_Mau_3.jpg") == "Egyptian_Mau"
    with pytest.raises(ValueError, match="does not match"):
        label("notes.txt")


def test_encode_labels_single_and_multi():
    targets, classes = encode_labels(["dog", "cat", "dog"])
    assert classes == ["cat", "dog"] and targets.tolist() == [1, 0, 1] and targets.dtype == torch.long
    multi, tags = encode_labels([["clear", "primary"], ["haze"], []])
    assert tags == ["clear", "haze", "primary"]
    assert multi.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]] and multi.dtype == torch.float32
    with pytest.raises(ValueError, match="not in classes"):
        encode_labels(["cat", "cow"], classes=["cat", "dog"])


def test_random_split_is_seeded_and_sized():
    a, b = random_split(50, 0.2, seed=1), random_split(50, 0.2, seed=1)
    assert a.equal(b) and a.sum() == 10 and not a.equal(random_split(50, 0.2, seed=2))


def test_presize_keeps_the_centre_square(tmp_path):
    img = Image.new("RGB", (60, 30), (0, 0, 0))
    img.paste((255, 255, 255), (15, 0, 45, 30))  # white central square, black sides
    out = presize(img, 20)
    assert out.size == (20, 20)
    x = image_tensor(write_image(tmp_path / "a.png", (0, 0, 0), (60, 30)), item_size=20)
    assert x.shape == (3, 20, 20) and x.dtype == torch.float32
    assert min(out.getextrema()[0]) >= 200  # only the white centre is left (edges blend a little)


def test_image_dataset_items(tmp_path):
    files = [write_image(tmp_path / f"{i}.png", (255, 128, 0), (50 + i, 40)) for i in range(3)]
    ds = ImageDataset(files, torch.tensor([0, 1, 0]), ["a", "b"], item_size=32, cache=True)
    x, y = ds[1]
    assert x.shape == (3, 32, 32) and 0 <= x.min() and x.max() <= 1 and y == 1 and ds.label(1) == "b"
    assert torch.allclose(x[:, 0, 0], torch.tensor([1.0, 128 / 255, 0.0]))
    assert ds[1][0].equal(x) and 1 in ds._cached  # the second access comes from the cache
    u8 = ImageDataset(files, None, item_size=32, as_uint8=True)[0]
    assert len(u8) == 1 and u8[0].dtype == torch.uint8


def test_dataloaders_from_folder(folder_data):
    dls = dataloaders_from_folder(folder_data, item_size=24, size=16, bs=4, device=CPU)
    assert dls.classes == ["blue", "red"] and dls.c == 2
    assert len(dls.train_dl.dataset) == 12 and len(dls.valid_dl.dataset) == 4
    xb, yb = dls.one_batch("valid")
    assert xb.shape == (4, 3, 16, 16) and yb.dtype == torch.long
    raw = dls.denormalize(xb)  # normalised with ImageNet statistics, so it inverts to the colours
    colours = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # blue, red
    assert torch.allclose(raw[:, :, 8, 8], colours[yb], atol=1e-5)


def test_shuffling_is_seeded(folder_data):
    def first_targets(seed):
        dls = dataloaders_from_folder(folder_data, valid_pct=0.25, item_size=8, bs=4, seed=seed, device=CPU)
        return [dls.train_dl.dataset.files.index(f) for f in dls.train_dl.dataset.files], \
            torch.cat([b[-1] for b in dls.train_dl]).tolist()

    assert first_targets(3) == first_targets(3)


def test_dataloaders_from_name_re(tmp_path):
    for breed in ("Bengal", "pug", "great_pyrenees"):
        for i in range(1, 6):
            write_image(tmp_path / "images" / f"{breed}_{i}.jpg", (10, 20, 30))
    dls = dataloaders_from_name_re(tmp_path / "images", r"^(.+)_\d+\.jpg$", valid_pct=0.2, item_size=16,
                                   bs=4, device=CPU)
    assert dls.classes == ["Bengal", "great_pyrenees", "pug"]
    assert len(dls.valid_dl.dataset) == 3


def test_dataloaders_from_csv_multi_label(tmp_path):
    names = [f"train_{i}" for i in range(10)]
    for name in names:
        write_image(tmp_path / "train-jpg" / f"{name}.jpg", (0, 200, 0))
    tags = ["clear primary", "haze", "clear primary water", "cloudy", "", "haze primary", "clear", "clear",
            "partly_cloudy", "clear primary"]
    (tmp_path / "train_v2.csv").write_text("image_name,tags\n" + "\n".join(f"{n},{t}" for n, t in zip(names, tags)))
    dls = dataloaders_from_csv(tmp_path, "train_v2.csv", folder="train-jpg", suffix=".jpg", label_delim=" ",
                               item_size=16, bs=4, device=CPU)
    assert dls.classes == ["clear", "cloudy", "haze", "partly_cloudy", "primary", "water"]
    ds = dls.train_dl.dataset
    assert ds.multi_label and ds.targets.shape[1] == 6
    halves = dataloaders_from_csv(tmp_path, "train_v2.csv", folder="train-jpg", suffix=".jpg",
                                  label_delim=" ", valid_pct=0.5, item_size=16, device=CPU)
    assert len(halves.valid_dl.dataset) == 5


def test_dataloaders_from_csv_valid_column(tmp_path):
    for i in range(6):
        write_image(tmp_path / f"{i}.png", (0, 0, 0))
    flags = ["False", "True", "false", "False", "TRUE", "False"]  # as text: bool("False") would be True
    (tmp_path / "labels.csv").write_text("name,label,is_valid\n" + "\n".join(
        f"{i}.png,{'ab'[i % 2]},{f}" for i, f in enumerate(flags)))
    dls = dataloaders_from_csv(tmp_path, valid_col="is_valid", item_size=8, device=CPU)
    assert [f.name for f in dls.valid_dl.dataset.files] == ["1.png", "4.png"]


def test_tiny_resnet_has_torchvision_names_and_is_small():
    tiny = tiny_resnet(num_classes=10)
    resnet18_keys = set(torchvision.models.resnet18().state_dict())
    assert set(tiny.state_dict()) <= resnet18_keys  # same names: the same loading code serves both
    assert all(hasattr(tiny, name) for name in BODY_NAMES)
    assert sum(p.numel() for p in tiny.parameters()) < 1_000_000


def test_bundled_weights_load_into_the_body():
    path = weights_file("resnet34", "sample")  # bundled in the repository: must exist
    state = torch.load(path, weights_only=True)
    body = create_body("resnet34", pretrained=True, size="sample")
    assert torch.equal(body.conv1.weight, state["conv1.weight"].float())
    assert path.stat().st_size < 4_000_000


def test_full_mode_body_is_torchvision_resnet34():
    body = create_body("resnet34", pretrained=False, size="full")  # no download when not pretrained
    assert list(dict(body.named_children())) == list(BODY_NAMES) and num_features(body) == 512
    assert isinstance(body.layer1[0], torchvision.models.resnet.BasicBlock) and len(body.layer3) == 6


def test_head_layers_in_order():
    head = vision_head(192, 37)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["ConcatPool", "BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert head[1].num_features == 384 and head[3].out_features == 512 and head[-1].out_features == 37
    assert [head[2].p, head[6].p] == [0.25, 0.5]


def test_splitter_covers_every_parameter_once():
    model = nn.Sequential(create_body("tiny_resnet", pretrained=False), vision_head(192, 3))
    groups = resnet_splitter(model)
    ids = [id(p) for g in groups for p in g]
    assert len(groups) == 3 and len(ids) == len(set(ids)) == len(list(model.parameters()))


def test_vision_learner_starts_frozen_and_trains(folder_data):
    dls = dataloaders_from_folder(folder_data, item_size=32, size=32, bs=4, device=CPU,
                                  train_tfm=aug_transforms(size=32, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    learn = vision_learner(dls, "tiny_resnet", pretrained=False, progress=False, log_epochs=False)
    assert isinstance(learn.loss_func, nn.CrossEntropyLoss) and learn.channels_last
    learn.freeze()
    body, head = learn.model[0], learn.model[1]
    assert not body.conv1.weight.requires_grad and body.bn1.weight.requires_grad  # BN keeps training
    assert all(p.requires_grad for p in head.parameters())
    learn.unfreeze()
    before = body.conv1.weight.detach().clone()
    learn.fit_one_cycle(1, 1e-2)
    assert len(learn.history) == 1 and not body.conv1.weight.detach().equal(before)
    label, probs = learn.predict(image_tensor(folder_data / "valid" / "red" / "0.png", 32))
    assert label in dls.classes and probs.shape == (2,)


def test_pets_sample_layout_and_determinism(tmp_path):
    from coursehelpers.samples import pets

    pets.make_sample(tmp_path / "a", n_per_breed=2)
    pets.make_sample(tmp_path / "b", n_per_breed=2)
    files = get_image_files(tmp_path / "a" / "images")
    breeds = sorted({label_from_regex(r"^(.+)_\d+\.jpg$")(f) for f in files})
    assert len(files) == 74 and breeds == sorted(pets.BREEDS) and sum(b[0].isupper() for b in breeds) == 12
    for f in files:  # same bytes every run
        assert f.read_bytes() == (tmp_path / "b" / "images" / f.name).read_bytes()
    rows = [r for r in (tmp_path / "a" / "annotations" / "list.txt").read_text().splitlines() if not r.startswith("#")]
    assert len(rows) == 74 and rows[0] == "Abyssinian_1 1 1 1"  # Image CLASS-ID SPECIES BREED-ID
    facing = (tmp_path / "a" / "annotations" / "facing.csv").read_text().splitlines()
    assert facing[0] == "image,facing" and {r.split(",")[1] for r in facing[1:]} == {"left", "right"}


def test_shapes_are_deterministic():
    from coursehelpers.samples import shapes

    (a, la), (b, lb) = shapes.generate(20, 32, seed=3), shapes.generate(20, 32, seed=3)
    assert a.equal(b) and la.equal(lb) and la.shape == (20, 3)
    assert all(int(la[:, j].max()) < len(v) for j, v in enumerate(shapes.ATTRIBUTES.values()))
