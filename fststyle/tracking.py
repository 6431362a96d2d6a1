"""Experiment tracking: which Lightning loggers a run writes to, and the run's local record.

Every run keeps a local record in its run folder, whatever else it logs to: config.yaml,
metrics.csv, samples/step_*.png, final_metrics.json, environment.json and artifacts/ (files
attached after training with `log_artifact_to_run`); `python -m fststyle.compare` reads them.
Lightning and neptune are imported only where needed, so that compare starts fast and fststyle
works without neptune installed.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fststyle import __version__
from fststyle.atomic import atomic_path

if TYPE_CHECKING:
    from PIL import Image
    from pytorch_lightning.loggers import Logger

LOGGERS = ("auto", "neptune", "csv", "tensorboard")
FINAL_METRICS = "final_metrics.json"  # the numbers at the end of training, {metric: value}
ENVIRONMENT = "environment.json"  # git commit, versions, hardware: see environment()
NEPTUNE_INFO = "neptune.json"  # how the run was tracked: mode, project, server run id
GRID_PADDING = 2  # pixels around tiles in fststyle.images.sample_grid (make_grid's default)
INT32 = 2**31  # Neptune integer fields are 32-bit


def say(message: str) -> None:
    """One line on stderr, from rank 0 only (every DDP rank builds its own loggers)."""
    from lightning_utilities.core.rank_zero import rank_zero_only

    if getattr(rank_zero_only, "rank", 0) == 0:
        print(message, file=sys.stderr, flush=True)


def neptune_available() -> bool:
    """True when the `neptune` client with its 1.x API (`neptune.init_run`) can be imported."""
    try:
        import neptune
    except ImportError:
        return False
    return hasattr(neptune, "init_run")


def make_loggers(kind: str, run_dir: Path, run_name: str, config: dict | None = None,
                 neptune_mode: str | None = None, neptune_project: str | None = None,
                 resume_step: int | None = None) -> list[Logger]:
    """The run's loggers; the CSV logger comes first so that its folder is the run folder.

    resume_step: the global step of the checkpoint a resumed run starts from; the local
    metrics.csv keeps the rows before it.
    """
    from pytorch_lightning.loggers import TensorBoardLogger

    from fststyle.run_record import RunCSVLogger

    if kind not in LOGGERS:
        raise ValueError(f"--logger must be one of {', '.join(LOGGERS)}, got {kind!r}")
    if kind == "auto":
        kind = "neptune" if neptune_available() else "csv"
        if kind == "csv":
            say("tracking: the neptune package is not installed, so this run logs to CSV only "
                f"({run_dir / 'metrics.csv'}); pip install 'neptune>=1.10,<2' to track in Neptune")
    elif kind == "neptune" and not neptune_available():
        raise ValueError("--logger neptune: the neptune package (1.x API) is not installed; "
                         "pip install 'neptune>=1.10,<2', or use --logger csv")
    loggers: list[Logger] = [RunCSVLogger(run_dir, resume_step)]
    if kind == "tensorboard":
        loggers.append(TensorBoardLogger(save_dir=run_dir, name="", version="tensorboard"))
    if kind == "neptune":
        from fststyle.neptune_logger import NeptuneLogger

        loggers.append(NeptuneLogger(run_dir, run_name, config, neptune_mode, neptune_project))
    return loggers


def log_run_end(loggers: list[Logger], model_path: Path, summary: dict) -> None:
    """Record the final numbers and the environment beside the model; hand the numbers and
    the model file to loggers that keep artefacts, then close those loggers (Lightning's
    finalize leaves them open for this)."""
    for name, record in [(FINAL_METRICS, summary), (ENVIRONMENT, environment())]:
        with atomic_path(Path(model_path).parent / name) as tmp:
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    for logger in loggers:
        if hasattr(logger, "log_final"):
            logger.log_final(summary)
        if hasattr(logger, "log_artifact"):
            logger.log_artifact(model_path, "model")
        if hasattr(logger, "close"):
            logger.close()


def log_artifact_to_run(run_dir: str | Path, path: str | Path, name: str | None = None) -> Path:
    """Attach a file made after training (an ONNX export, an evaluation report) to a run.

    Copies it to <run_dir>/artifacts/<file name> (the local record) and, when the run was
    tracked on a Neptune server, uploads a copy to that run as artifacts/<name> (default: the
    file's stem). An offline Neptune run cannot take files once it has ended; the line printed
    says so. Returns the local copy.
    """
    run_dir, path = Path(run_dir), Path(path)
    if not run_dir.is_dir():
        raise ValueError(f"log_artifact_to_run: no run folder at {run_dir}")
    if not path.is_file():
        raise ValueError(f"log_artifact_to_run: no file at {path}")
    dest = run_dir / "artifacts" / path.name
    if path.resolve() != dest.resolve():
        with atomic_path(dest) as tmp:
            shutil.copyfile(path, tmp)
    info = read_json(run_dir / NEPTUNE_INFO)
    if info.get("id"):
        from fststyle.neptune_logger import upload_to_run

        upload_to_run(info, dest, name or path.stem)
    elif info:
        say(f"tracking: {path.name} is kept in {dest}; the {info.get('mode')} Neptune run "
            "cannot take files after it ended")
    return dest


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
    import pytorch_lightning as pl
    import torch

    commit, dirty = git_commit()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    dist = torch.distributed.is_available() and torch.distributed.is_initialized()
    return {"source/git_commit": commit, "source/git_dirty": dirty,
            "environment/fststyle": __version__, "environment/torch": torch.__version__,
            "environment/lightning": pl.__version__,
            "environment/python": platform.python_version(),
            "environment/platform": platform.platform(), "environment/cpu_count": os.cpu_count(),
            "environment/gpus": ", ".join(gpus) or "none",
            "environment/world_size": torch.distributed.get_world_size() if dist else 1}


def style_names(config: dict | None) -> list[str]:
    """Style names of a run config: the file stems (fststyle.images.style_name, without
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
    vgg = (config.get("model") or {}).get("vgg_weights")
    if vgg is not None:
        tags.append(f"vgg:{Path(str(vgg)).name}")  # a state-dict PATH shows as its file name
    size = (config.get("data") or {}).get("image_size")
    if size is not None:
        tags.append(f"size:{size}")
    return tags


def split_grid(grid: Image.Image, n_styles: int) -> list[Image.Image] | None:
    """Cut a sample grid (rows: photos; columns: the photo, then one per style, as
    `fststyle.images.sample_grid` lays it out) into one [photo | style] image per style.
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
