"""Checkpoint on pre-emption: SIGTERM (most schedulers, `kill`) or SIGUSR1 (SLURM's
`--signal=SIGUSR1@90` warning) saves last.ckpt at the end of the current step and stops, so
`--ckpt_path last` resumes from there.
"""

import signal
import sys
from pathlib import Path

from pytorch_lightning import Callback
from pytorch_lightning.plugins.environments import SLURMEnvironment


class PreemptionCheckpoint(Callback):
    def __init__(self, path: Path):
        self.path = Path(path)
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        signals = [signal.SIGTERM, signal.SIGUSR1]
        env = trainer._accelerator_connector.cluster_environment
        if isinstance(env, SLURMEnvironment) and env.auto_requeue:
            signals.remove(signal.SIGUSR1)  # Lightning's SLURM handler saves and requeues
        for sig in signals:
            self._previous[sig] = signal.signal(sig, self._notice)

    def _notice(self, signum, frame) -> None:
        self.signum = signum  # act at the step boundary, where the state is consistent

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not trainer.strategy.reduce_boolean_decision(self.signum is not None, all=False):
            return
        self.signum = self.signum or signal.SIGTERM  # another rank got the signal
        trainer.save_checkpoint(self.path, weights_only=False)  # full state, to resume
        if trainer.is_global_zero:
            print(f"fststyle: received {signal.Signals(self.signum).name} at step "
                  f"{trainer.global_step}: saved {self.path}; resume with --ckpt_path last",
                  file=sys.stderr)
        trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
