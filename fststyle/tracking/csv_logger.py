"""The CSV logger of every run: metrics.csv in the run folder, continued across resumes.

Lightning's CSVLogger deletes an existing metrics.csv when it starts, so a resumed run would
lose its history. This one keeps the rows logged before the checkpoint it resumes from (rows
after it are dropped: they are re-logged by the resumed run), so the logged step is continuous.
"""

import csv
import os

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from fststyle.runtime.atomic import atomic_path


class _ContinuingWriter(ExperimentWriter):
    def __init__(self, log_dir: str, resume_step: int | None):
        self.resume_step = resume_step
        super().__init__(log_dir=log_dir)

    def _check_log_dir_exists(self) -> None:
        path = self.metrics_file_path
        if not os.path.isfile(path):
            return
        if self.resume_step is None:  # a fresh run in an old folder starts a fresh record
            os.unlink(path)
            return
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if r.get("step") and int(r["step"]) < self.resume_step]
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = keys


class RunCSVLogger(CSVLogger):
    """CSVLogger writing `metrics.csv` straight into the run folder, continuing on resume."""

    def __init__(self, run_dir, resume_step: int | None = None):
        # Flushed every step: a killed run keeps its history up to the kill (one short append).
        super().__init__(save_dir=run_dir, name="", version="", flush_logs_every_n_steps=1)
        self.resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(self.log_dir, self.resume_step)
        return self._experiment
