"""Gather what a Hugging Face Space needs to serve the app into one folder.

``python app/make_space.py MODEL DEST``: ``DEST`` gets ``app.py``, ``requirements.txt``, the export
as ``pets.pth``, a copy of the ``coursehelpers`` package (``load_learner`` rebuilds the model
with it) and a ``README.md`` whose front matter tells Spaces to run ``app.py`` with Gradio.
Upload the folder as it is (README.md, "The app").
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import gradio

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "coursehelpers"
FRONT_MATTER = """---
title: Which pet breed?
emoji: 🐾
colorFrom: yellow
colorTo: green
sdk: gradio
sdk_version: {gradio}
app_file: app.py
pinned: false
---

The web app of lesson 7 of the deep-learning course: upload a photo of a cat or a dog and see
the three likeliest of 37 breeds. `pets.pth` is an export of `learn.export()`, loaded with
`weights_only=True`; `coursehelpers/` is the course's helper package that rebuilds the model.
"""


def make_space(model: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Write the Space's files into ``dest`` (replacing what an earlier run put there) and return it."""
    model, dest = Path(model), Path(dest)
    if not model.is_file():
        raise FileNotFoundError(f"No model file at {model}: run `make app` once (it trains the sample "
                                "model) or export yours with learn.export(...).")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(PACKAGE, dest / "coursehelpers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(HERE / "app.py", dest / "app.py")
    shutil.copy2(HERE / "requirements.txt", dest / "requirements.txt")
    shutil.copy2(model, dest / "pets.pth")
    (dest / "README.md").write_text(FRONT_MATTER.format(gradio=gradio.__version__))
    return dest


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the export to serve, e.g. notebooks/models/pets_sample.pth")
    parser.add_argument("dest", help="the folder to fill, e.g. build/space")
    args = parser.parse_args()
    print("Space files in", make_space(args.model, args.dest))
