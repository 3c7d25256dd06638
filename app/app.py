"""The web app of lesson 7: upload a photo, see the pets model's three likeliest breeds.

`make app` serves it on http://127.0.0.1:7860 (training the sample model first if
there is none); ``python app/app.py --model FILE`` serves any export of a vision
learner. On Hugging Face Spaces this file is the Space's ``app.py``, next to the
export ``pets.pth`` and the ``coursehelpers`` folder (README.md, "The app").

The model comes from `coursehelpers.export.load_learner`, which reads tensors and
plain data only (``weights_only=True``): a model file cannot run code here. What
the app cannot use (a file that is not an image, a decompression bomb, a missing
or broken model) becomes a message in the page, never a stack trace.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import gradio as gr
import torch
from PIL import Image, UnidentifiedImageError

from coursehelpers.export import load_learner
from coursehelpers.learner import Learner

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = HERE / "pets.pth"  # where the export lies on a Space
MAX_UPLOAD = "20mb"  # Gradio refuses bigger uploads before they reach the model
FORMATS = "JPEG, PNG, WebP, GIF, BMP or TIFF"


class BadInput(ValueError):
    """An upload or a model file the app cannot use; its message is what the page shows."""


def load_model(file: str | os.PathLike) -> Learner:
    """The exported learner in ``file``, or `BadInput` saying what is wrong and what to do."""
    file = Path(file)
    if not file.is_file():
        raise BadInput(f"No model file at `{file}`. Run `make app` (it trains the sample model there), "
                       "or export a model with `learn.export(...)` and pass it with `--model`.")
    try:
        learn = load_learner(file)
    except Exception as e:  # any failure to rebuild the model is the file's fault: say so in the page
        raise BadInput(f"The model file `{file}` cannot be loaded ({type(e).__name__}: {e}). "
                       "Export it again with `learn.export(...)`.") from e
    kind = learn.dls.prepare.config()["kind"]
    if kind != "image" or not learn.dls.classes:
        raise BadInput(f"The model in `{file}` is not an image classifier (its data is {kind!r}): "
                       "serve an export of a `vision_learner`.")
    return learn


def check_photo(file: str | os.PathLike, max_pixels: int | None = None) -> tuple[int, int]:
    """The size of the image in ``file``, once decoded; `BadInput` for a non-image or one over ``max_pixels``.

    ``max_pixels`` defaults to PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``): a small
    compressed file can hold a picture whose pixels would fill the server's memory. The size is
    read from the header, so such a file is refused before it is decoded.
    """
    name, limit = Path(file).name, max_pixels or Image.MAX_IMAGE_PIXELS
    try:
        with Image.open(file) as img:  # reads the header only
            if img.width * img.height > limit:
                raise Image.DecompressionBombError(f"{img.width} x {img.height} pixels")
            img.load()  # decodes: a truncated or corrupt file fails here, not inside the model
            return img.size
    except Image.DecompressionBombError as e:
        raise BadInput(f"**{name}** is too large to open safely ({e}; the limit is {limit:,} pixels, "
                       "PIL's guard against decompression bombs). Upload a smaller copy of the photo.") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadInput(f"**{name}** is not an image the app can read ({type(e).__name__}). "
                       f"Upload a photo: {FORMATS}.") from e


def top_predictions(learn: Learner, file: str | os.PathLike, k: int = 3) -> dict[str, float]:
    """The ``k`` likeliest classes for the image in ``file`` and their probabilities, from `learn.predict`."""
    _, probs = learn.predict(Path(file))
    values, indices = probs.float().topk(min(k, len(probs)))
    return {learn.dls.classes[int(i)]: float(v) for v, i in zip(values, indices)}


def model_view(learn: Learner, file: str | os.PathLike) -> Image.Image:
    """The photo as the export's pipeline loads it: the centre square, presized like a validation image."""
    x = learn.dls.prepare.encode(Path(file))[0][0]  # uint8 [3, S, S]
    return Image.fromarray(x.permute(1, 2, 0).numpy())


def answer(learn: Learner | BadInput, file: str | None) -> tuple[dict | None, str, Image.Image | None]:
    """What the page shows for an upload: (top-3 labels, a message, the model's view of the photo)."""
    if file is None:
        return None, "", None
    try:
        if isinstance(learn, BadInput):
            raise learn
        check_photo(file)
        start = time.perf_counter()
        with torch.inference_mode():
            top = top_predictions(learn, file)
        ms = 1000 * (time.perf_counter() - start)
    except BadInput as e:
        return None, f"⚠️ {e}", None
    best, p = next(iter(top.items()))
    return top, f"**{best}** ({p:.1%}), predicted in {ms:.0f} ms.", model_view(learn, file)


def describe(learn: Learner | BadInput, file: Path) -> str:
    """One line on the model being served, or why there is none."""
    if isinstance(learn, BadInput):
        return f"⚠️ {learn}"
    args = learn.model_spec["args"]
    return f"Model `{file.name}`: {args['arch']}, {len(learn.dls.classes)} classes."


def build_demo(model_file: str | os.PathLike) -> gr.Blocks:
    """The page: an upload box, the top-3 breeds, a message line and the model's view of the photo."""
    try:
        learn: Learner | BadInput = load_model(model_file)
    except BadInput as e:
        learn = e  # the page still opens, and says what is missing
    # Uploads are copied to Gradio's cache: delete them after an hour, checking every hour.
    with gr.Blocks(title="Which pet breed?", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# Which pet breed?\nUpload a photo of a cat or a dog: the model answers with its "
                    "three likeliest breeds (of 37) and how sure it is. It knows nothing but pets.")
        gr.Markdown(describe(learn, Path(model_file)), elem_id="model-status")
        with gr.Row():
            upload = gr.File(label=f"A photo ({FORMATS})", elem_id="photo")
            with gr.Column():
                top3 = gr.Label(num_top_classes=3, label="Top 3 breeds", elem_id="top3")
                message = gr.Markdown(elem_id="message")
                seen = gr.Image(label="What the model saw", elem_id="seen", interactive=False, height=160)
        upload.change(lambda file: answer(learn, file), inputs=upload, outputs=[top3, message, seen])
    return demo


def main(argv: list[str] | None = None) -> None:
    """Serve the app: ``python app/app.py [--model FILE] [--host 127.0.0.1] [--port 7860]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="an export from learn.export()")
    parser.add_argument("--host", default=None, help="address to serve on (Gradio's default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (Gradio's default: 7860)")
    args = parser.parse_args(argv)
    # No server-side rendering (it would need Node) and no Google fonts (the page works offline).
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])
    build_demo(args.model).launch(server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD,
                                  ssr_mode=False, theme=theme, footer_links=[])


if __name__ == "__main__":
    main()
