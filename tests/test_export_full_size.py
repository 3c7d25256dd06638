"""A full-mode export carries its input size and validation transform (issue 11, item 4).

Lesson 1's full recipe presizes items to 460 px and feeds the model 224 px batches. A model
exported from it and reloaded in a fresh process, given nothing but the export and a photo's
path, must prepare that photo the same way: the network sees 224 x 224, and the probabilities
are the ones get_preds gave the same file in training.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from coursehelpers.images import image_datasets
from coursehelpers.vision import image_dataloaders, vision_learner

CPU = torch.device("cpu")
PREDICT_IN_A_FRESH_PROCESS = """
import json, sys, torch
from coursehelpers.export import load_learner
learn = load_learner(sys.argv[1], device=torch.device("cpu"))
seen = []
learn.model[0].conv1.register_forward_pre_hook(lambda module, args: seen.append(list(args[0].shape)))
label, probs = learn.predict(sys.argv[2])
print(json.dumps({"label": label, "probs": probs.tolist(), "input_shape": seen[0], "prepare": learn.dls.prepare.config()}))
"""


def photos(folder, n: int = 4) -> list:
    """Photo-sized JPEGs (500 x 375, as Oxford's), two classes of colour."""
    rng, files = np.random.default_rng(0), []
    for i in range(n):
        pixels = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8) // 2 + np.uint8(100 * (i % 2))
        files.append(folder / f"{'red' if i % 2 else 'blue'}_{i}.jpg")
        Image.fromarray(pixels).save(files[-1], quality=90)
    return files


def test_a_reloaded_full_size_model_predicts_a_path_at_224_px_like_get_preds(tmp_path):
    files = photos(tmp_path)
    train_ds, valid_ds = image_datasets(files, [f.stem.split("_")[0] for f in files],
                                        valid=[i >= 2 for i in range(len(files))], item_size=460)
    dls = image_dataloaders(train_ds, valid_ds, bs=2, size=224, device=CPU)
    torch.manual_seed(0)
    learn = vision_learner(dls, "resnet34", pretrained=False)  # random weights: nothing to download
    preds, _ = learn.get_preds()
    export = learn.export(tmp_path / "pets_full.pth")
    run = subprocess.run([sys.executable, "-c", PREDICT_IN_A_FRESH_PROCESS, str(export), str(valid_ds.files[0])],
                         capture_output=True, text=True, check=True)
    reloaded = json.loads(run.stdout)
    assert reloaded["prepare"]["item_size"] == 460 and reloaded["prepare"]["size"] == 224
    assert reloaded["input_shape"] == [1, 3, 224, 224]
    assert torch.allclose(torch.tensor(reloaded["probs"]), preds[0], atol=1e-5), (reloaded["probs"], preds[0])
    assert reloaded["label"] == dls.classes[int(preds[0].argmax())]
