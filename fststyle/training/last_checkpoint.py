"""The one writer of a run's last.ckpt, the full state `--ckpt_path last` resumes from. It is
written:

- every checkpoint_every_n_steps steps, beside the periodic step_*.ckpt files;
- on pre-emption: SIGTERM (most schedulers, `kill`) or SIGUSR1 (SLURM's `--signal=SIGUSR1@90`
  warning) saves it at the end of the current step and stops the run;
- when the run stops on repeated non-finite losses (training.health.NonFiniteLossError): the
  skipped steps never touched the weights, so it holds the last good state;
- at the end of training, so it is the final state even where the periodic ones predate it.
"""

import signal
import sys
from pathlib import Path

from pytorch_lightning import Callback
from pytorch_lightning.plugins.environments import SLURMEnvironment

from fststyle.training.health import NonFiniteLossError


class LastCheckpoint(Callback):
    def __init__(self, path: Path, every_n_steps: int):
        self.path, self.every_n_steps = Path(path), every_n_steps
        self.signum: int | None = None  # the pre-emption signal received, if any
        self._previous: dict[int, object] = {}
        self._saved_step: int | None = None

    def save(self, trainer) -> None:
        """Every rank calls this (the strategy writes on rank 0 only)."""
        trainer.save_checkpoint(self.path, weights_only=False)  # full state, to resume
        self._saved_step = trainer.global_step

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
        step = trainer.global_step
        if step % self.every_n_steps == 0 and step != self._saved_step:
            self.save(trainer)
        if not trainer.strategy.reduce_boolean_decision(self.signum is not None, all=False):
            return
        self.signum = self.signum or signal.SIGTERM  # another rank got the signal
        if step != self._saved_step:
            self.save(trainer)
        if trainer.is_global_zero:
            print(f"fststyle: received {signal.Signals(self.signum).name} at step {step}: "
                  f"saved {self.path}; resume with --ckpt_path last", file=sys.stderr)
        trainer.should_stop = True

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, NonFiniteLossError):
            self.save(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_step != self._saved_step:
            self.save(trainer)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
