"""Train one N-style network on content photos.

    python -m fststyle.train                                  # demo: bundled photos + 4 styles
    python -m fststyle.train --config configs/coco.yaml       # the real recipe (GPU)
    python -m fststyle.train --trainer.max_steps 10 --data.image_size 128 \\
        --data.source photos/ --model.styles [a.jpg,b.jpg]
    python -m fststyle.train --ckpt_path last                 # resume the newest run
    python -m fststyle.train --print_config                   # every option, as YAML

Writes checkpoints/<run>/ under the current directory (or --trainer.default_root_dir):
step_*.ckpt, last.ckpt, metrics.csv, config.yaml, samples/step_*.png and, at the end,
model.safetensors (the portable network: `fststyle.load_model(path)`).
"""
import os
import sys
from pathlib import Path

from pytorch_lightning.callbacks import Timer

from fststyle.cli import run_cli
from fststyle.core.model_io import save_model
from fststyle.tracking.build_loggers import log_run_end
from fststyle.training.data import ContentDataModule
from fststyle.training.module import StyleTransfer
from fststyle.training.trainer import (
    RUN_NAME_ENV,
    TRAINER_DEFAULTS,
    TrainCLI,
    default_precision,
    hardware,
)


def build(args: list[str] | None = None) -> TrainCLI:
    """Parse the options and build the model, the data and the trainer (nothing runs yet)."""
    return TrainCLI(
        StyleTransfer, ContentDataModule, run=False, args=args,
        trainer_defaults={**TRAINER_DEFAULTS, "precision": default_precision()},
        auto_configure_optimizers=False,  # one optimiser, configured by --model.lr
        seed_everything_default=0,  # reproducible crops and init unless told otherwise
        save_config_kwargs={"overwrite": True},  # a resumed run rewrites its config.yaml
        parser_kwargs={"description": __doc__.split("\n")[0]})


def main(args: list[str] | None = None) -> Path:
    """Train; return the written model.safetensors path."""
    app = build(args)
    model, trainer = app.model, app.trainer
    if trainer.is_global_zero:
        print(f"fststyle.train: {trainer.max_steps} steps{time_budget(trainer)}, precision "
              f"{trainer.precision} on {hardware(trainer)}", file=sys.stderr)
    # The ranks Lightning launches (--trainer.devices N) re-run this command: same run folder.
    os.environ[RUN_NAME_ENV] = app.run_name
    try:
        # weights_only: a checkpoint is data; one that needs unpickling code is refused.
        trainer.fit(model, app.datamodule, ckpt_path=app.ckpt_path, weights_only=True)
    finally:
        os.environ.pop(RUN_NAME_ENV, None)
    if app.last.signum is not None:
        raise SystemExit(128 + app.last.signum)  # the shell's convention for signals
    path = app.run_dir / "model.safetensors"
    if trainer.is_global_zero:
        finish(app, path)
    return path


def time_budget(trainer) -> str:
    """ " or a 150 s time budget" when --trainer.max_time set one (Lightning's Timer)."""
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    seconds = None if timer is None else timer.time_remaining()
    return "" if seconds is None else f" or a {seconds:.0f} s time budget"


def finish(app: TrainCLI, path: Path) -> None:
    """Rank 0, after training: a grid at the final step, model.safetensors, the run's record."""
    model, trainer = app.model, app.trainer
    if app.sample_grids.last_step != trainer.global_step:
        app.sample_grids.write(trainer, model, next(iter(app.datamodule.val_dataloader())))
    config = {"run": app.run_name, "global_step": trainer.global_step,
              "model": {k: v for k, v in model.hparams.items() if not k.startswith("_")}}
    save_model(model.net, model.style_names, path, extra=config)
    final = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    log_run_end(trainer.loggers, path, final)
    # The step reached tells a time-budgeted run (--trainer.max_time) how far it got.
    print(f"model: {path} (step {trainer.global_step} of {trainer.max_steps})\n"
          f"samples: {app.run_dir / 'samples'}", file=sys.stderr)


def cli(argv: list[str] | None = None) -> Path:
    """`main` under the CLI convention (fststyle.cli): a bad option or file exits 2."""
    return run_cli("train", main, argv)


if __name__ == "__main__":
    cli()
