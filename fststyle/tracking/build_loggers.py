"""The Lightning loggers a run writes to, built in one place from the CLI options (--logger,
--neptune_mode, --neptune_project, --mlflow_uri), and the end of a run's record.

Lightning, neptune and mlflow are imported only where needed, so that fststyle works without
neptune or mlflow installed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from fststyle.runtime.atomic import atomic_path
from fststyle.tracking.mlflow_client import mlflow_available
from fststyle.tracking.run_folder import ENVIRONMENT, FINAL_METRICS, environment, say

if TYPE_CHECKING:
    from pytorch_lightning.loggers import Logger

LOGGERS = ("auto", "neptune", "mlflow", "csv", "tensorboard")


def neptune_available() -> bool:
    """True when the `neptune` client with its 1.x API (`neptune.init_run`) can be imported."""
    try:
        import neptune
    except ImportError:
        return False
    return hasattr(neptune, "init_run")


def make_loggers(kind: str, run_dir: Path, run_name: str, config: dict | None = None,
                 neptune_mode: str | None = None, neptune_project: str | None = None,
                 resume_step: int | None = None, mlflow_uri: str | None = None) -> list[Logger]:
    """The run's loggers; the CSV logger comes first so that its folder is the run folder.

    resume_step: the global step of the checkpoint a resumed run starts from; the local
    metrics.csv keeps the rows before it, and the MLflow logger continues the same run.
    """
    from pytorch_lightning.loggers import TensorBoardLogger

    from fststyle.tracking.csv_logger import RunCSVLogger

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
    elif kind == "mlflow" and not mlflow_available():
        raise ValueError("--logger mlflow: the mlflow package is not installed; "
                         "pip install 'fststyle[mlflow]', or use --logger csv")
    loggers: list[Logger] = [RunCSVLogger(run_dir, resume_step)]
    if kind == "tensorboard":
        loggers.append(TensorBoardLogger(save_dir=run_dir, name="", version="tensorboard"))
    if kind == "neptune":
        from fststyle.tracking.neptune_logger import NeptuneLogger

        loggers.append(NeptuneLogger(run_dir, run_name, config, neptune_mode, neptune_project))
    if kind == "mlflow":
        from fststyle.tracking.mlflow_logger import MLflowLogger

        loggers.append(MLflowLogger(run_dir, run_name, config, mlflow_uri,
                                    resume=resume_step is not None))
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
