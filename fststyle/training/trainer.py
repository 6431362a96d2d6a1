"""The LightningCLI behind `python -m fststyle.train`: the run folder, resuming, precision by
hardware, and the callbacks and loggers every run gets."""


import datetime
import os
import warnings
from pathlib import Path

import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningCLI

from fststyle.runtime.hardware import describe_cpu
from fststyle.tracking.build_loggers import make_loggers
from fststyle.training.last_checkpoint import LastCheckpoint
from fststyle.training.progress import ProgressLines
from fststyle.training.samples import SampleGrids

# Expected here, not problems: the frozen VGG is in eval mode on purpose, and the CSV logger
# creates the run folder before the checkpoint callback looks at it.
warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")
warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
# (val_check_interval counts steps across epochs, so a short epoch is no problem.)
warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


def bf16_supported(device: str) -> bool:
    """Whether `device` ("cuda" or "cpu") has bf16 units (on CPU: oneDNN's AVX512-BF16/AMX)."""
    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.ops.mkldnn._is_mkldnn_bf16_supported()


def default_precision() -> str:
    """bf16 autocast where the hardware has bf16 units (about 2x faster on AVX512-BF16 CPUs),
    else fp32. Grams stay fp32 either way (losses.gram_matrix)."""
    if torch.cuda.is_available():
        return "bf16-mixed" if bf16_supported("cuda") else "16-mixed"
    return "bf16-mixed" if bf16_supported("cpu") else "32-true"


def hardware(trainer) -> str:
    """The accelerator this run trains on, for the first line it prints."""
    if trainer.strategy.root_device.type == "cuda":
        return f"{trainer.num_devices} x {torch.cuda.get_device_name()}"
    return describe_cpu()


# The run name every rank uses when --run_name is not given; under srun or torchrun, where the
# ranks start independently, pass --run_name (scripts/slurm/train.sbatch does).
RUN_NAME_ENV = "FSTSTYLE_RUN_NAME"

TRAINER_DEFAULTS = {
    "max_steps": 300,  # the demo recipe: ~10 min on 2 CPU cores; configs/coco.yaml: 40k
    "val_check_interval": 100,  # a sample grid every 100 steps, counted across epochs
    "check_val_every_n_epoch": None,  # (needed for step-based val_check_interval)
    "log_every_n_steps": 10,
}


class TrainCLI(LightningCLI):
    """LightningCLI without subcommands: parse, build, then `fit` in `main`."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--run_name", type=str | None, default=None,
                            help="Run folder under checkpoints/ (default: a timestamp)")
        parser.add_argument("--ckpt_path", type=str | None, default=None,
                            help="Resume: 'last' (newest run, or --run_name's) or a .ckpt path")
        parser.add_argument("--checkpoint_every_n_steps", type=int, default=100,
                            help="Save checkpoints/<run>/step_*.ckpt every N steps")
        parser.add_argument("--progress_every_n_steps", type=int, default=20,
                            help="With the progress bar off: a line (step, loss, images/s, "
                                 "elapsed, ETA) every N steps")
        parser.add_argument("--logger", type=str, default="auto",
                            help="Tracker beside the local CSV record: auto | neptune | mlflow "
                                 "| csv | tensorboard (auto: neptune when installed, else csv)")
        parser.add_argument("--neptune_mode", type=str | None, default=None,
                            help="async | offline | debug | sync (default: NEPTUNE_MODE, "
                                 "else async with NEPTUNE_API_TOKEN+NEPTUNE_PROJECT, else offline)")
        parser.add_argument("--neptune_project", type=str | None, default=None,
                            help="workspace/project (default: NEPTUNE_PROJECT)")
        parser.add_argument("--mlflow_uri", type=str | None, default=None,
                            help="MLflow server, e.g. http://host:5000 (default: "
                                 "MLFLOW_TRACKING_URI, else the local store "
                                 "checkpoints/mlflow.db)")

    def instantiate_trainer(self, **kwargs):
        cfg = self.config
        root = Path(cfg.trainer.default_root_dir or ".")
        run_name = cfg.run_name or os.environ.get(RUN_NAME_ENV)  # set for launched ranks
        self.run_name, self.ckpt_path = resolve_run(root, run_name, cfg.ckpt_path)
        self.run_dir = root / "checkpoints" / self.run_name
        trainer_cfg = self._get(self.config_init, "trainer", default={})
        user_callbacks = trainer_cfg.get("callbacks") or []
        checkpoint = ModelCheckpoint(
            dirpath=self.run_dir, filename="step_{step:06d}", auto_insert_metric_name=False,
            every_n_train_steps=cfg.checkpoint_every_n_steps, save_top_k=-1)
        self.last = LastCheckpoint(self.run_dir / "last.ckpt", cfg.checkpoint_every_n_steps)
        self.sample_grids = SampleGrids()
        callbacks = [*user_callbacks, checkpoint, self.last, self.sample_grids]
        if cfg.trainer.enable_progress_bar is False:
            callbacks.append(ProgressLines(cfg.progress_every_n_steps))
        logger = trainer_cfg.get("logger")  # --trainer.logger, if given, wins
        if logger in (None, True):
            logger = make_loggers(cfg.logger, self.run_dir, self.run_name,
                                  config=self.tracked_config(), neptune_mode=cfg.neptune_mode,
                                  neptune_project=cfg.neptune_project,
                                  resume_step=checkpoint_step(self.ckpt_path),
                                  mlflow_uri=cfg.mlflow_uri)
        return super().instantiate_trainer(
            callbacks=callbacks, logger=logger,
            default_root_dir=str(self.run_dir), **kwargs)


    def tracked_config(self) -> dict:
        """The run's config as the trackers record it, the objective resolved: what the run
        trains with (the base's with init_from or distill_from), not the nulls left out."""
        config = self.config.as_dict()
        config["model"]["objective"] = dict(self.model.hparams["objective"])
        return config


def checkpoint_step(path: str | None) -> int | None:
    if path is None:
        return None
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"]


def resolve_run(root: Path, run_name: str | None, ckpt_path: str | None) -> tuple[str, str | None]:
    """Pick the run folder and the checkpoint to resume from (if any)."""
    if ckpt_path != "last":
        if ckpt_path is not None and not Path(ckpt_path).is_file():
            raise ValueError(f"--ckpt_path: no checkpoint file at {ckpt_path}")
        if ckpt_path is not None and run_name is None:
            run_name = Path(ckpt_path).parent.name  # keep writing beside the checkpoint
        return run_name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S"), ckpt_path
    if run_name is None:
        runs = sorted((root / "checkpoints").glob("*/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise ValueError(f"--ckpt_path last: no run with a last.ckpt under "
                             f"{root / 'checkpoints'}")
        run_name = runs[-1].parent.name
    last = root / "checkpoints" / run_name / "last.ckpt"
    if not last.is_file():
        raise ValueError(f"--ckpt_path last: {last} does not exist")
    return run_name, str(last)
