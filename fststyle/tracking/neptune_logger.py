"""A Lightning logger on the `neptune` client (1.x API) that works with or without a server.

    python -m fststyle.train --logger neptune                     # offline unless a server is set
    NEPTUNE_API_TOKEN=... NEPTUNE_PROJECT=team/fststyle python -m fststyle.train   # own server
    neptune sync --path checkpoints/RUN --project team/fststyle   # upload an offline run later
    python -c "from neptune.cli.commands import sync; sync()" --path checkpoints/RUN ...  # same

(The second form runs where the `neptune` script fails on "No module named 'pkg_resources'":
the 1.x CLI imports it, and setuptools >= 81 no longer ships it.)

Lightning >= 2.6.2's NeptuneLogger only raises ("Neptune has been sunset") and Neptune's hosted
service closed in March 2026, so fststyle carries its own. Mode: the argument, else NEPTUNE_MODE,
else async when NEPTUNE_API_TOKEN and a project are set, else offline. The client keeps its data
(offline runs, async send buffers) in <run_dir>/.neptune (it reads NEPTUNE_DATA_DIRECTORY as a
run starts). A server that does not answer an HTTP request within PROBE_TIMEOUT_S, or answers
with a 5xx status, sends the run offline with one line saying so; left to itself the client
would retry each call for 60 s.

Stable field names (fststyle.tracking.tracked_names, shared with the MLflow logger), so that
runs line up as columns: parameters/<config path>, sys/name, sys/tags, a series per metric
(train/style/relu1_1 -> train/style_relu1_1: a Neptune field cannot also be a namespace),
val/samples/<style> images, final/<metric>, artifacts/<name> (copies, so a later sync has
them), source/git_commit, environment/* (versions, hardware, world size).
"""

import hashlib
import json
import os
import warnings
from argparse import Namespace
from pathlib import Path

from pytorch_lightning.utilities.rank_zero import rank_zero_only
from typing_extensions import override

from fststyle.runtime.atomic import atomic_path
from fststyle.tracking.base_logger import TrackerLogger
from fststyle.tracking.neptune_client import (
    STOP_TIMEOUT_S,
    SYNC,
    api_url,
    resolve_mode,
    set_data_dir,
    upload_copy,
)
from fststyle.tracking.run_folder import NEPTUNE_INFO, environment, say
from fststyle.tracking.server_probe import PROBE_TIMEOUT_S, server_answers
from fststyle.tracking.tracked_names import final_key, flatten, metric_key, run_tags

# CPU-only machines: the client's hardware monitor says it cannot find NVML, harmlessly.
warnings.filterwarnings("ignore", message=".*NVML Shared Library Not Found.*")

class NeptuneLogger(TrackerLogger):
    """Lightning logger for one Neptune run; rank 0 only. The run starts on first use."""

    def __init__(self, run_dir: str | Path, run_name: str, config: dict | None = None,
                 mode: str | None = None, project: str | None = None,
                 probe_timeout: float = PROBE_TIMEOUT_S, **init_run_kwargs):
        super().__init__(run_dir, run_name, config, probe_timeout)
        self._project = project or os.environ.get("NEPTUNE_PROJECT")
        self.mode = resolve_mode(mode, self._project)  # fail before any training
        self._init_run_kwargs = init_run_kwargs
        self._stopped, self._previous_data_dir = False, None

    @property
    def _run(self):
        """The neptune Run, or None before the first use."""
        return self._handle

    @property
    @override
    def version(self) -> str:
        return self.mode

    def _start(self):
        url = api_url(os.environ["NEPTUNE_API_TOKEN"]) if self.mode in ("async", "sync") else None
        if url and not server_answers(url, self._probe_timeout):
            say(f"neptune: no working server at {url} (no answer within "
                f"{self._probe_timeout:g} s, or a 5xx status); this run logs offline instead")
            self.mode, url = "offline", None
        data_dir = self._run_dir / ".neptune"
        self._previous_data_dir = set_data_dir(data_dir)
        try:
            run = self._init_run(url)
        except Exception as e:
            set_data_dir(self._previous_data_dir)
            raise ValueError(f"neptune: could not start a run on {url} in project "
                             f"{self._project} (check NEPTUNE_API_TOKEN and NEPTUNE_PROJECT): "
                             f"{e}; --neptune_mode offline logs locally, to sync later") from e
        for key, value in {**flatten(self._config or {}, "parameters/"), **environment()}.items():
            run[key] = value
        run["environment/run_dir"] = str(self._run_dir.resolve())
        info = {"mode": self.mode, "project": self._project, "data_dir": str(data_dir.resolve()),
                "id": run["sys/id"].fetch() if url else None}
        with atomic_path(self._run_dir / NEPTUNE_INFO) as tmp:
            tmp.write_text(json.dumps(info, indent=1) + "\n")
        say(self._where(url, data_dir))
        return run

    def _init_run(self, url: str | None):
        import neptune

        # On a server, a resumed run (same folder) appends to the same Neptune run.
        custom_id = "fststyle-" + hashlib.sha1(str(self._run_dir.resolve()).encode()).hexdigest()
        return neptune.init_run(project=self._project if url else None, mode=self.mode,
                                name=self._run_name, tags=run_tags(self._config), git_ref=False,
                                custom_run_id=custom_id[:36] if url else None,  # max length
                                **self._init_run_kwargs)

    def _where(self, url: str | None, data_dir: Path) -> str:
        if self.mode == "debug":
            return "neptune: debug mode, nothing is kept"
        if url:
            return (f"neptune: run {self._run_name} on {url}, project {self._project}; unsent "
                    f"data waits in {data_dir} ({SYNC} --path {self._run_dir})")
        return (f"neptune: offline run, data in {data_dir}; to upload it later: NEPTUNE_API_TOKEN"
                f"=... {SYNC} --path {self._run_dir} --project WORKSPACE/PROJECT")

    @override
    @rank_zero_only
    def log_hyperparams(self, params: dict | Namespace, *args, **kwargs) -> None:
        run, options = self.experiment, self._options(params)
        for key, value in flatten(options or {}, "parameters/").items():
            run[key] = value

    @override
    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        run = self.experiment
        for key, value in metrics.items():
            run[metric_key(key)].append(float(value), step=step)

    def _log_image_part(self, key: str, image, step: int | None) -> None:
        from neptune.types import File

        self.experiment[key].append(File.as_image(image), step=step)

    @rank_zero_only
    def log_final(self, summary: dict[str, float]) -> None:
        """The numbers at the end of training, as single values final/<metric>."""
        run = self.experiment
        for key, value in summary.items():
            run[final_key(key)] = float(value)

    @rank_zero_only
    def log_artifact(self, path: str | Path, name: str | None = None) -> None:
        """Upload a copy of a file as artifacts/<name> (default: the file's stem)."""
        upload_copy(self.experiment, Path(path), name or Path(path).stem)

    @override
    @rank_zero_only
    def finalize(self, status: str) -> None:
        # After a successful fit the run stays open: train.main logs the last grid, the final
        # numbers and the model, then log_run_end closes it. Failures close it now.
        if self._run is not None and status != "success":
            if status == "failed":
                self._run["sys/failed"] = True
            self.close()

    @rank_zero_only
    def close(self) -> None:
        """Stop the run: wait (at most STOP_TIMEOUT_S) for unsent data, which otherwise stays
        in <run_dir>/.neptune for `neptune sync`."""
        if self._run is None or self._stopped:
            return
        self._run.stop(seconds=STOP_TIMEOUT_S if self.mode in ("async", "sync") else None)
        self._stopped = True  # later logging raises the client's InactiveRunException
        set_data_dir(self._previous_data_dir)
