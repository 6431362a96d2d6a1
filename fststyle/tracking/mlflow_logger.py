"""A Lightning logger on the `mlflow` client that works with or without a server.

    python -m fststyle.train --logger mlflow                       # local store: no server
    mlflow ui --backend-store-uri sqlite:///checkpoints/mlflow.db  # browse and compare runs
    MLFLOW_TRACKING_URI=http://mlflow.team:5000 python -m fststyle.train --logger mlflow
    python -m fststyle.train --logger mlflow --mlflow_uri http://mlflow.team:5000   # same

Where: --mlflow_uri, else MLFLOW_TRACKING_URI, else the local store checkpoints/mlflow.db (one
sqlite file shared by every run under checkpoints/, files in checkpoints/mlartifacts/). A server
that does not answer within PROBE_TIMEOUT_S (or answers 5xx) sends the run to the local store,
with one line saying so. Credentials only from the environment (MLFLOW_TRACKING_TOKEN, or
MLFLOW_TRACKING_USERNAME and _PASSWORD), which mlflow reads itself. The run's id is kept in
<run_dir>/mlflow.json: a resumed run (--ckpt_path last) continues the same MLflow run, which then
holds twice the steps logged between its last checkpoint and an interruption.

Names as the Neptune logger's (fststyle.tracking.tracked_names, which both import), so runs
line up in either: params <config path> (Neptune's parameters/<config path>; write-once in
MLflow, so a value changed on resume goes to the tag resumed/<path>), a metric per Lightning
metric with the same renaming (train/style/relu1_1 -> train/style_relu1_1, metric_key), images
val/samples/<style> by step, final/<metric>, tags (styles, style:<name>, vgg, size,
source/git_commit, environment/*), artifacts model.safetensors and later attached files.
"""

import json
import logging
from argparse import Namespace
from pathlib import Path

from pytorch_lightning.utilities.rank_zero import rank_zero_only
from typing_extensions import override

from fststyle.runtime.atomic import atomic_path
from fststyle.tracking.base_logger import TrackerLogger
from fststyle.tracking.mlflow_client import (
    artifact_dir,
    experiment_id,
    mlflow_tags,
    now_ms,
    reachable,
    resolve_uri,
)
from fststyle.tracking.run_folder import MLFLOW_INFO, environment, read_json, say
from fststyle.tracking.server_probe import PROBE_TIMEOUT_S
from fststyle.tracking.tracked_names import final_key, flatten, metric_key

MAX_PARAM_LENGTH = 6000  # mlflow.utils.validation.MAX_PARAM_VAL_LENGTH
BATCH = 100  # params and tags per log_batch call (MAX_PARAMS_TAGS_PER_BATCH)


class MLflowLogger(TrackerLogger):
    """Lightning logger for one MLflow run; rank 0 only. The run starts on first use."""

    def __init__(self, run_dir: str | Path, run_name: str, config: dict | None = None,
                 uri: str | None = None, resume: bool = False,
                 probe_timeout: float = PROBE_TIMEOUT_S):
        super().__init__(run_dir, run_name, config, probe_timeout)
        self.tracking_uri, self._remote = resolve_uri(uri, self._run_dir.parent)
        self._resume, self.run_id, self._closed = resume, None, False
        self._last_step = 0  # final/<metric> is logged at the last step seen

    @property
    @override
    def version(self) -> str:
        return "mlflow"

    def _start(self):
        from mlflow import MlflowClient

        # Its "Creating initial MLflow database tables..." lines are not news to a user.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        checkpoints = self._run_dir.parent
        self.tracking_uri, self._remote = reachable(self.tracking_uri, self._remote, checkpoints,
                                                    self._probe_timeout)
        client = MlflowClient(self.tracking_uri)
        try:
            self.run_id = self._continued(client) or self._create(client, checkpoints)
        except Exception as e:
            raise ValueError(f"mlflow: could not start a run on {self.tracking_uri} (check the "
                             f"server and MLFLOW_TRACKING_TOKEN or _USERNAME/_PASSWORD): {e}; "
                             "without --mlflow_uri and MLFLOW_TRACKING_URI it logs locally") from e
        info = {"tracking_uri": self.tracking_uri, "run_id": self.run_id,
                "experiment_id": client.get_run(self.run_id).info.experiment_id}
        with atomic_path(self._run_dir / MLFLOW_INFO) as tmp:
            tmp.write_text(json.dumps(info, indent=1) + "\n")
        say(f"mlflow: run {self._run_name} ({self.run_id}) on {self.tracking_uri}"
            + ("" if self._remote else f"; to browse: mlflow ui --backend-store-uri "
               f"{self.tracking_uri}"))
        return client

    def _create(self, client, checkpoints: Path) -> str:
        """A new run with its tags and every option as a param."""
        env = {**environment(), "environment/run_dir": str(self._run_dir.resolve())}
        tags = {**mlflow_tags(self._config), **{k: str(v) for k, v in env.items()},
                "mlflow.source.git.commit": env["source/git_commit"]}  # shown by the UI
        run = client.create_run(experiment_id(client, checkpoints, self._remote),
                                run_name=self._run_name, tags=tags)
        self._log_params(client, run.info.run_id, flatten(self._config or {}))
        return run.info.run_id

    def _continued(self, client) -> str | None:
        """The run recorded in <run_dir>/mlflow.json when resuming on the same store, else None."""
        info = read_json(self._run_dir / MLFLOW_INFO)
        if not (self._resume and info.get("tracking_uri") == self.tracking_uri):
            return None
        try:
            run = client.get_run(info["run_id"])
        except Exception:  # deleted, or a store that was reset: a new run then
            return None
        client.update_run(run.info.run_id, status="RUNNING")
        self._log_params(client, run.info.run_id, flatten(self._config or {}), run.data.params)
        return run.info.run_id

    @staticmethod
    def _log_params(client, run_id: str, flat: dict, old: dict | None = None) -> None:
        """Params not yet in the run; a value that differs from the run's (a resumed run with
        other options) goes to the tag resumed/<path>, since MLflow params are write-once."""
        from mlflow.entities import Param, RunTag

        old, values = old or {}, {k: str(v)[:MAX_PARAM_LENGTH] for k, v in flat.items()}
        params = [Param(k, v) for k, v in values.items() if k not in old]
        tags = [RunTag(f"resumed/{k}", v) for k, v in values.items() if old.get(k, v) != v]
        for i in range(0, max(len(params), len(tags)), BATCH):
            client.log_batch(run_id, params=params[i:i + BATCH], tags=tags[i:i + BATCH])

    @override
    @rank_zero_only
    def log_hyperparams(self, params: dict | Namespace, *args, **kwargs) -> None:
        client, options = self.experiment, self._options(params)
        if options is not None:
            self._log_params(client, self.run_id, flatten(options),
                             client.get_run(self.run_id).data.params)

    @override
    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._log_numbers({metric_key(k): v for k, v in metrics.items()}, step)

    def _log_numbers(self, numbers: dict[str, float], step: int | None) -> None:
        from mlflow.entities import Metric

        client, stamp = self.experiment, now_ms()
        self._last_step = max(self._last_step, step or 0)
        client.log_batch(self.run_id, metrics=[Metric(k, float(v), stamp, step or 0)
                                               for k, v in numbers.items()])

    def _log_image_part(self, key: str, image, step: int | None) -> None:
        self.experiment.log_image(self.run_id, image, key=key, step=step or 0)

    @rank_zero_only
    def log_final(self, summary: dict[str, float]) -> None:
        """The numbers at the end of training, as metrics final/<metric> (one value each)."""
        self._log_numbers({final_key(k): v for k, v in summary.items()}, self._last_step)

    @rank_zero_only
    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        """Attach a file to the run: `name`'s folder part is its folder in the artifacts
        ("model" -> model.safetensors at the top, "evaluation/x" -> evaluation/<file>)."""
        self.experiment.log_artifact(self.run_id, str(path), artifact_dir(name))

    @override
    @rank_zero_only
    def finalize(self, status: str) -> None:
        # After a successful fit the run stays open: train.main logs the last grid, the final
        # numbers and the model, then log_run_end closes it. Failures close it now.
        if self._handle is not None and status != "success":
            self.close("FAILED" if status == "failed" else "KILLED")

    @rank_zero_only
    def close(self, status: str = "FINISHED") -> None:
        """End the run with `status` (FINISHED, FAILED or KILLED)."""
        if self._handle is None or self._closed:
            return
        self._handle.set_terminated(self.run_id, status=status)
        self._closed = True
