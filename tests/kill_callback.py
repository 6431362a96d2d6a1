"""A callback that SIGKILLs its own training process at the start of a chosen step, so that a
test kills at a point it controls (tests/test_reliability.py), as an OOM kill would: no
handler runs, nothing is cleaned up. Loaded by a training subprocess with tests/ on its path."""

import os
import signal

import pytorch_lightning as pl


class KillAtStep(pl.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        # Every earlier step has finished: its checkpoints and its metrics row are on disk.
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)
