"""The base logger of fststyle's two tracker loggers (Neptune, MLflow): one run per training
job, started on first use on rank 0, kept beside the run folder, with the same names for the
same things (fststyle.tracking.tracked_names; fststyle.tracking.neptune_logger's docstring
lists them)."""

from argparse import Namespace
from pathlib import Path

from pytorch_lightning.loggers import Logger
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from typing_extensions import override

from fststyle.tracking.grid_split import split_grid
from fststyle.tracking.tracked_names import style_names


class TrackerLogger(Logger):
    """A Lightning logger for one tracker run: `_start()` opens it (the subclass's client or run
    object, kept as `self._handle`), `_log_image_part` logs one style's image."""

    def __init__(self, run_dir: str | Path, run_name: str, config: dict | None,
                 probe_timeout: float):
        super().__init__()
        self._run_dir, self._run_name, self._config = Path(run_dir), run_name, config
        self._probe_timeout, self._handle = probe_timeout, None

    @property
    @override
    def name(self) -> str:
        return self._run_name

    @property
    @override
    def save_dir(self) -> str:  # LightningCLI saves config.yaml here when this logger is first
        return str(self._run_dir)

    @property
    @override
    def log_dir(self) -> str:
        return str(self._run_dir)

    @property
    @rank_zero_experiment
    def experiment(self):
        """The tracker's run (or client), started on first use (rank 0; other ranks get a
        no-op stand-in)."""
        if self._handle is None:
            self._handle = self._start()
        return self._handle

    def _start(self):
        raise NotImplementedError

    def _options(self, params: dict | Namespace) -> dict | None:
        """Lightning's hyperparameters as a dict, or None when the full run config (given at
        construction, and logged with the run) already holds them."""
        if self._config is not None:
            return None
        return vars(params) if isinstance(params, Namespace) else dict(params)

    @rank_zero_only
    def log_image(self, key: str, image, step: int | None = None) -> None:
        """A sample grid (PIL) -> one image series per style, key/<style>; key/all when the
        grid cannot be cut per style."""
        names = style_names(self._config)
        parts = split_grid(image, len(names)) if names else None
        for name, part in zip(names, parts) if parts else [("all", image)]:
            self._log_image_part(f"{key}/{name}", part, step)

    def _log_image_part(self, key: str, image, step: int | None) -> None:
        raise NotImplementedError
