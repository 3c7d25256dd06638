"""Fixture for the lesson-result tests: the metrics a lesson recorded in this run.

`make test` executes every notebook under nbval with COURSE_METRICS_DIR set,
then runs these tests, which check what each lesson learned against the
baselines it measured in the same run.
"""
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def lesson_metrics():
    """lesson_metrics("01_pets") -> the dict that lesson passed to record_metrics."""
    folder = Path(os.environ.get("COURSE_METRICS_DIR", REPO / "build" / "metrics"))

    def load(lesson: str) -> dict:
        path = folder / f"{lesson}.json"
        if not path.exists():
            pytest.fail(f"{path} is missing: run the lesson first (`make test` runs every notebook "
                        f"with COURSE_METRICS_DIR={folder} before these tests).")
        return json.loads(path.read_text())

    return load
