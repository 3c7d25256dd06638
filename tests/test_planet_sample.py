"""The Planet sample generator: Kaggle's layout, the tag rules of the real data, same bytes every run."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from coursesamples import planet

# Frequencies in the real train_v2.csv (40,479 images), as fractions of images.
REAL_FREQ = {"primary": 0.93, "clear": 0.70, "agriculture": 0.31, "road": 0.20, "water": 0.18,
             "partly_cloudy": 0.18, "cultivation": 0.11, "habitation": 0.09, "haze": 0.07, "cloudy": 0.05}


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def sample(samples) -> Path:
    """The lesson's sample at its default size, made once per session (tests/conftest.py)."""
    return samples("planet")


@pytest.fixture
def tags(sample) -> pd.Series:
    return pd.read_csv(sample / "train_v2.csv")["tags"].str.split()


def test_layout(sample):
    train = pd.read_csv(sample / "train_v2.csv")
    sub = pd.read_csv(sample / "sample_submission_v2.csv")
    assert list(train.columns) == ["image_name", "tags"] == list(sub.columns)
    assert train.image_name.tolist() == [f"train_{i}" for i in range(len(train))]
    assert sub.image_name.tolist() == [f"test_{i}" for i in range(len(sub))]
    assert sorted(p.stem for p in (sample / "train-jpg").glob("*.jpg")) == sorted(train.image_name)
    assert sorted(p.stem for p in (sample / "test-jpg").glob("*.jpg")) == sorted(sub.image_name)
    assert 800 <= len(train) <= 1500 and 100 <= len(sub) <= 400
    with Image.open(sample / "train-jpg" / "train_0.jpg") as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (64, 64)


def test_all_17_tags_present_and_sorted(tags):
    counts = tags.explode().value_counts()
    assert sorted(counts.index) == sorted(planet.TAGS) and len(planet.TAGS) == 17
    assert counts.min() >= 10, f"every tag should have a few examples: {counts.to_dict()}"
    assert all(t == sorted(t) for t in tags), "Kaggle lists each image's tags alphabetically"


def test_one_weather_tag_and_cloudy_alone(tags):
    assert all(sum(t in planet.WEATHER for t in row) == 1 for row in tags)
    assert all(row == ["cloudy"] for row in tags if "cloudy" in row)


def test_frequencies_like_the_real_data(tags):
    freq = tags.explode().value_counts() / len(tags)
    for tag, real in REAL_FREQ.items():
        assert abs(freq[tag] - real) < 0.04, (tag, freq[tag], real)
    # rare tags: boosted above the real <1%, but still the rarest
    rare = ["bare_ground", *planet.RARE_P]
    assert freq[rare].max() < 0.04 < freq[list(REAL_FREQ)].min()
    assert freq["primary"] > freq["clear"] > freq["agriculture"] > freq["habitation"] > freq["cloudy"]


def test_a_smaller_sample_is_a_prefix_of_the_full_one(tmp_path, sample):
    planet.make_sample(tmp_path, n_train=20, n_test=5)  # the same bytes every run: tests/test_data_samples.py
    full = _hashes(sample)
    small = {k: v for k, v in _hashes(tmp_path).items() if k.endswith(".jpg")}
    assert len(small) == 25 and all(full[k] == v for k, v in small.items())
