"""Unit tests of coursehelpers.images and coursehelpers.vision: loading, labelling, splitting, prepare, models,
export and predict (CPU)."""
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from coursehelpers.augment import aug_transforms
from coursehelpers.config import TrainConfig
from coursehelpers.data import get_weights
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.export import load_learner
from coursehelpers.images import (
    ImageDataset, datasets_from_csv, datasets_from_folder, encode_labels, get_image_files, image_datasets,
    label_from_regex, load_image, random_split,
)
from coursehelpers.vision import (
    BODY_NAMES, IMAGENET_STATS, ConcatPool, ImagePrepare, TinyResNet, create_body, image_dataloaders,
    resnet_splitter, tiny_resnet, vision_head, vision_learner, vision_model,
)

CPU = torch.device("cpu")
QUIET = TrainConfig(log=False)


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


def noisy_folder(tmp_path, n=8):
    """Two classes of noisy images (reddish and bluish), each a different size, so predictions vary."""
    rng = np.random.default_rng(0)
    for name, channel in (("red", 0), ("blue", 2)):
        for i in range(n):
            pixels = rng.integers(0, 150, (30 + i, 40, 3), dtype=np.uint8)
            pixels[..., channel] += 100
            (tmp_path / "images" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


# ---------------------------------------------------------------- images
def test_load_image_takes_a_path_pil_array_or_tensor_the_same_way(tmp_path):
    img = Image.new("RGB", (60, 30), (0, 0, 0))
    img.paste((255, 255, 255), (15, 0, 45, 30))  # white central square, black sides
    path = tmp_path / "a.png"
    img.save(path)
    from_path = load_image(path, item_size=20)
    assert from_path.shape == (3, 20, 20) and from_path.dtype == torch.uint8
    assert from_path.min() >= 200  # only the white centre is left (edges blend a little)
    as_array = np.array(img)
    for source in (img, as_array, torch.from_numpy(as_array).permute(2, 0, 1),
                   torch.from_numpy(as_array).permute(2, 0, 1).float() / 255):
        assert torch.equal(load_image(source, item_size=20), from_path)
    assert load_image(path).shape == (3, 30, 60)  # no item_size: the file's own size
    assert load_image(path, 10, mode="L").shape == (1, 10, 10)
    with pytest.raises(TypeError, match="file path"):
        load_image([1, 2, 3])


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


def test_image_dataset_items_are_uint8_and_cached(tmp_path):
    files = [write_image(tmp_path / f"{i}.png", (255, 128, 0), (50 + i, 40)) for i in range(3)]
    ds = ImageDataset(files, torch.tensor([0, 1, 0]), ["a", "b"], item_size=32, cache=True)
    x, y = ds[1]
    assert x.shape == (3, 32, 32) and x.dtype == torch.uint8 and y == 1 and not ds.multi_label
    assert x[:, 0, 0].tolist() == [255, 128, 0]
    assert ds[1][0] is x  # the second access comes from the cache
    assert len(ImageDataset(files, item_size=8)[0]) == 1  # no targets: a test set
    with pytest.raises(ValueError, match="pair up"):
        ImageDataset(files, torch.tensor([0, 1]))


def test_datasets_from_folder(folder_data):
    train_ds, valid_ds = datasets_from_folder(folder_data, item_size=24)
    assert train_ds.classes == valid_ds.classes == ["blue", "red"]
    assert len(train_ds) == 12 and len(valid_ds) == 4 and valid_ds[0][0].shape == (3, 24, 24)
    mixed, held_out = datasets_from_folder(folder_data, valid_pct=0.25, item_size=8)
    assert len(mixed) + len(held_out) == 16 and len(held_out) == 4


def test_image_datasets_split_and_refuse_an_empty_side(folder_data):
    files = get_image_files(folder_data / "train")
    labels = [f.parent.name for f in files]
    train_ds, valid_ds = image_datasets(files, labels, valid_pct=0.25, seed=1, item_size=8)
    again = image_datasets(files, labels, valid_pct=0.25, seed=1, item_size=8)[1]
    assert len(valid_ds) == 3 and valid_ds.files == again.files
    assert not set(train_ds.files) & set(valid_ds.files)
    with pytest.raises(ValueError, match="both training and validation"):
        image_datasets(files, labels, valid=[False] * len(files))


def test_datasets_from_csv_multi_label(tmp_path):
    names = [f"train_{i}" for i in range(10)]
    for name in names:
        write_image(tmp_path / "train-jpg" / f"{name}.jpg", (0, 200, 0))
    tags = ["clear primary", "haze", "clear primary water", "cloudy", "", "haze primary", "clear", "clear",
            "partly_cloudy", "clear primary"]
    (tmp_path / "train_v2.csv").write_text("image_name,tags\n" + "\n".join(f"{n},{t}" for n, t in zip(names, tags)))
    train_ds, valid_ds = datasets_from_csv(tmp_path, "train_v2.csv", folder="train-jpg", suffix=".jpg",
                                           label_delim=" ", item_size=16)
    assert train_ds.classes == ["clear", "cloudy", "haze", "partly_cloudy", "primary", "water"]
    assert train_ds.multi_label and train_ds.targets.shape == (8, 6) and len(valid_ds) == 2


def test_datasets_from_csv_valid_column(tmp_path):
    for i in range(6):
        write_image(tmp_path / f"{i}.png", (0, 0, 0))
    flags = ["False", "True", "false", "False", "TRUE", "False"]  # as text: bool("False") would be True
    (tmp_path / "labels.csv").write_text("name,label,is_valid\n" + "\n".join(
        f"{i}.png,{'ab'[i % 2]},{f}" for i, f in enumerate(flags)))
    _, valid_ds = datasets_from_csv(tmp_path, valid_col="is_valid", item_size=8)
    assert [f.name for f in valid_ds.files] == ["1.png", "4.png"]


# ---------------------------------------------------------------- prepare and dataloaders
def test_dataloaders_prepare_batches_on_the_device(folder_data):
    train_ds, valid_ds = datasets_from_folder(folder_data, item_size=24)
    dls = image_dataloaders(train_ds, valid_ds, bs=4, size=16, device=CPU)
    assert dls.classes == ["blue", "red"] and dls.c == 2 and dls.prepare.item_size == 24
    xb, yb = dls.one_batch("valid")
    assert xb.shape == (4, 3, 16, 16) and xb.dtype == torch.float32 and yb.dtype == torch.long
    assert xb.is_contiguous(memory_format=torch.channels_last)
    raw = dls.prepare.denormalize(xb)  # normalised with ImageNet statistics, so it inverts to the colours
    colours = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # blue, red
    assert torch.allclose(raw[:, :, 8, 8], colours[yb], atol=1e-5)
    mean = torch.tensor(IMAGENET_STATS[0])
    assert torch.allclose(xb[:, :, 8, 8] * torch.tensor(IMAGENET_STATS[1]) + mean, colours[yb], atol=1e-5)


def test_shuffling_is_seeded(folder_data):
    train_ds, valid_ds = datasets_from_folder(folder_data, item_size=8)

    def targets(seed):
        dls = image_dataloaders(train_ds, valid_ds, bs=4, seed=seed, device=CPU)
        return torch.cat([b[-1] for b in dls.train]).tolist()

    in_order = [int(y) for _, y in train_ds]
    assert targets(3) == targets(3) != targets(4)  # the seed decides the order
    assert sorted(targets(3)) == sorted(in_order) and targets(3) != in_order  # shuffled, nothing lost


def test_image_prepare_augments_only_training_batches():
    x = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8)
    prep = ImagePrepare(size=16, train_tfm=aug_transforms(16, generator=torch.Generator().manual_seed(0)),
                        norm_stats=None, channels_last=False)
    valid, train = prep((x,), train=False)[0], prep((x,), train=True)[0]
    assert valid.shape == train.shape == (4, 3, 16, 16) and not torch.allclose(valid, train)
    assert torch.equal(prep((x,), train=False)[0], valid)  # validation is deterministic


def test_channels_last_gives_the_same_outputs_and_bf16_trains_it(device):
    # channels-last is a GPU speed-up (tensor cores); it must not change what the model computes
    x = torch.randint(0, 256, (4, 3, 24, 24), dtype=torch.uint8, device=device)
    last, plain = (ImagePrepare(size=16, channels_last=c)((x,), train=False)[0] for c in (True, False))
    assert last.is_contiguous(memory_format=torch.channels_last) and not plain.is_contiguous(
        memory_format=torch.channels_last) and torch.equal(last, plain)
    torch.manual_seed(0)
    model = vision_model("tiny_resnet", 3, channels_last=True).to(device).eval()
    assert model[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)
    reference = vision_model("tiny_resnet", 3).to(device).eval()
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(model(last), reference(plain), atol=1e-5, rtol=1e-4)
        with torch.autocast(device.type, dtype=torch.bfloat16):  # the GPU's usual precision, on any device
            assert model(last).dtype == torch.bfloat16


def test_image_prepare_config_is_plain_data_and_rebuilds_it():
    prep = ImagePrepare(size=64, item_size=80, train_tfm=aug_transforms(64))
    config = prep.config()
    assert config == {"kind": "image", "size": 64, "item_size": 80, "mode": "RGB", "norm_stats": IMAGENET_STATS,
                      "channels_last": True}
    back = ImagePrepare.from_config(config)
    x = torch.randint(0, 256, (2, 3, 80, 80), dtype=torch.uint8)
    assert torch.equal(back((x,), train=False)[0], prep((x,), train=False)[0])
    assert back.encode(Image.new("RGB", (120, 90)))[0].shape == (1, 3, 80, 80)


# ---------------------------------------------------------------- models
def test_tiny_resnet_has_torchvision_names_and_is_small():
    tiny = tiny_resnet(num_classes=10)
    assert set(tiny.state_dict()) <= set(torchvision.models.resnet18().state_dict())
    assert all(hasattr(tiny, name) for name in BODY_NAMES)
    assert sum(p.numel() for p in tiny.parameters()) < 1_000_000


def test_bundled_weights_load_into_the_tiny_body():
    from coursehelpers.data import get_weights

    state = torch.load(get_weights("tiny_resnet"), weights_only=True)
    body = create_body("tiny_resnet", pretrained=True)
    assert torch.equal(body.conv1.weight, state["conv1.weight"].float())


def test_the_arch_named_is_the_arch_built():
    body = create_body("resnet34", pretrained=False)  # no download when not pretrained
    assert list(dict(body.named_children())) == list(BODY_NAMES) and len(body.layer3) == 6
    assert isinstance(body.layer1[0], torchvision.models.resnet.BasicBlock)
    model = vision_model("resnet50", n_out=7)
    assert isinstance(model.body.layer1[0], torchvision.models.resnet.Bottleneck)
    assert model.head[1].num_features == 2 * 2048 and model.head[-1].out_features == 7


def test_head_layers_in_order():
    head = vision_head(192, 37)
    kinds = [type(m).__name__ for m in head]
    assert kinds == ["ConcatPool", "BatchNorm1d", "Dropout", "Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    assert head[1].num_features == 384 and head[3].out_features == 512 and head[-1].out_features == 37
    assert [head[2].p, head[6].p] == [0.25, 0.5]


def test_splitter_covers_every_parameter_once():
    model = vision_model("tiny_resnet", 3)
    groups = resnet_splitter(model)
    ids = [id(p) for g in groups for p in g]
    assert len(groups) == 3 and len(ids) == len(set(ids)) == len(list(model.parameters()))


# ---------------------------------------------------------------- learner
def test_vision_learner_starts_frozen_and_trains(folder_data):
    train_ds, valid_ds = datasets_from_folder(folder_data, item_size=32)
    dls = image_dataloaders(train_ds, valid_ds, bs=4, size=32, device=CPU,
                            train_tfm=aug_transforms(size=32, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    learn = vision_learner(dls, "tiny_resnet", config=QUIET)
    assert isinstance(learn.loss_func, nn.CrossEntropyLoss) and learn.activation == "softmax"
    assert learn.model_spec == {"builder": "vision", "args": {"arch": "tiny_resnet", "n_out": 2,
                                                                "channels_last": True}}
    body, head = learn.model.body, learn.model.head
    assert body.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not body.conv1.weight.requires_grad and body.bn1.weight.requires_grad  # BN keeps training
    assert all(p.requires_grad for p in head.parameters())
    learn.unfreeze()
    before = body.conv1.weight.detach().clone()
    learn.fit_one_cycle(1, 1e-2)
    assert len(learn.history) == 1 and not body.conv1.weight.detach().equal(before)


def test_multi_hot_targets_get_bce_and_sigmoid(tmp_path):
    for i in range(8):
        write_image(tmp_path / f"{i}.png", (i * 30, 0, 0))
    (tmp_path / "labels.csv").write_text("name,tags\n" + "\n".join(f"{i}.png,{'a b' if i % 2 else 'b'}"
                                                                    for i in range(8)))
    train_ds, valid_ds = datasets_from_csv(tmp_path, label_delim=" ", item_size=16, valid_pct=0.25)
    learn = vision_learner(image_dataloaders(train_ds, valid_ds, bs=2, device=CPU), "tiny_resnet",
                           pretrained=False, config=QUIET)
    assert isinstance(learn.loss_func, nn.BCEWithLogitsLoss) and learn.activation == "sigmoid"
    assert all(p.requires_grad for p in learn.model.parameters())  # not pretrained: nothing frozen


def test_predict_takes_a_path_pil_image_array_or_tensor_like_the_validation_loader(tmp_path):
    folder = noisy_folder(tmp_path)
    for name in ("red", "blue"):  # one image a class with see-through pixels: composited the same way every time
        img = Image.open(folder / name / "0.png").convert("RGBA")
        img.putalpha(Image.linear_gradient("L").resize(img.size))
        img.save(folder / name / "0.png")
    files = get_image_files(folder)
    held_out = [f.stem in ("0", "1") for f in files]
    train_ds, valid_ds = image_datasets(files, [f.parent.name for f in files], valid=held_out, item_size=40)
    assert sorted(f.name for f in valid_ds.files) == ["0.png", "0.png", "1.png", "1.png"]
    dls = image_dataloaders(train_ds, valid_ds, bs=4, size=32, device=CPU, train_tfm=aug_transforms(32))
    torch.manual_seed(0)
    learn = vision_learner(dls, "tiny_resnet", config=QUIET)
    learn.fine_tune(1, base_lr=1e-2)
    preds, _ = learn.get_preds()
    assert not torch.allclose(preds[0], preds[1])  # the checks below compare different predictions
    reloaded = load_learner(learn.export(tmp_path / "model.pth"), device=CPU)
    assert reloaded.dls.classes == dls.classes and reloaded.activation == "softmax"
    for model in (learn, reloaded):
        for i, file in enumerate(valid_ds.files):
            pixels = np.array(Image.open(file))  # [H, W, 3], or [H, W, 4] with transparency
            chw = torch.from_numpy(pixels).permute(2, 0, 1)
            for item in (file, str(file), Image.open(file), pixels, chw, chw[None], chw.float() / 255):
                label, probs = model.predict(item)
                assert torch.allclose(probs, preds[i], atol=1e-5), (file, type(item), probs, preds[i])
                assert label == dls.classes[int(preds[i].argmax())]


def test_the_export_records_how_items_are_loaded(tmp_path):
    files = [write_image(tmp_path / f"{i}.png", (200, 100, 0), (20, 16)) for i in range(4)]
    grey = ImageDataset(files, torch.tensor([0, 1, 0, 1]), ["a", "b"], item_size=12, mode="L")
    prepare = image_dataloaders(grey, grey, bs=2, size=8, device=CPU).prepare
    back = ImagePrepare.from_config(prepare.config())
    assert back.mode == "L" and back.item_size == 12
    assert torch.equal(back.encode(files[0])[0], grey[0][0][None])  # one channel, as the dataset loaded it


def test_pets_sample_layout(samples):  # the same bytes every run: tests/test_data_samples.py
    from coursesamples import pets

    root = samples("pets")
    files = get_image_files(root / "images")
    breeds = sorted({label_from_regex(r"^(.+)_\d+\.jpg$")(f) for f in files})
    assert len(files) == 740 and breeds == sorted(pets.BREEDS) and sum(b[0].isupper() for b in breeds) == 12
    rows = [r for r in (root / "annotations" / "list.txt").read_text().splitlines() if not r.startswith("#")]
    assert len(rows) == 740 and rows[0] == "Abyssinian_1 1 1 1"  # Image CLASS-ID SPECIES BREED-ID
    facing = (root / "annotations" / "facing.csv").read_text().splitlines()
    assert facing[0] == "image,facing" and {r.split(",")[1] for r in facing[1:]} == {"left", "right"}


def test_shapes_are_deterministic():
    from coursesamples import shapes

    (a, la), (b, lb) = shapes.generate(20, 32, seed=3), shapes.generate(20, 32, seed=3)
    assert a.equal(b) and la.equal(lb) and la.shape == (20, 3)
    assert all(int(la[:, j].max()) < len(v) for j, v in enumerate(shapes.ATTRIBUTES.values()))


# ---------------------------------------------------------------- issue 15: what the mutants pointed at
def test_preparing_a_float_batch_of_the_right_size_leaves_the_callers_batch_alone():
    x = torch.rand(2, 3, 8, 8)
    kept = x.clone()
    out = ImagePrepare(size=8, channels_last=False)((x, torch.tensor([0, 1])), train=False)
    assert torch.equal(x, kept) and not torch.equal(out[0], x)  # normalised, in a copy
    assert out[1].tolist() == [0, 1]
    mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in IMAGENET_STATS)
    torch.testing.assert_close(out[0], (x - mean) / std)


def test_denormalize_undoes_the_normalisation_and_is_a_no_op_without_stats():
    x = torch.rand(2, 3, 4, 4)
    prep = ImagePrepare(size=4)
    torch.testing.assert_close(prep.denormalize(prep((x,), train=False)[0]), x)
    plain = ImagePrepare(size=4, norm_stats=None)
    assert plain.denormalize(x) is x


def test_dataloaders_of_plain_tensor_datasets_take_the_defaults():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    ds = torch.utils.data.TensorDataset(images, torch.tensor([0, 1, 0, 1]))
    dls = image_dataloaders(ds, ds, bs=2, size=4, norm_stats=None, channels_last=False, device=CPU)
    assert dls.prepare.item_size is None and dls.prepare.mode == "RGB" and dls.classes is None
    xb, yb = dls.one_batch("valid")
    assert xb.shape[1:] == (3, 4, 4) and not xb.is_contiguous(memory_format=torch.channels_last)
    assert 0 <= float(xb.min()) and float(xb.max()) <= 1


def test_the_tiny_body_halves_the_map_at_every_stage():
    body = create_body("tiny_resnet", pretrained=False)
    x, shapes = torch.zeros(1, 3, 64, 64), {}
    with torch.no_grad():
        for name, layer in body.eval().named_children():
            x = layer(x)
            shapes[name] = tuple(x.shape[1:])
    assert shapes == {"conv1": (16, 32, 32), "bn1": (16, 32, 32), "relu": (16, 32, 32), "maxpool": (16, 16, 16),
                      "layer1": (16, 16, 16), "layer2": (32, 8, 8), "layer3": (96, 4, 4), "layer4": (192, 2, 2)}
    assert tiny_resnet(5)(torch.zeros(2, 3, 64, 64)).shape == (2, 5)


def test_the_tiny_body_shrinks_odd_sized_maps_as_torchvisions_resnet_does():
    # An odd-sized map tells a 3x3 max pool (a ResNet's stem) from other sizes; the shapes of even ones cannot.
    tiny, resnet = create_body("tiny_resnet", pretrained=False).eval(), create_body("resnet18", pretrained=False).eval()
    x = y = torch.zeros(1, 3, 50, 50)
    with torch.no_grad():
        for (name, a), (_, b) in zip(tiny.named_children(), resnet.named_children()):
            x, y = a(x), b(y)
            assert x.shape[2:] == y.shape[2:], name
    assert tuple(x.shape[2:]) == (2, 2)  # 50 -> 25 -> 13 -> 13 -> 7 -> 4 -> 2


def test_a_new_tiny_resnet_starts_with_he_initialised_convolutions():
    torch.manual_seed(0)
    conv = tiny_resnet().layer4[0].conv1  # 96 -> 192 channels, 3x3: fan-out 192 * 9
    assert abs(float(conv.weight.detach().std()) - (2 / (192 * 9)) ** 0.5) < 0.002  # fan-in would give 0.048


def test_concat_pool_gives_the_average_then_the_maximum_of_each_channel():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]], [[0.0, 0.0], [0.0, -4.0]]]])
    assert ConcatPool()(x).tolist() == [[3.0, -1.0, 6.0, 0.0]]


def test_the_head_starts_he_initialised_and_its_first_linear_has_no_bias():
    torch.manual_seed(0)
    head = vision_head(192, 10)
    assert head[3].bias is None and head[-1].bias is not None  # the batch norm after it has the shift
    assert abs(float(head[3].weight.detach().std()) - (2 / 384) ** 0.5) < 0.005  # PyTorch's default would be 0.03
    assert vision_head(8, 2, hidden=16, p_first=0.1, p_last=0.2)[3].out_features == 16


def test_the_splitter_puts_the_stem_and_early_stages_first_and_the_head_last():
    model = vision_model("tiny_resnet", 3)
    early, late, head = ({id(p) for p in g} for g in resnet_splitter(model))
    body = model.body
    assert {id(p) for name in ("conv1", "bn1", "layer1", "layer2") for p in getattr(body, name).parameters()} == early
    assert {id(p) for name in ("layer3", "layer4") for p in getattr(body, name).parameters()} == late
    assert {id(p) for p in model.head.parameters()} == head


def test_a_vision_model_is_built_in_training_mode_without_channels_last_by_default():
    model = vision_model("tiny_resnet", 4)
    assert model.training and model.body.training and model.body.bn1.training
    assert not model.body.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.head[1].num_features == 2 * 192 and model.head[-1].out_features == 4


def test_vision_learner_keeps_a_loss_and_metrics_given_and_follows_a_plain_prepare(folder_data):
    train_ds, valid_ds = datasets_from_folder(folder_data, item_size=16)
    dls = image_dataloaders(train_ds, valid_ds, bs=4, size=16, device=CPU, channels_last=False)
    loss, metric = nn.CrossEntropyLoss(label_smoothing=0.1), (lambda out, y: (out.argmax(1) == y).float().mean())
    learn = vision_learner(dls, "tiny_resnet", pretrained=False, loss_func=loss, metrics=[metric], config=QUIET)
    assert learn.loss_func is loss and list(learn.metrics) == [metric]
    assert learn.model_spec["args"] == {"arch": "tiny_resnet", "n_out": 2, "channels_last": False}
    assert not learn.model.body.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert len(learn.param_groups()) == 3  # stem and early stages, late stages, head


class Flip(nn.Module):
    """A training transform that mirrors every uint8 image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1)


def test_image_dataloaders_pass_on_the_batch_size_workers_seed_and_training_transform():
    images = torch.randint(0, 256, (8, 3, 8, 8), dtype=torch.uint8)
    ds = torch.utils.data.TensorDataset(images, torch.arange(8))
    dls = image_dataloaders(ds, ds, bs=2, size=8, norm_stats=None, train_tfm=Flip(), device=CPU)
    assert len(next(iter(dls.train))[0]) == 2
    assert image_dataloaders(ds, ds, bs=2, device=CPU, num_workers=1).train_dl.num_workers == 1  # not started
    x = images[:2]
    torch.testing.assert_close(dls.prepare((x,), train=True)[0], x.flip(-1).float() / 255)
    torch.testing.assert_close(dls.prepare((x,), train=False)[0], x.float() / 255)
    many = torch.utils.data.TensorDataset(torch.zeros(70, 3, 2, 2, dtype=torch.uint8), torch.zeros(70))
    default = image_dataloaders(many, many, device=CPU)
    assert default.train_dl.num_workers == 0 and len(next(iter(default.train))[0]) == 64  # the default bs


    def order(**seed: int) -> list[int]:
        return torch.cat([b[1] for b in image_dataloaders(ds, ds, bs=1, device=CPU, **seed).train]).tolist()
    assert order() == order(seed=0) != order(seed=1)  # the default shuffle is seed 0's


def test_defaults_the_tiny_resnet_and_create_body_document():
    assert tiny_resnet().fc.out_features == TinyResNet().fc.out_features == 1000
    assert len(create_body(pretrained=False).layer3) == 6  # resnet34
    state = torch.load(get_weights("tiny_resnet"), weights_only=True)
    assert torch.equal(create_body("tiny_resnet").conv1.weight, state["conv1.weight"].float())  # pretrained
    assert torch.equal(vision_model("tiny_resnet", 2, pretrained=True).body.conv1.weight,
                       state["conv1.weight"].float())


def test_vision_learner_on_plain_data_loaders_is_single_label_and_plain_layout():
    ds = torch.utils.data.TensorDataset(torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 0, 1]))
    dls = DataLoaders.from_datasets(ds, ds, bs=2, device=CPU, classes=["a", "b"])  # no multi_label, no layout
    learn = vision_learner(dls, "tiny_resnet", pretrained=False, config=QUIET)
    assert isinstance(learn.loss_func, nn.CrossEntropyLoss) and learn.activation == "softmax"
    assert learn.model_spec["args"]["channels_last"] is False and learn.config is QUIET
    pretrained = vision_learner(dls, "tiny_resnet", config=QUIET)  # pretrained by default: the bundled weights
    state = torch.load(get_weights("tiny_resnet"), weights_only=True)
    assert torch.equal(pretrained.model.body.conv1.weight, state["conv1.weight"].float())
