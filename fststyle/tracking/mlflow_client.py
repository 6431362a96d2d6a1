"""The `mlflow` client without Lightning: where a run logs (a server, else the local store), a
bounded probe of the server, names and tags, and attaching files to a finished run. See
`fststyle.tracking.mlflow_logger` for the logger and the tracking conventions.

mlflow is imported inside functions only, so that fststyle works without it installed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from fststyle.tracking.run_folder import say
from fststyle.tracking.server_probe import PROBE_TIMEOUT_S, server_answers
from fststyle.tracking.tracked_names import run_tags

EXPERIMENT = "fststyle"  # every run goes here unless MLFLOW_EXPERIMENT_NAME names another
LOCAL_DB = "mlflow.db"  # the local store, shared by every run beside it: checkpoints/mlflow.db
LOCAL_ARTIFACTS = "mlartifacts"  # its files: checkpoints/mlartifacts/<experiment>/<run>/
INSTALL = "pip install 'fststyle[mlflow]'"


def mlflow_available() -> bool:
    """True when the `mlflow` client can be imported."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return False
    return True


def local_store(checkpoints: Path) -> str:
    """The serverless store for the runs under `checkpoints/`: one sqlite file they all share,
    so `mlflow ui --backend-store-uri sqlite:///checkpoints/mlflow.db` compares them."""
    return f"sqlite:///{(Path(checkpoints) / LOCAL_DB).resolve()}"


def resolve_uri(uri: str | None, checkpoints: Path) -> tuple[str, bool]:
    """(tracking URI, whether it is a remote server): the argument, else MLFLOW_TRACKING_URI,
    else the local store."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return local_store(checkpoints), False
    return uri, uri.startswith(("http://", "https://"))


def reachable(uri: str, remote: bool, checkpoints: Path,
              timeout: float = PROBE_TIMEOUT_S) -> tuple[str, bool]:
    """The URI itself when it is local or its server answers within `timeout` s, else the
    local store, with one line saying so (left to itself the client would retry each call for
    minutes). Its /health page answers without credentials."""
    if not remote or server_answers(uri.rstrip("/") + "/health", timeout):
        return uri, remote
    local = local_store(checkpoints)
    say(f"mlflow: no working server at {uri} (no answer within {timeout:g} s, or a 5xx "
        f"status); this run logs to the local store {local} instead")
    return local, False


def experiment_id(client, checkpoints: Path, remote: bool) -> str:
    """The experiment's id, created when missing. In the local store its files go to
    checkpoints/mlartifacts/ (the client's default would be ./mlruns in the working folder)."""
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    where = None if remote else (Path(checkpoints) / LOCAL_ARTIFACTS / name).resolve().as_uri()
    return client.create_experiment(name, artifact_location=where)


def mlflow_tags(config: dict | None) -> dict[str, str]:
    """fststyle's run tags as MLflow key-value tags: "size:64" -> {"size": "64"}; a kind that
    repeats ("style:a", "style:b") keeps the whole tag as key, {"style:a": "true", ...}, so
    runs filter by `tags."style:udnie" = "true"`."""
    tags = [t.partition(":") for t in run_tags(config)]
    kinds = [kind for kind, _, _ in tags]
    out = {}
    for kind, _, value in tags:
        if kinds.count(kind) == 1:
            out[kind] = value
        else:
            out[f"{kind}:{value}"] = "true"
    return out


def artifact_dir(name: str | None) -> str | None:
    """Where an attached file goes in the run's artifacts: the folder part of its name
    ("evaluation/report_json" -> evaluation/), the top level for a plain name ("model")."""
    parent = Path(name or "").parent.as_posix()
    return None if parent in ("", ".") else parent


def now_ms() -> int:
    return int(time.time() * 1000)


def upload_to_run(info: dict, path: Path, name: str | None) -> bool:
    """Attach `path` to a finished run (its mlflow.json `info`), on its server or local store."""
    uri, where = info["tracking_uri"], f"{path.name} is only in the local record ({path})"
    if not mlflow_available():
        say(f"mlflow: the mlflow package is not installed ({INSTALL}), so {where}")
        return False
    from mlflow import MlflowClient

    remote = uri.startswith(("http://", "https://"))
    if remote and not server_answers(uri.rstrip("/") + "/health", PROBE_TIMEOUT_S):
        say(f"mlflow: no working server at {uri} within {PROBE_TIMEOUT_S:g} s, so {where}")
        return False
    try:
        MlflowClient(uri).log_artifact(info["run_id"], str(path), artifact_dir(name))
    except Exception as e:  # the local copy exists; say why the tracker has none
        say(f"mlflow: could not attach {path.name} to run {info['run_id']} on {uri} ({e}), "
            f"so {where}")
        return False
    return True
