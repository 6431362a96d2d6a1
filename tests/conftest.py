"""Shared fixtures, the only place tests get them from: tiny generated style images, a folder
of real bundled photos, one tiny trained model with its exports (trained once a session),
short video clips written with PyAV, and a local `mlflow server`."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from fststyle.core.network import ConditionalInstanceNorm2d
from fststyle.runtime.imagefiles import demo_photos

from helpers import blobs, stripes, tiny_args, write_clip


@pytest.fixture(scope="session", autouse=True)
def plain_argv():
    """Entry points are called in-process with explicit args; pytest's own argv must not look
    like extra command-line arguments to them (LightningCLI warns when it sees both)."""
    saved, sys.argv = sys.argv, sys.argv[:1]
    yield
    sys.argv = saved


@pytest.fixture(scope="session")
def style_files(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("styles")
    s1, s2 = d / "s1.png", d / "s2.png"
    stripes().save(s1)
    blobs().save(s2)
    return [s1, s2]


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """Six bundled COCO JPEGs in a nested folder (the loader reads recursively)."""
    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    for i, f in enumerate(demo_photos("train")[:6]):
        shutil.copy(f, (d / "sub" if i % 2 else d) / f.name)
    return d


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, photo_dir, style_files) -> Path:
    """A 3-step trained 2-style model (half width, one residual block: quicker to trace).

    At init every style's (gamma, beta) is equal, so they are perturbed and the net saved
    again to make the styles differ. Returns the .safetensors path; the run's last.ckpt is
    `tiny_ckpt`."""
    from fststyle.core.model_io import load_model, save_model
    from fststyle.train import main as train

    root = tmp_path_factory.mktemp("tiny")
    trained = train(tiny_args(photo_dir, style_files, root, "--run_name", "tiny",
                              "--model.alpha", "0.5", "--model.num_residual_blocks", "1"))
    net = load_model(trained)
    gen = torch.Generator().manual_seed(0)
    for norm in (m for m in net.modules() if isinstance(m, ConditionalInstanceNorm2d)):
        norm.gamma.data += 0.5 * torch.randn(norm.gamma.shape, generator=gen)
        norm.beta.data += 0.5 * torch.randn(norm.beta.shape, generator=gen)
    return save_model(net, net.style_names, root / "tiny.safetensors", extra=net.metadata)


@pytest.fixture(scope="session")
def tiny_ckpt(tiny_model) -> Path:
    """The Lightning checkpoint of tiny_model's training run (before the perturbation)."""
    return tiny_model.parent / "checkpoints" / "tiny" / "last.ckpt"


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model) -> Path:
    """The fp32 export with a style_weights input."""
    from fststyle import export

    return export.main([str(tiny_model), "--out", str(tiny_model.parent / "tiny.onnx")])


@pytest.fixture(scope="session")
def spatial_onnx(tiny_model) -> Path:
    """The --spatial export (per-pixel style_weights), checked against torch as it is written."""
    from fststyle import export

    return export.main([str(tiny_model), "--spatial", "--out",
                        str(tiny_model.parent / "tiny-spatial.onnx")])


@pytest.fixture(scope="session")
def tiny_student(tiny_model, photo_dir, style_files, tmp_path_factory) -> Path:
    """A slim student (alpha 0.25, 3 stride-2 stages, 3x3 edges, separable blocks) distilled
    from tiny_model for 3 steps; returns its model.safetensors."""
    from fststyle.train import main as train

    root = tmp_path_factory.mktemp("student")
    return train(tiny_args(photo_dir, style_files, root, "--run_name", "st",
                           "--trainer.log_every_n_steps", "1", "--model.alpha", "0.25",
                           "--model.num_residual_blocks", "2", "--model.downsamples", "3",
                           "--model.edge_kernel", "3", "--model.separable_blocks", "true",
                           "--model.distill_from", str(tiny_model)))


@pytest.fixture(scope="session")
def student_onnx(tiny_student) -> dict[str, Path]:
    """{"fp32": path, "int8": path}: the student's exports (int8 with the tiny models' loose
    thresholds: a 3-step network judged by a random VGG, see tests/test_int8.py)."""
    from fststyle import export

    folder = tiny_student.parent
    return {"fp32": export.main([str(tiny_student), "--out", str(folder / "student.onnx")]),
            "int8": export.main([str(tiny_student), "--int8", "--int8-min-psnr", "20",
                                 "--int8-max-increase", "0.1",
                                 "--out", str(folder / "student-int8.onnx")])}


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Video files written with PyAV (not fststyle): "mp4" 67x45 (odd sizes), 15 fps, 12 frames,
    an AAC sine, turned 90 degrees by its display matrix; "gif" 10 fps (GIF counts in 1/100 s),
    31x20; "audio_only" (an .mp4 holding only AAC); "empty" (0 bytes); "corrupt" (random
    bytes); "truncated" (the mp4's first 600 bytes)."""
    d = tmp_path_factory.mktemp("clips")
    mp4 = write_clip(d / "clip.mp4", rotation=90)
    gif = write_clip(d / "anim.gif", size=(31, 20), fps=10, audio=None, codec="gif",
                     pix_fmt="rgb8")
    audio_only = write_clip(d / "sound.mp4", codec=None)
    (d / "empty.mp4").write_bytes(b"")
    (d / "corrupt.mkv").write_bytes(np.random.default_rng(0).bytes(4096))
    (d / "truncated.mov").write_bytes(mp4.read_bytes()[:600])
    return {"mp4": mp4, "gif": gif, "audio_only": audio_only, "empty": d / "empty.mp4",
            "corrupt": d / "corrupt.mkv", "truncated": d / "truncated.mov"}


@pytest.fixture
def no_tracking_env(monkeypatch, tmp_path):
    """No user tracking settings leak in, no proxy gets between a test and 127.0.0.1, and the
    working folder is tmp_path (stray ./mlruns or .neptune folders would land there)."""
    for name in ["MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_TRACKING_TOKEN",
                 "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "HTTP_PROXY",
                 "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> str:
    """A real `mlflow server` on a free localhost port (sqlite store, artifacts proxied into a
    temporary folder); yields its URL, and stops it (its whole process group) at the end."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job workers (7 processes) needed
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=open(folder / "server.log", "w"))
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
    try:
        deadline = time.monotonic() + 120  # a busy 2-core machine takes ~10 s
        while True:
            try:
                direct.open(f"{url}/health", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mlflow server did not start: "
                                       f"{(folder / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # a throwaway store: no need for a clean stop
        server.wait()


@pytest.fixture
def no_neptune_env(monkeypatch, tmp_path):
    """No user settings leak in, no proxy gets between us and 127.0.0.1, and any stray
    .neptune folder would land in tmp_path."""
    for name in ["NEPTUNE_MODE", "NEPTUNE_API_TOKEN", "NEPTUNE_PROJECT", "NEPTUNE_DATA_DIRECTORY",
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.chdir(tmp_path)
