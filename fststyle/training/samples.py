"""Sample grids written by a Callback (Lightning's `ImageSampler` pattern), so that the
LightningModule holds only the model and its steps.

At every validation, rank 0 renders the held-out photos in every style, saves the grid as
samples/step_XXXXXX.png in the run folder and hands it to the loggers that take images
(`log_image("val/samples", grid, step=...)`).
"""

from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from typing_extensions import override

from fststyle.core.images import sample_grid
from fststyle.runtime.imagefiles import save_image


@torch.no_grad()
def render_grid(net: torch.nn.Module, photos: torch.Tensor):
    """(P, 3, S, S) photos -> PIL grid: the photos, then one column per style of `net`."""
    outs = [net(photos, torch.full((photos.shape[0],), i, device=photos.device))
            for i in range(net.num_styles)]
    return sample_grid(photos.float().cpu(), [o.float().cpu() for o in outs])


class SampleGrids(Callback):
    """Write a sample grid after every validation; `write` makes one on demand (train.main
    makes sure the final step has one)."""

    def __init__(self):
        self.last_step = -1  # the global step of the newest grid
        self._photos: torch.Tensor | None = None

    @override
    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int,
                                dataloader_idx: int = 0) -> None:
        self._photos = batch  # (P, 3, S, S) held-out photos

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or self._photos is None:
            return
        photos = self._photos
        if trainer.world_size > 1:  # each rank validated its share; the grid shows them all
            photos = next(iter(trainer.datamodule.val_dataloader()))
        self.write(trainer, pl_module, photos)

    def write(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
              photos: torch.Tensor) -> Path:
        """Save the current grid as samples/step_XXXXXX.png and hand it to the loggers."""
        grid = render_grid(pl_module.net, photos.to(pl_module.device))
        step = trainer.global_step
        path = save_image(grid, Path(trainer.default_root_dir) / "samples" / f"step_{step:06d}.png")
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):
                logger.log_image("val/samples", grid, step=step)
        self.last_step = step
        return path
