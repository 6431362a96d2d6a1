"""Files made after training (an ONNX export, an evaluation report) attached to a run's record,
and to its Neptune server run or MLflow run when it had one. No Lightning: `fststyle.evaluate
--run` and `fststyle.export --run` use it."""

import shutil
from pathlib import Path

from fststyle.runtime.atomic import atomic_path
from fststyle.tracking.run_folder import MLFLOW_INFO, NEPTUNE_INFO, read_json, say


def log_artifact_to_run(run_dir: str | Path, path: str | Path, name: str | None = None) -> Path:
    """Attach a file made after training (an ONNX export, an evaluation report) to a run.

    Copies it to <run_dir>/artifacts/<file name> (the local record) and, when the run was
    tracked on a Neptune server, uploads a copy to that run as artifacts/<name> (default: the
    file's stem). An offline Neptune run cannot take files once it has ended; the line printed
    says so. An MLflow run (on its server or in the local store) takes the file in its
    artifacts, in the folder part of `name` (evaluation/report_json -> evaluation/report.json).
    Returns the local copy.
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
    info = read_json(run_dir / MLFLOW_INFO)
    if info.get("run_id"):
        from fststyle.tracking.mlflow_client import upload_to_run as mlflow_upload

        mlflow_upload(info, dest, name)
    info = read_json(run_dir / NEPTUNE_INFO)
    if info.get("id"):
        from fststyle.tracking.neptune_client import upload_to_run

        upload_to_run(info, dest, name or path.stem)
    elif info:
        say(f"tracking: {path.name} is kept in {dest}; the {info.get('mode')} Neptune run "
            "cannot take files after it ended")
    return dest
