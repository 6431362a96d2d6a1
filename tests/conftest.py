"""Shared fixtures: tiny generated style images and a folder of real bundled photos."""

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fststyle.images import demo_photos

SCRIPTS = Path(__file__).parents[1] / "scripts"


def stripes(size: int = 96, period: int = 8) -> Image.Image:
    x = np.arange(size)[None, :].repeat(size, 0)
    r = ((x // period) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([r, 255 - r, np.full_like(r, 60)], -1))


def blobs(size: int = 96, seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.NEAREST)


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


def tiny_args(photo_dir, style_files, root, *extra) -> list[str]:
    """The acceptance-size training run: 64 px, batch 2, random VGG, no sanity check."""
    return ["--trainer.max_steps", "3", "--data.image_size", "64", "--data.batch_size", "2",
            "--data.source", str(photo_dir), "--data.val_size", "64", "--data.num_workers", "0",
            "--model.styles", f"[{style_files[0]},{style_files[1]}]",
            "--model.vgg_weights", "random", "--model.style_size", "64",
            "--trainer.num_sanity_val_steps", "0", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(root), *extra]


def load_script(name: str):
    """scripts/<name>.py as a module (scripts/ is not a package), to call its main()."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
