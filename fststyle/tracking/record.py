"""The run's local record, without Lightning or torch at import: file names, reading it back,
flattening configs, the environment a run ran in, tags, and cutting sample grids per style.

Every run keeps a local record in its run folder, whatever else it logs to: config.yaml,
metrics.csv, samples/step_*.png, final_metrics.json, environment.json and artifacts/ (files
attached after training with `fststyle.tracking.artifacts.log_artifact_to_run`);
`python -m fststyle.compare` reads them. The loggers are built in `fststyle.tracking.loggers`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fststyle._version import __version__

if TYPE_CHECKING:
    from PIL import Image

FINAL_METRICS = "final_metrics.json"  # the numbers at the end of training, {metric: value}
ENVIRONMENT = "environment.json"  # git commit, versions, hardware: see environment()
NEPTUNE_INFO = "neptune.json"  # how the run was tracked: mode, project, server run id
MLFLOW_INFO = "mlflow.json"  # its MLflow run: tracking URI, experiment and run id
GRID_PADDING = 2  # pixels around tiles in fststyle.core.images.sample_grid (make_grid's default)
INT32 = 2**31  # Neptune integer fields are 32-bit


def say(message: str) -> None:
    """One line on stderr, from rank 0 only (every DDP rank builds its own loggers)."""
    from lightning_utilities.core.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) == 0:
        print(message, file=sys.stderr, flush=True)


def read_json(path: Path) -> dict:
    """The JSON object in `path`, or {} when there is no such file."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def flatten(tree: dict, prefix: str = "") -> dict[str, str | int | float | bool]:
    """{"model": {"lr": 1e-3, "styles": ["a"]}} -> {"model/lr": 0.001, "model/styles": '["a"]'}:
    scalars stay scalars, everything else (None, lists, big ints) becomes its JSON text."""
    flat: dict[str, str | int | float | bool] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "/"))
        elif isinstance(value, (bool, float, str)) or (
                isinstance(value, int) and -INT32 <= value < INT32):
            flat[path] = value
        else:
            flat[path] = json.dumps(value, default=str)
    return flat


def git_commit() -> tuple[str, bool]:
    """(commit, has uncommitted changes) of the fststyle checkout, ("unknown", False) if none."""
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=here,
                               capture_output=True, timeout=10).returncode == 1
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return (head.stdout.strip(), dirty) if head.returncode == 0 else ("unknown", False)


def environment() -> dict[str, Any]:
    """Where the run ran: code version, library versions, hardware, world size."""
    import torch

    commit, dirty = git_commit()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    dist = torch.distributed.is_available() and torch.distributed.is_initialized()
    return {"source/git_commit": commit, "source/git_dirty": dirty,
            "environment/fststyle": __version__, "environment/torch": torch.__version__,
            "environment/lightning": version("pytorch-lightning"),
            "environment/python": platform.python_version(),
            "environment/platform": platform.platform(), "environment/cpu_count": os.cpu_count(),
            "environment/gpus": ", ".join(gpus) or "none",
            "environment/world_size": torch.distributed.get_world_size() if dist else 1}


def style_names(config: dict | None) -> list[str]:
    """Style names of a run config: the file stems (fststyle.runtime.imagefiles.style_name, without
    importing torch)."""
    styles = ((config or {}).get("model") or {}).get("styles") or []
    return [Path(str(s)).stem for s in styles]


def run_tags(config: dict | None) -> list[str]:
    """Tags to filter runs by: the style set, each style, the VGG source, the image size."""
    if not config:
        return []
    tags = []
    names = style_names(config)
    if names:
        tags += [f"styles:{'+'.join(names)}", *(f"style:{n}" for n in names)]
    model = config.get("model") or {}
    vgg = (model.get("objective") or {}).get("vgg_weights", model.get("vgg_weights"))
    if vgg is not None:
        tags.append(f"vgg:{Path(str(vgg)).name}")  # a state-dict PATH shows as its file name
    size = (config.get("data") or {}).get("image_size")
    if size is not None:
        tags.append(f"size:{size}")
    return tags


def split_grid(grid: Image.Image, n_styles: int) -> list[Image.Image] | None:
    """Cut a sample grid (rows: photos; columns: the photo, then one per style, as
    `fststyle.core.images.sample_grid` lays it out) into one [photo | style] image per style.
    None when the width does not fit that layout."""
    from PIL import Image

    pad, rgb = GRID_PADDING, grid.convert("RGB")
    step, rest = divmod(grid.width - pad, n_styles + 1) if n_styles > 0 else (0, 1)
    if rest or step <= pad:
        return None
    gutters = [rgb.crop((x, 0, x + pad, grid.height)).getextrema()
               for x in range(0, grid.width, step)]
    if any(band != (255, 255) for gutter in gutters for band in gutter):
        return None  # not (n_styles + 1) tiles between white padding
    photo = grid.crop((0, 0, step + pad, grid.height))  # left padding, photo, padding
    parts = []
    for i in range(1, n_styles + 1):
        column = grid.crop((i * step + pad, 0, (i + 1) * step + pad, grid.height))
        part = Image.new(grid.mode, (photo.width + column.width, grid.height))
        part.paste(photo, (0, 0))
        part.paste(column, (photo.width, 0))
        parts.append(part)
    return parts
