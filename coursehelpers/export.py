"""Export a trained Learner for prediction, and load it back without running anything from the file.

An export holds tensors and plain data only (numbers, strings, lists, dicts), so
`load_learner` reads it with ``torch.load(weights_only=True)``, which refuses
anything else: a model file from a stranger cannot run code. It records

- ``model``: how to rebuild the network, a builder name from `BUILDERS` and its
  arguments (``{"builder": "vision", "args": {"arch": "resnet34", "n_out": 37}}``);
- ``state_dict``: the trained weights;
- ``classes``, ``activation`` and ``n_inputs``: how to read the outputs;
- ``prepare``: the validation pipeline (image size, normalisation, vocabulary...),
  as the task's `Prepare.config()`, so `predict` prepares an item exactly as the
  validation loader did.

The builders are a fixed list in this file: a name read from a file can only
pick one of them, never import something else.
"""
from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path

import torch

from coursehelpers import distributed
from coursehelpers.dataloaders import DataLoaders
from coursehelpers.learner import Learner, TrainConfig, load_plain

FORMAT = "coursehelpers-export-2"
# builder name -> (module, function): the only code an export can ask for.
BUILDERS = {
    "vision": ("coursehelpers.vision", "vision_model"),
    "tabular": ("coursehelpers.tabular", "TabularModel"),
    "text_classifier": ("coursehelpers.text.ulmfit", "text_classifier"),
    "collab": ("coursehelpers.collab", "collab_model"),
}
PREPARES = {
    "plain": ("coursehelpers.dataloaders", "Prepare"),
    "image": ("coursehelpers.vision", "ImagePrepare"),
    "text": ("coursehelpers.text.data", "TextPrepare"),
    "tabular": ("coursehelpers.tabular", "TabularProcessor"),
    "collab": ("coursehelpers.collab", "CollabPrepare"),
}


def _resolve(table: dict[str, tuple[str, str]], name: object, what: str):
    if name not in table:
        raise ValueError(f"The export names {what} {name!r}, which is not one of {sorted(table)}: "
                         "it was not written by this course's export, or by a newer version of it.")
    module, attr = table[name]
    return getattr(importlib.import_module(module), attr)


def export_learner(learn: Learner, file: str | os.PathLike) -> Path:
    """Write what prediction needs to ``file`` (atomically: a half-written file never replaces a good one)."""
    if learn.model_spec is None:
        raise ValueError("This Learner has no model_spec, so its model cannot be rebuilt from plain data. "
                         "Export a Learner made by vision_learner, tabular_learner, collab_learner or "
                         "text_classifier_learner, or save the weights with learn.save(name).")
    state = {"format": FORMAT, "model": learn.model_spec,
             "state_dict": {k: v.detach().cpu() for k, v in learn.model.state_dict().items()},
             "classes": learn.dls.classes, "activation": learn.activation, "n_inputs": learn.dls.n_inputs,
             "prepare": learn.dls.prepare.config()}
    file = Path(file)
    if not distributed.is_main():  # under torchrun every process holds the same model: one writes
        return file
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; an export is meant to be shared (an app, a Space)
        os.replace(tmp, file)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return file


def load_learner(file: str | os.PathLike, device: torch.device | None = None) -> Learner:
    """A Learner rebuilt from an export, ready for `predict` and `get_preds` (it has no training data)."""
    state = load_plain(file)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{file} is not an export of this course (format {FORMAT!r}). If it came from an "
                         "older version, re-export it with learn.export().")
    spec, prepare = state["model"], state["prepare"]
    model = _resolve(BUILDERS, spec.get("builder"), "the model builder")(**spec["args"])
    model.load_state_dict(state["state_dict"])
    model.eval()  # for prediction: BatchNorm uses its running statistics, dropout is off
    prepare = _resolve(PREPARES, prepare.get("kind"), "the data preparation").from_config(prepare)
    dls = DataLoaders(None, None, device=device, prepare=prepare, classes=state["classes"],
                      n_inputs=state["n_inputs"])
    learn = Learner(model, dls, None, activation=state["activation"], config=TrainConfig(log=False))
    learn.model_spec = spec
    return learn
