"""The web page (fststyle/web/) on onnxruntime-web's WASM backend in headless Chromium, driven
by Playwright, against the Python runtime on the same uint8 pixels; and `python -m
fststyle.serve`: its one-line errors, headers and MIME types. Skipped, saying why, where
Chromium, Playwright or onnxruntime-web (npm) is missing."""

import base64
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fststyle.core.quantize import psnr
from fststyle.runtime import browser as browser_flags
from fststyle.runtime.browser import served
from fststyle.runtime.imagefiles import demo_photos
from fststyle.runtime.stylizer import Stylizer
from fststyle.runtime.webserver import ort_dist

from helpers import chromium

SIZE = 96  # the photo's long side: small keeps WASM on 2 cores fast
# The benches' flags (no GPU, no background traffic), plus Chromium's fake camera (a test
# pattern), granted without a prompt, for the webcam test.
FLAGS = [*browser_flags.FLAGS, "--use-fake-device-for-media-stream",
         "--use-fake-ui-for-media-stream"]


def needs_ort() -> None:
    """Skip, saying how to install it, where onnxruntime-web (npm) is missing."""
    try:
        ort_dist()
    except FileNotFoundError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def browser():
    path = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    needs_ort()
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A held-out photo downscaled to SIZE px as PNG: the page and Python read the same bytes."""
    path = tmp_path_factory.mktemp("web") / "photo.png"
    image = Image.open(demo_photos("heldout")[0]).convert("RGB")
    image.thumbnail((SIZE, SIZE), Image.LANCZOS)
    image.save(path)
    return path


@contextmanager
def page_for(browser, model: Path, photo: Path, query: str = "backend=wasm"):
    """The page for `model`, started (model loaded, the photo stylized); fails on a JS error."""
    errors = []
    with served(model, photo) as url:
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}?{query}")
        page.evaluate("window.fststyle.ready")
        yield page
        page.close()
    assert not errors, errors


def pixels(result: dict, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(result["rgb"]), np.uint8).reshape(shape)


def page_stylize(page, image: np.ndarray, values=None) -> np.ndarray:
    rgb = base64.b64encode(image.tobytes()).decode()
    out = page.evaluate("([rgb, w, h, v]) => window.fststyle.stylize(rgb, w, h, v)",
                        [rgb, image.shape[1], image.shape[0], values])
    return pixels(out, image.shape)


def assert_close(web: np.ndarray, python: np.ndarray, label: str) -> None:
    """The page's pixels against the Python runtime's: mean |diff| <= 1/255 (in 0..1 units)."""
    diff = np.abs(web.astype(int) - python.astype(int))
    print(f"{label}: mean |web - python| = {diff.mean():.4f}/255, max = {diff.max()}/255")
    assert web.shape == python.shape
    assert diff.mean() <= 1.0, f"{label}: mean |diff| {diff.mean():.3f}/255"


def test_page_stylizes_like_the_python_runtime(browser, tiny_onnx, photo):
    image = np.asarray(Image.open(photo))
    stylizer = Stylizer(tiny_onnx)
    with page_for(browser, tiny_onnx, photo) as page:
        state = page.evaluate("window.fststyle.state()")
        assert state["backend"] == "wasm" and state["isolated"]  # COOP/COEP took effect
        outputs = []
        for i, name in enumerate(stylizer.styles):
            onehot = [float(i == j) for j in range(len(stylizer.styles))]
            outputs.append(page_stylize(page, image, onehot))
            assert_close(outputs[-1], stylizer.stylize(image, style=name), f"style {name}")
    assert np.abs(outputs[0].astype(int) - outputs[1]).mean() > 5  # the styles differ


def test_distilled_student_runs_in_the_page(browser, student_onnx, photo):
    """The slim student's exports (3 stride-2 stages, 3x3 edges, separable blocks): fp32 as
    the Python runtime computes it; int8 as close to the fp32 output as native onnxruntime's
    int8 is. The int8 kernels differ (WASM's against x86's integer convolutions, each
    rounding its own way; measured ~7/255 apart on this tiny network), so int8 is held to
    the fp32 output, not to the other backend's rounding."""
    image = np.asarray(Image.open(photo))
    mix = {"s1": 0.25, "s2": 0.75}
    python = {k: Stylizer(path).stylize(image, style=mix) for k, path in student_onnx.items()}
    web = {}
    for precision, path in student_onnx.items():
        with page_for(browser, path, photo) as page:
            web[precision] = page_stylize(page, image, [0.25, 0.75])
    assert_close(web["fp32"], python["fp32"], "student fp32")
    native, browser_int8 = (psnr(out / 255, python["fp32"] / 255)
                            for out in (python["int8"], web["int8"]))
    print(f"student int8 PSNR against fp32: native {native:.1f} dB, page {browser_int8:.1f} dB")
    assert browser_int8 >= native - 3


def wait_idle(page) -> np.ndarray:
    page.wait_for_function("!window.fststyle.state().busy")
    out = page.evaluate("window.fststyle.outputPixels()")
    return pixels(out, (out["height"], out["width"], 3))


def test_buttons_and_sliders_mix_like_the_python_runtime(browser, tiny_onnx, photo):
    """The UI path end to end: the served photo decoded by the browser, drawn on a canvas,
    stylized with the sliders' mix, read back from the output canvas."""
    image = np.asarray(Image.open(photo))
    stylizer = Stylizer(tiny_onnx)
    a, b = stylizer.styles
    with page_for(browser, tiny_onnx, photo) as page:
        buttons = page.locator("#styles button")
        assert buttons.all_text_contents() == stylizer.styles
        assert_close(wait_idle(page), stylizer.stylize(image, style=a), "startup, first style")
        buttons.nth(1).click()
        assert page.evaluate("window.fststyle.state().weights") == [0, 1]
        assert buttons.nth(1).get_attribute("aria-pressed") == "true"
        assert_close(wait_idle(page), stylizer.stylize(image, style=b), "button 2")
        page.locator(f'#mix input[data-style="{a}"]').fill("70")  # b's slider stays at 100
        mixed = wait_idle(page)
        assert page.locator("#mix output").all_text_contents() == ["0.41", "0.59"]
        assert_close(mixed, stylizer.stylize(image, style={a: 70, b: 100}), "mix 70:100")
        assert buttons.nth(1).get_attribute("aria-pressed") == "false"
        assert re.fullmatch(r"[\d.]+ ms/frame \(model [\d.]+ ms\) · [\d.]+ fps · wasm",
                            page.locator("#stats").text_content())


def test_webcam_frames_are_stylized_until_stopped(browser, tiny_onnx, photo):
    with page_for(browser, tiny_onnx, photo, "backend=wasm&maxsize=64") as page:
        webcam = page.locator("#webcam")
        webcam.click()
        page.wait_for_function("document.querySelector('#webcam').ariaPressed === 'true'",
                               polling=100, timeout=30_000)
        assert page.locator("#note").is_hidden()  # no "No webcam: ..." note
        w, h = page.evaluate("[video.videoWidth, video.videoHeight]")  # the fake camera's
        assert w > h > 0 and (w, h) != (96, 64)  # not the photo's size
        page.wait_for_function(f"document.querySelector('#output').height === {round(64 * h / w)}",
                               polling=100, timeout=30_000)
        page.wait_for_function("window.fststyle.state().busy", polling=10)  # frames keep coming
        webcam.click()
        assert webcam.get_attribute("aria-pressed") == "false"
        page.wait_for_function("!window.fststyle.state().busy", polling=100)  # and stop


@pytest.fixture(scope="module")
def baked_onnx(tiny_model) -> Path:
    from fststyle import export

    return export.main([str(tiny_model), "--style", "s2", "--out",
                        str(tiny_model.parent / "tiny-s2.onnx")])


@pytest.mark.parametrize("kind", ["baked", "spatial"])
def test_baked_and_spatial_exports(browser, kind, baked_onnx, spatial_onnx, photo):
    model = baked_onnx if kind == "baked" else spatial_onnx
    image = np.asarray(Image.open(photo))
    stylizer = Stylizer(model)
    style = None if kind == "baked" else {"s1": 0.25, "s2": 0.75}  # a constant map
    values = None if kind == "baked" else [0.25, 0.75]
    with page_for(browser, model, photo) as page:
        assert page.locator("#styles button").all_text_contents() == stylizer.styles
        assert page.locator("#mix").is_hidden() == (kind == "baked")
        assert_close(page_stylize(page, image, values), stylizer.stylize(image, style=style),
                     kind)


def test_webgpu_falls_back_to_wasm_with_a_note(browser, tiny_onnx, photo):
    with page_for(browser, tiny_onnx, photo, "backend=webgpu&threads=2") as page:
        state = page.evaluate("window.fststyle.state()")
        assert state["threads"] == 2
        if state["backend"] == "wasm":  # headless with --disable-gpu has no WebGPU adapter
            assert page.locator("#note").is_visible()
            assert "running on WASM" in page.locator("#note").text_content()
        assert page.locator("#backend").input_value() == state["backend"]


def serve(*args: str, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fststyle.serve", *args, "--port", "0",
                             "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env or None)


@pytest.mark.parametrize("problem", ["missing", "not_onnx", "no_ort"])
def test_serve_errors_are_one_line(problem, tiny_onnx, tmp_path):
    model, env = tmp_path / "missing.onnx", {}
    if problem == "not_onnx":
        model.write_text("not a model")
    elif problem == "no_ort":
        model, env = tiny_onnx, {**os.environ, "FSTSTYLE_ORT_DIST": str(tmp_path)}
    proc = serve(str(model), **env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and not out
    assert len(err.splitlines()) == 1 and err.startswith("fststyle.serve: error: "), err
    expected = {"missing": "model file not found", "not_onnx": "not a loadable ONNX model",
                "no_ort": "npm ci --prefix fststyle/web"}[problem]
    assert expected in err


def test_serve_headers_and_mime_types(tiny_onnx):
    needs_ort()  # without it the server refuses to start (test_serve_errors_are_one_line)
    proc = serve(str(tiny_onnx))
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(rf"serving {re.escape(str(tiny_onnx))} at (http://127\.0\.0\.1:\d+/)\n",
                             line)
        assert match, line
        url = match.group(1)
        expected = {"": "text/html", "app.js": "text/javascript", "model.json": "application/json",
                    "ort/ort-wasm-simd-threaded.jsep.wasm": "application/wasm",
                    "ort/ort-wasm-simd-threaded.jsep.mjs": "text/javascript",
                    "model.onnx": "application/octet-stream", "photo": "image/png"}
        for path, mime in expected.items():
            request = urllib.request.Request(url + path, method="HEAD")
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.headers["Content-Type"].split(";")[0] == mime, path
                assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
                assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        for path in ("../pyproject.toml", "ort/..%2Fpackage.json", "node_modules/", "serve.py"):
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(url + path, timeout=10)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_strength_slider_with_the_shipped_network(browser, photo):
    """The shipped network (fp16 weights cast to fp32 in the graph) in the page, and its
    strength slider (the identity mix) against the Python runtime's --strength."""
    from fststyle.runtime.shipped import shipped_model

    image = np.asarray(Image.open(photo))
    stylizer = Stylizer()
    with page_for(browser, shipped_model("full"), photo) as page:
        assert page.locator("#strength-label").is_visible()
        page.locator("#styles button", has_text="udnie").click()
        wait_idle(page)
        page.locator("#strength").fill("40")
        assert page.locator("#strength-value").text_content() == "0.40"
        assert page.evaluate("window.fststyle.state().strength") == 0.4
        assert_close(wait_idle(page), stylizer.stylize(image, style="udnie", strength=0.4),
                     "udnie at strength 0.4")


def test_no_strength_slider_without_an_identity_row(browser, tiny_onnx, photo):
    with page_for(browser, tiny_onnx, photo) as page:
        assert not page.locator("#strength-label").is_visible()
