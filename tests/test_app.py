"""The lesson-7 app's functions: what the page shows for a photo, a non-image, a decompression bomb,
a missing or unsafe model; and the folder a Hugging Face Space needs.

The browser test (test_app_browser.py) drives the same paths through a real page.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from coursehelpers.dataloaders import DataLoaders
from coursehelpers.export import load_learner
from coursehelpers.images import get_image_files, image_datasets
from coursehelpers.learner import Learner
from coursehelpers.vision import image_dataloaders, vision_learner, vision_model

ROOT = Path(__file__).resolve().parent.parent


def load_module(name: str):
    """A script of app/ as a module (app/ is not a package: on a Space, app.py stands alone)."""
    spec = importlib.util.spec_from_file_location(f"course_{name}", ROOT / "app" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app = load_module("app")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, samples) -> Path:
    """A real export of the pets model, untrained (these tests check the plumbing, not the accuracy)."""
    files = get_image_files(samples("pets") / "images")
    labels = [f.name.rsplit("_", 1)[0] for f in files]
    dls = image_dataloaders(*image_datasets(files, labels, item_size=80), bs=8, size=64)
    torch.manual_seed(0)
    return vision_learner(dls, "tiny_resnet", pretrained=False).export(tmp_path_factory.mktemp("model") / "pets.pth")


@pytest.fixture
def photo(samples) -> Path:
    return samples("pets") / "images" / "beagle_1.jpg"


def test_answer_shows_the_top_3_of_predict(model_file, photo):
    learn = app.load_model(model_file)
    top3, message, seen = app.answer(learn, str(photo))
    label, probs = load_learner(model_file).predict(photo)
    values, indices = probs.topk(3)
    assert list(top3) == [learn.dls.classes[i] for i in indices] and list(top3)[0] == label
    assert list(top3.values()) == pytest.approx(values.tolist(), abs=1e-6)
    assert message.startswith(f"**{label}**") and "ms" in message
    assert seen.size == (80, 80)  # the model's view: the item size the export records


def test_a_file_that_is_not_an_image_gets_a_message(model_file, tmp_path):
    notes = tmp_path / "holiday.jpg"  # the name says photo, the bytes say otherwise
    notes.write_text("not a picture at all")
    top3, message, seen = app.answer(app.load_model(model_file), str(notes))
    assert top3 is None and seen is None
    assert "holiday.jpg" in message and "not an image" in message and "JPEG, PNG" in message


def test_a_truncated_photo_gets_a_message(photo, tmp_path):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo.read_bytes()[:600])
    with pytest.raises(app.BadInput, match="cut.jpg.*not an image"):
        app.check_photo(cut)


def bomb(path: Path, pixels_over_limit: float) -> Path:
    """A real PNG of a few kilobytes whose picture has ``pixels_over_limit`` x PIL's limit of pixels."""
    side = int((Image.MAX_IMAGE_PIXELS * pixels_over_limit) ** 0.5) + 1
    Image.new("1", (side, side)).save(path)
    return path


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns between 1x and 2x
@pytest.mark.parametrize("times", [1.1, 2.5], ids=["over-the-limit", "over-twice-the-limit"])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, times):
    # PIL only warns between 1x and 2x its limit, and raises above 2x: the app refuses both.
    file = bomb(tmp_path / "huge.png", times)
    assert file.stat().st_size < 5_000_000
    with pytest.raises(app.BadInput, match=r"huge.png.*too large.*limit is [\d,]+ pixels"):
        app.check_photo(file)


def test_a_photo_at_the_limit_is_read(photo):
    width, height = app.check_photo(photo)
    assert (width, height) == Image.open(photo).size
    assert app.check_photo(photo, max_pixels=width * height) == (width, height)
    with pytest.raises(app.BadInput, match="too large"):
        app.check_photo(photo, max_pixels=width * height - 1)


def test_a_missing_model_is_a_message_in_the_page(tmp_path, photo):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(app.BadInput, match="No model file at .*nowhere.pth.*make app"):
        app.load_model(missing)
    top3, message, _ = app.answer(app.BadInput("No model file at x"), str(photo))
    assert top3 is None and "No model file" in message


def test_a_model_file_with_code_in_it_is_refused(tmp_path):
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"format": "coursehelpers-export-2", "payload": Path("/")}, unsafe)  # a pickled object
    with pytest.raises(app.BadInput, match="unsafe.pth.*cannot be loaded"):
        app.load_model(unsafe)
    (tmp_path / "junk.pth").write_bytes(b"\x00" * 64)
    with pytest.raises(app.BadInput, match="junk.pth.*cannot be loaded"):
        app.load_model(tmp_path / "junk.pth")


def test_a_model_that_is_not_an_image_classifier_is_refused(tmp_path):
    # A real export whose data preparation is not images (a tabular or text model, say): predicting
    # from a photo would fail inside the model, so the page says what the app serves instead.
    learn = Learner(vision_model("tiny_resnet", 2), DataLoaders(None, None, classes=["a", "b"]), None)
    learn.model_spec = {"builder": "vision", "args": {"arch": "tiny_resnet", "n_out": 2}}
    file = learn.export(tmp_path / "plain.pth")
    with pytest.raises(app.BadInput, match="plain.pth.*not an image classifier.*'plain'.*vision_learner"):
        app.load_model(file)


def test_the_space_folder_serves_from_its_own_files(model_file, tmp_path):
    space = load_module("make_space").make_space(model_file, tmp_path / "space")
    assert {p.name for p in space.iterdir()} == {"app.py", "requirements.txt", "README.md", "pets.pth",
                                                   "coursehelpers"}
    assert "sdk: gradio" in (space / "README.md").read_text()
    # Run from the Space's folder, as Spaces runs app.py: the copied package must be the one imported.
    probe = "import app, coursehelpers; app.load_model('pets.pth'); print(coursehelpers.__file__)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=space, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert Path(out.stdout.strip()).resolve().is_relative_to(space.resolve())


def test_make_space_without_a_model_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make app"):
        load_module("make_space").make_space(tmp_path / "none.pth", tmp_path / "space")
    assert not (tmp_path / "space").exists()  # nothing half-made
