"""The lesson-7 app as a user meets it: served by its own script, opened in a real headless Chromium.

A photo uploaded through the page must come back with the labels and probabilities that
`learn.predict` gives for the same file; a non-image, a decompression bomb and a missing model
must each put a clear message in the page. Screenshots go to build/app/.

Needs Debian's Chromium at /usr/bin/chromium (`.ci/run` installs it); without it this is the
one test of the suite that is skipped, saying why.
"""
import importlib.util
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import matplotlib.cbook
import pytest
from PIL import Image

from coursehelpers.data import get_data
from coursehelpers.export import load_learner

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "build" / "app"
# The closed network refuses Chromium's background connections: switch them all off.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DONE = re.compile(r"predicted in \d+ ms|⚠️")  # the message line once the app has answered

if not CHROMIUM.exists():  # the one skip of the suite: one line in the report, saying why and what to do
    pytest.skip(f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (.ci/run does) "
                "to run the browser test of the app", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(model: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """Start app/app.py as `make app` does, on a free port of 127.0.0.1."""
    port = free_port()
    cmd = [sys.executable, str(ROOT / "app" / "app.py"), "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port)]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT), f"http://127.0.0.1:{port}/"


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the app did not answer on {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """Two servers: one with the sample model (trained as `make app` trains it), one with no model file."""
    spec = importlib.util.spec_from_file_location("course_train_sample", ROOT / "app" / "train_sample.py")
    train_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_sample)
    tmp = tmp_path_factory.mktemp("app")
    model = train_sample.train_sample_model(tmp / "pets.pth", epochs=1)
    (good, good_url), (bad, bad_url) = serve(model, tmp / "good.log"), serve(tmp / "missing.pth", tmp / "bad.log")
    try:
        wait_until_up(good, good_url, tmp / "good.log")
        wait_until_up(bad, bad_url, tmp / "bad.log")
        yield {"model": model, "url": good_url, "no_model_url": bad_url}
    finally:
        for proc in (good, bad):
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS)
        yield context
        context.close()


def upload(browser, url: str, file: Path, shot: str):
    """Open the page, upload ``file``, wait for the answer; return the page, the message and the seconds taken."""
    page = browser.new_page()
    page.goto(url)
    start = time.perf_counter()
    page.set_input_files("#photo input[type=file]", str(file))
    page.locator("#message").filter(has_text=DONE).wait_for(timeout=60_000)
    seconds = time.perf_counter() - start
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / shot, full_page=True)
    return page, page.inner_text("#message"), seconds


def test_a_photo_gets_the_labels_predict_gives(apps, browser, capsys):
    photo = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))  # a real photo
    page, message, seconds = upload(browser, apps["url"], photo, "photo.png")
    label, probs = load_learner(apps["model"]).predict(photo)
    classes = load_learner(apps["model"]).dls.classes
    assert page.inner_text("[data-testid=label-output-value]") == label
    bars = page.locator("#top3 meter")
    shown = {bars.nth(i).get_attribute("aria-label"): float(bars.nth(i).get_attribute("value")) for i in range(3)}
    values, indices = probs.topk(3)
    assert list(shown) == [classes[i] for i in indices]
    assert list(shown.values()) == pytest.approx(values.tolist(), abs=1e-5)
    assert message.startswith(label)
    with capsys.disabled():  # one line in the test log (CI's too), whatever pytest's verbosity
        print(f"\nbrowser test: Chromium shows {label} ({values[0]:.1%}), as predict does; the page answered in "
              f"{seconds:.2f} s ({message}); screenshot {SHOTS / 'photo.png'}")


def test_a_file_that_is_not_an_image_gets_a_message(apps, browser, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list, not a photo")
    page, message, _ = upload(browser, apps["url"], notes, "not_an_image.png")
    assert "notes.txt is not an image" in message and "Upload a photo" in message
    assert page.locator("[data-testid=label-output-value]").count() == 0  # no labels shown


def test_a_decompression_bomb_gets_a_message(apps, browser, tmp_path):
    side = int((Image.MAX_IMAGE_PIXELS * 1.2) ** 0.5)  # a few-kB PNG over PIL's limit of pixels
    Image.new("1", (side, side)).save(tmp_path / "huge.png")
    _, message, _ = upload(browser, apps["url"], tmp_path / "huge.png", "huge_image.png")
    assert "huge.png is too large" in message and "decompression bombs" in message


def test_a_missing_model_is_said_in_the_page(apps, browser):
    photo = Path(get_data("pets", "sample")) / "images" / "beagle_1.jpg"
    page, message, _ = upload(browser, apps["no_model_url"], photo, "missing_model.png")
    assert "No model file at" in page.inner_text("#model-status") and "make app" in message
    assert "Traceback" not in page.content()


def test_an_upload_over_the_size_limit_is_refused_in_the_page(apps, browser, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * 21_000_000)  # over the app's 20 MB limit: Gradio refuses it before the model
    page = browser.new_page()
    page.goto(apps["url"])
    page.set_input_files("#photo input[type=file]", str(big))
    page.get_by_text(re.compile(r"exceed the maximum allowed size of 20(\.0)? ?Mb", re.I)).first.wait_for(timeout=30_000)
    page.screenshot(path=SHOTS / "too_big.png", full_page=True)
    assert page.inner_text("#message").strip() == ""  # the model was never asked
