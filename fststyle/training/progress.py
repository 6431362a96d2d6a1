"""Progress lines for runs without a progress bar (logs, CI, `scripts/demo.sh`): one line every
N steps with the step, the loss, the throughput, the time so far and the time still to go, so
a user knows within the first minute how long the run will take on their machine.

    step 40/300  loss 2.15  3.42 images/s  elapsed 1:35  ETA 10:09
"""

import sys
import time

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from typing_extensions import override


def clock(seconds: float) -> str:
    """61 -> '1:01', 3725 -> '1:02:05'."""
    minutes, s = divmod(round(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressLines(Callback):
    """Print a progress line to stderr every `every_n_steps` optimiser steps and at the last.

    Elapsed counts from the start of training; throughput and ETA from the end of the first
    step, so the first step's one-off costs (allocations, oneDNN kernel choice) do not
    distort them.
    """

    def __init__(self, every_n_steps: int):
        if every_n_steps < 1:
            raise ValueError(f"--progress_every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self._t0 = time.perf_counter()
        self._start: tuple[float, int] | None = None  # (time, step) at the first step's end
        self._images, self._printed = 0, -1

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._t0, self._start, self._images = time.perf_counter(), None, 0
        self._printed = -1

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        step, now = trainer.global_step, time.perf_counter()
        if self._start is None:
            self._start = (now, step)
            return
        self._images += len(batch["image"]) * trainer.world_size
        due = step % self.every_n_steps == 0 or step == trainer.max_steps
        # Once per optimiser step: with gradient accumulation (or a skipped non-finite step)
        # several batches end at the same global step.
        if trainer.is_global_zero and due and step != self._printed:
            print(self.line(trainer, step, now), file=sys.stderr, flush=True)
            self._printed = step

    def line(self, trainer: pl.Trainer, step: int, now: float) -> str:
        start_time, start_step = self._start
        timed, done = now - start_time, step - start_step
        parts = [f"step {step}/{trainer.max_steps}" if trainer.max_steps > 0 else f"step {step}"]
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None:
            parts.append(f"loss {float(loss):.4g}")
        parts += [f"{self._images / timed:.2f} images/s", f"elapsed {clock(now - self._t0)}"]
        if trainer.max_steps > 0 and done > 0:
            parts.append(f"ETA {clock((trainer.max_steps - step) * timed / done)}")
        return "  ".join(parts)
