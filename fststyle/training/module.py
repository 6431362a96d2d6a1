"""The Lightning "system": one conditional-instance-norm TransformerNet trained against the frozen
VGG perceptual loss for N styles at once (Dumoulin et al. 2017).

The typed `__init__` arguments are the model half of the config (LightningCLI `--model.*`);
the objective is one group of them (`--model.objective.*`,
fststyle.core.objective_settings). Sample grids are written by the
`fststyle.training.samples.SampleGrids` callback, not here.
"""

import math
import time

import pytorch_lightning as pl
import torch
from typing_extensions import override

from fststyle.core.losses import build_objective
from fststyle.core.model_file import ARCH_OPTIONS
from fststyle.core.network import TransformerNet
from fststyle.core.objective_settings import Objective, resolve_objective
from fststyle.core.temporal import motion_from, move, random_transforms, stability_loss, warp
from fststyle.core.vgg import prefers_channels_last
from fststyle.runtime.imagefiles import DEMO_STYLES, resolve_style, style_name
from fststyle.training.add_styles import (
    extend_styles,
    freeze_all_but_new_styles,
    load_base,
    zero_old_style_grads,
)
from fststyle.training.distill import distillation_loss, load_teacher
from fststyle.training.health import DataHealth, LossHealth
from fststyle.training.strength import check_fraction, step_condition


class StyleTransfer(pl.LightningModule):
    """Train one N-style network. The arguments come in groups, one per job.

    The styles and the objective:
        styles: style images: paths, or names of bundled styles (imagefiles.BUNDLED_STYLES),
            or `identity` (no painting: the network's rendering of the photo, for --strength).
            The file stem becomes the style's name.
        objective: the loss settings (core.objective_settings.Objective, --model.objective.*);
            with init_from or distill_from, the base model's.

    The network (TransformerNet; with init_from or distill_from as the base's where checked):
        alpha: width multiplier of the network (0.5: about 4x fewer FLOPs).
        num_residual_blocks: residual blocks in the network (Johnson et al.: 5).
        downsamples: stride-2 stages before the residual blocks (Johnson et al.: 2; 3 for
            the real-time student, configs/realtime.yaml).
        edge_kernel: kernel of the full-resolution first and last convolutions (9; 3 or 5 for
            students: at small widths these two layers dominate the cost).
        separable_blocks: depthwise-separable residual blocks.

    The optimisation:
        lr: Adam learning rate.
        lr_schedule: constant | cosine (decay to 0 over the run's steps).
        style_lr_multiplier: learning-rate multiplier for the per-style (gamma, beta) tables
            of the conditional instance norms; >1 lets styles separate within a short run.
        max_nonfinite_steps: a NaN/inf loss skips its step; this many in a row stop the run
            (with last.ckpt holding the last good weights).
        channels_last: NHWC memory layout for the VGG; None picks the faster layout for the
            hardware (vgg.prefers_channels_last: NHWC on GPUs and AVX-512 CPUs, NCHW on
            AVX2-only CPUs in fp32). The network stays NCHW but for its RGB-side convolutions:
            instance norm copies NHWC input to NCHW and back at every layer.
        compile: torch.compile the network and the VGG (slow first steps; pays on long GPU runs).

    Fine-tuning and adding styles (fststyle.training.add_styles):
        init_from: a trained model.safetensors or .ckpt to start from, or `shipped` (the
            network in the package); its styles must be the first entries of `styles`, the
            rest get new (gamma, beta) rows. Fewer num_residual_blocks than it has: its first.
        train_only_new_styles: with init_from, train only the new styles' (gamma, beta) rows and
            freeze everything else: the old styles' outputs stay bit-identical (Dumoulin et al.
            2017, Sec. 4.3); false trains the whole network from init_from.

    Distillation (fststyle.training.distill):
        distill_from: a trained model.safetensors or .ckpt, or `shipped`, to distil: its styles
            must be `styles`, in order; the objective gains distill_weight x the mean squared
            pixel error to its output.
        distill_weight: multiplies the distillation term (used with distill_from).

    Stability on video (fststyle.core.temporal):
        temporal_weight: multiplies the stability term (Eilertsen et al. 2019): the mean
            squared difference between f(T(x)) and T(f(x)) for a random small motion T of each
            crop; 0 (default) leaves it out. With init_from, a short fine-tune stabilises a
            trained model (configs/stabilize.yaml).
        temporal_motion: the range of T: shift (pixels), rotation (degrees), zoom (relative),
            noise (std in [0, 1]); keys left out keep core.temporal.Motion's defaults.

    Style strength (fststyle.training.strength):
        random_strength: the fraction of painting crops trained at a random strength s ~ U(0, 1)
            (the {style: s, identity: 1 - s} mix that --strength runs), the style term times s
            and the identity pixel term times 1 - s; needs an `identity` style. 0: none.
    """

    def __init__(self, styles: list[str] = DEMO_STYLES, objective: Objective = Objective(),
                 # the network
                 alpha: float = 1.0, num_residual_blocks: int = 5, downsamples: int = 2,
                 edge_kernel: int = 9, separable_blocks: bool = False,
                 # the optimisation
                 lr: float = 1e-3, lr_schedule: str = "constant",
                 style_lr_multiplier: float = 10.0, max_nonfinite_steps: int = 10,
                 channels_last: bool | None = None, compile: bool = False,
                 # fine-tuning
                 init_from: str | None = None, train_only_new_styles: bool = False,
                 # distillation
                 distill_from: str | None = None, distill_weight: float = 100.0,
                 # stability
                 temporal_weight: float = 0.0, temporal_motion: dict[str, float] | None = None,
                 # style strength
                 random_strength: float = 0.0):
        super().__init__()
        if not styles:
            raise ValueError("--model.styles is empty: give at least one style image")
        if lr <= 0 or style_lr_multiplier <= 0:
            raise ValueError("--model.lr and --model.style_lr_multiplier must be > 0")
        if lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"--model.lr_schedule: constant or cosine, got {lr_schedule!r}")
        if temporal_weight < 0:
            raise ValueError(f"--model.temporal_weight must be >= 0, got {temporal_weight}")
        self.motion = motion_from(temporal_motion)
        self.style_names = [style_name(s) for s in styles]
        if len(set(self.style_names)) != len(styles):
            raise ValueError(f"--model.styles: style names must be unique, got {self.style_names}")
        check_fraction(random_strength, self.style_names)
        settings = resolve_objective(objective, init_from or distill_from, len(styles))
        # Recorded resolved, as plain data: checkpoints load with weights_only=True.
        self.save_hyperparameters(ignore=["objective"])
        self.save_hyperparameters({**self.hparams, "objective": settings})
        style_files = [resolve_style(s) for s in styles]  # fail before any VGG work
        self.net, self.num_frozen_styles = self._build_net(init_from, train_only_new_styles)
        self.net.name_styles(self.style_names)
        # A submodule (it follows the device), kept out of the optimiser and the checkpoints.
        self.teacher = load_teacher(distill_from, self.style_names) if distill_from else None
        self.loss_fn = build_objective(style_files, **settings)
        self.lr, self.style_lr_multiplier = lr, style_lr_multiplier
        self.strict_loading = False  # checkpoints leave out the frozen VGG weights
        self._batch_end_time = None
        self.data_health = DataHealth()
        self.loss_health = LossHealth(max_nonfinite_steps)

    def _build_net(self, init_from: str | None, only_new: bool) -> tuple[TransformerNet, int]:
        """The network, and how many leading styles are frozen (0 unless only_new)."""
        arch, n = {k: self.hparams[k] for k in ARCH_OPTIONS}, len(self.style_names)
        if init_from is None:
            if only_new:
                raise ValueError("--model.train_only_new_styles needs --model.init_from MODEL")
            return TransformerNet(n, **arch), 0
        base = load_base(init_from, self.style_names, arch, fewer_blocks=not only_new)
        if only_new and base.num_styles == n:
            raise ValueError(f"--model.train_only_new_styles: --model.styles adds no style to "
                             f"{init_from}'s {base.style_names}")
        net = extend_styles(base, n)
        if only_new:
            freeze_all_but_new_styles(net)
        return net, base.num_styles if only_new else 0

    def forward(self, image: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.net(image, style)

    @override
    def configure_model(self) -> None:
        # The Gram targets stay fp32: build_objective computed them before this.
        bf16 = "bf16" in str(self.trainer.precision)
        channels_last = self.hparams.channels_last
        if channels_last is None:
            # The strategy's device: configure_model runs before the module is moved there.
            device = self.trainer.strategy.root_device.type
            channels_last = prefers_channels_last(device, bf16)
        self.loss_fn.vgg.set_step_format(channels_last, bf16)
        if self.hparams.compile:
            # Module.compile keeps parameter names, so checkpoints and model files are unchanged.
            self.net.compile()
            self.loss_fn.vgg.compile()

    def style_indices(self, batch_size: int) -> torch.Tensor:
        """Balanced style assignment: consecutive samples cycle through the styles, and the
        cycle continues across steps and ranks, so every style gets the same share."""
        offset = (self.global_step * self.trainer.world_size + self.global_rank) * batch_size
        first = self.num_frozen_styles  # frozen styles get no training samples
        trained = self.net.num_styles - first
        return first + (torch.arange(batch_size, device=self.device) + offset) % trained

    @override
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor | None:
        content = batch["image"]  # (B, 3, S, S)
        self.data_health.update(len(content), batch.get("skipped", []))
        self.log("data/skipped", float(self.data_health.skipped), reduce_fx="max")
        style = self.style_indices(content.shape[0])
        strength, condition = step_condition(  # (B,) or None; indices or (B, N) mixes
            style, self.loss_fn.identity, self.hparams.random_strength, self.net.identity_row,
            (torch.initial_seed(), self.global_step, self.global_rank, self.trainer.world_size))
        stylized = self.net(content, condition)  # (B, 3, S, S)
        total, terms = self.loss_fn(stylized, content, style, strength=strength)
        if self.teacher is not None:
            with torch.no_grad():
                target = self.teacher(content, condition)  # (B, 3, S, S)
            terms["distill"] = self.hparams.distill_weight * distillation_loss(stylized, target)
            total = total + terms["distill"]
        if self.hparams.temporal_weight > 0:
            terms["temporal"] = self.hparams.temporal_weight * self._stability(content, stylized,
                                                                               condition)
            total = total + terms["temporal"]
        # Decided across ranks, so every rank skips (or stops) together.
        finite = not self.trainer.strategy.reduce_boolean_decision(
            not torch.isfinite(total).item(), all=False)
        # Too many in a row raise NonFiniteLossError (last_checkpoint saves the last good state).
        if not self.loss_health.check(finite, self.global_step):
            self.log("train/nonfinite_steps", float(self.loss_health.total), reduce_fx="max")
            return None  # Lightning skips backward and the optimiser step
        self._log_losses(total, terms)
        return total

    def _stability(self, content: torch.Tensor, stylized: torch.Tensor,
                   style: torch.Tensor) -> torch.Tensor:
        """Eilertsen et al. 2019: || f(T(x)) - T(f(x)) ||^2 for a random motion T per crop."""
        matrix = random_transforms(len(content), content.shape[2:], self.motion,
                                   device=content.device)  # (B, 3, 3)
        moved_content, inside = move(content, matrix, self.motion.noise)  # T(x): (B, 3, S, S)
        moved_stylized, _ = warp(stylized, matrix)  # T(f(x))
        return stability_loss(self.net(moved_content, style), moved_stylized, inside)

    def _log_losses(self, total: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        """Losses averaged over ranks with one all-reduce of all of them (sync_dist=True would
        cost one per metric per step); a no-op on one device."""
        values = torch.stack([total.detach(), *(v.detach() for v in terms.values())]).float()
        values = self.trainer.strategy.reduce(values, reduce_op="mean")  # (1 + len(terms),)
        self.log("train/loss", values[0], prog_bar=True)
        self.log_dict({f"train/{k}": v for k, v in zip(terms, values[1:])})

    @override
    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # Throughput between consecutive step ends, data loading included, summed over ranks:
        # DDP steps in lockstep (the gradient all-reduce) with equal batches (drop_last), so
        # rank 0's step time is every rank's and batch x world_size / dt is the sum.
        self.data_health.check(getattr(self.trainer.datamodule, "max_bad_fraction", 0.05))
        now = time.perf_counter()
        if self._batch_end_time is not None:
            rate = len(batch["image"]) * self.trainer.world_size / (now - self._batch_end_time)
            self.log("train/images_per_sec", rate, prog_bar=True, rank_zero_only=True)
        self._batch_end_time = now

    @override
    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        photos = batch  # (P, 3, S, S) held-out photos
        totals = []
        # Frozen styles (train_only_new_styles) are bit-identical to the base's: not measured.
        for i, name in enumerate(self.style_names[self.num_frozen_styles:],
                                 self.num_frozen_styles):
            style = torch.full((photos.shape[0],), i, device=self.device)
            total, terms = self.loss_fn(self.net(photos, style), photos, style)
            self.log(f"val/loss/{name}", total, sync_dist=True)
            totals.append(total)
        self.log("val/loss", torch.stack(totals).mean(), prog_bar=True, sync_dist=True)

    @override
    def configure_optimizers(self):
        # Only the transformer is optimised; the VGG is frozen. Fused Adam is faster on CUDA.
        named = [(n, p) for n, p in self.net.named_parameters() if p.requires_grad]
        style = [p for n, p in named if n.endswith((".gamma", ".beta"))]
        shared = [p for n, p in named if not n.endswith((".gamma", ".beta"))]
        groups = [g for g in ({"params": shared},
                              {"params": style, "lr": self.lr * self.style_lr_multiplier})
                  if g["params"]]
        optimizer = torch.optim.Adam(groups, lr=self.lr, fused=self.device.type == "cuda")
        if self.hparams.lr_schedule == "constant":
            return optimizer
        # Cosine decay to 0 over the run (Loshchilov & Hutter 2017): big steps early, small
        # ones at the end, so a short run ends nearer a minimum than at a constant rate.
        total = max(1, int(self.trainer.estimated_stepping_batches))

        def cosine(step: int) -> float:
            return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    @override
    def on_after_backward(self) -> None:
        if self.num_frozen_styles:
            zero_old_style_grads(self.net, self.num_frozen_styles)

    @override
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The frozen VGG weights come from their source, the teacher from distill_from: keep
        # them out of every checkpoint.
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(("loss_fn.vgg.", "teacher."))]:
            del state[key]
        checkpoint["style_names"] = self.style_names

