"""The run folder's local record, without Lightning or torch at import: its file names, reading
them back, the environment a run ran in, and the one-line messages of the tracking code.

Every run keeps a local record in its run folder, whatever else it logs to: config.yaml,
metrics.csv (`fststyle.tracking.csv_logger`), samples/step_*.png, final_metrics.json,
environment.json and artifacts/ (files attached after training with
`fststyle.tracking.artifacts.log_artifact_to_run`); `python -m fststyle.compare` reads them.
The loggers are built in `fststyle.tracking.build_loggers`; the names they log under are in
`fststyle.tracking.tracked_names`.
"""

import json
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fststyle._version import __version__

FINAL_METRICS = "final_metrics.json"  # the numbers at the end of training, {metric: value}
ENVIRONMENT = "environment.json"  # git commit, versions, hardware: see environment()
NEPTUNE_INFO = "neptune.json"  # how the run was tracked: mode, project, server run id
MLFLOW_INFO = "mlflow.json"  # its MLflow run: tracking URI, experiment and run id


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
