"""Distil a slim student from a trained network (Hinton et al. 2015, "Distilling the Knowledge
in a Neural Network"; for style transfer as in Wang et al. 2020, "Collaborative Distillation
for Ultra-Resolution Universal Style Transfer").

The student is trained on the usual Gatys objective plus the distance to the teacher network's
output for the same photo and style: the teacher has already solved the objective's hard part
(which strokes go where), so its output is a dense, per-pixel target and the student needs a
fraction of the teacher's steps. All of the teacher's styles are distilled at once.

    python -m fststyle.train --config configs/realtime.yaml \\
        --model.distill_from checkpoints/demo/model.safetensors
"""

from pathlib import Path

import torch
import torch.nn.functional as F

from fststyle.core.model_file import recorded_hparams
from fststyle.core.model_io import load_model
from fststyle.core.network import TransformerNet
from fststyle.runtime.shipped import resolve


def load_teacher(path: str | Path, style_names: list[str]) -> TransformerNet:
    """The frozen, eval-mode teacher network at `path`; its styles must be `style_names` (the
    student keeps the teacher's names and order, so style i means the same painting in both);
    `shipped`: the shipped network."""
    teacher = load_model(resolve(path))
    if teacher.style_names != style_names:
        trained_on = recorded_hparams(teacher.metadata).get("styles", teacher.style_names)
        raise ValueError(f"--model.distill_from {path}: the student's --model.styles "
                         f"{style_names} must be the teacher's, in order: {trained_on}")
    teacher.requires_grad_(False)
    return teacher.eval()


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared pixel error between the two outputs, each (B, 3, H, W) in [0, 1]; in fp32
    because bf16 rounding (~4e-3 at 1.0) is the size of the errors being measured."""
    return F.mse_loss(student.float(), teacher.float())
