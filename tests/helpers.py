"""Plain helpers the tests share (fixtures live in conftest.py): generated style images, the
acceptance-size training arguments, loading scripts/*.py, environment-dependent skips, and the
generated test clip (fststyle.runtime.sample_clip, which scripts/bench_video.py uses too)."""

import base64
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fststyle.runtime.sample_clip import write_clip  # noqa: F401 -- the tests' clip writer

SCRIPTS = Path(__file__).parents[1] / "scripts"
# A Neptune API token for a server that is not there (127.0.0.1:9: the discard port).
FAKE_TOKEN = base64.b64encode(json.dumps(
    {"api_address": "http://127.0.0.1:9", "api_url": "http://127.0.0.1:9", "api_key": "x"}
).encode()).decode()

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
    from fststyle.runtime.browser import find_chromium

    try:
        return find_chromium()
    except FileNotFoundError:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
