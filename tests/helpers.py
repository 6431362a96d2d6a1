"""Plain helpers the tests share (fixtures live in conftest.py): generated style images, the
acceptance-size training arguments, loading scripts/*.py, and environment-dependent skips."""

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPTS = Path(__file__).parents[1] / "scripts"

# Prepended to a `python -c` script: any import of torch or Lightning fails in that interpreter.
BLOCK_TORCH = """
import sys
class RefuseTorch:  # a meta-path hook
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "pytorch_lightning", "lightning"):
            raise ImportError(f"refused: {name}")
sys.meta_path.insert(0, RefuseTorch())
"""


def stripes(size: int = 96, period: int = 8) -> Image.Image:
    x = np.arange(size)[None, :].repeat(size, 0)
    r = ((x // period) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([r, 255 - r, np.full_like(r, 60)], -1))


def blobs(size: int = 96, seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.NEAREST)


def tiny_args(photo_dir, style_files, root, *extra) -> list[str]:
    """The acceptance-size training run: 64 px, batch 2, random VGG, no sanity check."""
    return ["--trainer.max_steps", "3", "--data.image_size", "64", "--data.batch_size", "2",
            "--data.source", str(photo_dir), "--data.val_size", "64", "--data.num_workers", "0",
            "--model.styles", f"[{style_files[0]},{style_files[1]}]",
            "--model.objective.vgg_weights", "random", "--model.objective.style_size", "64",
            "--trainer.num_sanity_val_steps", "0", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(root), *extra]


def load_script(name: str):
    """scripts/<name>.py as a module (scripts/ is not a package), to call its main()."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chromium() -> str:
    """The Chromium binary, or a skip saying why there is none (.ci/run installs Debian's)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    return found


def write_clip(path, size=(67, 45), fps=15, frames=12, audio="aac", codec="libx264",
               pix_fmt="yuv444p", rotation=None, sample_rate=44100):
    """A test clip written with PyAV itself (not fststyle): a moving gradient with a bar, so
    frames differ, and a 440 Hz sine in `audio` (None: no sound). `codec` None: audio only."""
    import av

    w, h = size
    with av.open(str(path), "w") as container:
        if codec:
            video = container.add_stream(codec, rate=fps)
            video.width, video.height, video.pix_fmt = w, h, pix_fmt
            if rotation is not None:
                video.set_display_rotation(rotation)
        if audio:
            sound = container.add_stream(audio, rate=sample_rate, layout="mono")
        for i in range(frames if codec else 0):
            x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
            rgb = np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x + i / 2)], -1) * 200 + 20
            rgb[:, (3 * i) % w: (3 * i) % w + 4] = (240, 40, 40)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        if codec:
            container.mux(video.encode(None))
        if audio:
            t = np.arange(round(sample_rate * frames / fps)) / sample_rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]  # (1, samples)
            for k in range(0, wave.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, k:k + 1024]),
                                                   format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = sample_rate, k
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path
