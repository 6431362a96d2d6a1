"""The Gatys et al. 2015 objective exactly as training built it, rebuilt from a model's recorded
hyperparameters (or from options): what `fststyle.gatys` minimises and `fststyle.evaluate`
reports, so that the network, its teacher and the do-nothing baseline are measured alike.

Defaults come from `fststyle.core.objective_settings.DEFAULTS`, never copied: StyleTransfer takes
its defaults from there too, so a recipe change changes the measuring instrument with it.
"""

from pathlib import Path

import torch

from fststyle.core.losses import PerceptualLoss, build_objective
from fststyle.core.model_file import ModelFile, read_model
from fststyle.core.objective_settings import FIELDS, default_settings, recorded_objective
from fststyle.runtime.imagefiles import DEMO_STYLES, resolve_style, style_name

# What defines the loss: the styles and the objective group's settings, as one flat dict.
OBJECTIVE_KEYS = ("styles", *FIELDS)


# The reference objective: one fixed instrument for comparing models trained with different
# recipes (`fststyle.evaluate --objective reference`). The Gatys et al. 2015 formulation with
# the bundled Caffe VGG19: content at relu4_2, style at relu1_1 ... relu5_1 with w_l = 1/5,
# max pooling, no TV; each layer's error relative to its target's mean square, so the five
# layers pull equally as the paper's equal w_l intend (raw Gram errors differ by three orders
# across layers); style at 5x content, where the teacher keeps the photo's shapes and takes the
# painting's colours and strokes (docs/quality.md). The painting is resized to the photo's
# shorter side: strokes at the scale they have when both are shown at the same size (a model
# trained with --model.objective.style_size S is measured at its own stroke scale with --size S).
REFERENCE = {"content_layers": {"relu4_2": 1.0},
             "style_layers": {f"relu{i}_1": 0.2 for i in range(1, 6)},
             "content_weight": 1.0, "style_weight": 5.0, "tv_weight": 0.0,
             "loss_normalization": "target", "style_coefficients": None,
             "vgg_weights": "caffe", "vgg_pooling": "max", "identity_weight": 50.0}
OBJECTIVES = ("model", "reference")


def reference_hparams(hparams: dict, size: int) -> dict:
    """The reference objective for a model's styles (`hparams["styles"]`), scoring images whose
    shorter side is `size`: only the style images come from the model."""
    return {"styles": hparams["styles"], "style_size": size, **REFERENCE}


def training_defaults() -> dict:
    """{key: the training default} for every OBJECTIVE_KEYS entry (StyleTransfer's defaults)."""
    return {"styles": list(DEMO_STYLES), **default_settings()}


def model_hparams(model: str | Path | ModelFile) -> dict:
    """The training hyperparameters recorded in a .safetensors, .ckpt or .onnx model file (a
    path or an already read ModelFile), the objective group's settings flattened into them
    (objective_settings.recorded_objective: every setting, for old files too)."""
    model = model if isinstance(model, ModelFile) else read_model(model)
    hparams = model.hparams
    if "styles" not in hparams:
        raise ValueError(f"--model {model.path}: no training hyperparameters recorded (expected a "
                         "model.safetensors or .ckpt written by fststyle.train, or its export)")
    rest = {k: v for k, v in hparams.items() if k != "objective"}
    return {**rest, **recorded_objective(hparams)}


def resolve_hparams(hparams: dict) -> dict:
    """`hparams` restricted to OBJECTIVE_KEYS, training defaults filling what is missing."""
    chosen = {k: v for k, v in hparams.items() if k in OBJECTIVE_KEYS}
    return {**training_defaults(), **chosen}


def objective_from_hparams(hparams: dict, style_files: list[str | Path] | None = None,
                           device: str | torch.device = "cpu") -> PerceptualLoss:
    """The objective `hparams` describe (PerceptualLoss with its style Gram targets set), fp32:
    a model's training objective, or `reference_hparams(...)`.

    style_files: images to use instead of the recorded `styles` entries (e.g. when a recorded
    path does not exist on this machine); one per style, in the same order.
    """
    hp = resolve_hparams(hparams)
    entries = list(hp["styles"])
    if style_files is not None and len(style_files) != len(entries):
        raise ValueError(f"--style-files: {len(style_files)} file(s) for {len(entries)} styles "
                         f"{[style_name(s) for s in entries]}")
    try:
        files = [resolve_style(str(s)) for s in (style_files or entries)]
    except ValueError as e:
        raise ValueError(f"{e}; give the style images with --style-files") from e
    loss = build_objective(files, **{k: hp[k] for k in OBJECTIVE_KEYS if k != "styles"},
                           device=device)
    loss.style_names = [style_name(str(s)) for s in entries]
    return loss


def measure(objective: PerceptualLoss, image: torch.Tensor, content: torch.Tensor,
            style: int) -> dict[str, float]:
    """Objective terms of one (1, 3, H, W) image against its content image and style index:
    {"total", "content", "style", "tv", "style/<layer>" per style layer}, each already
    weighted, as floats; the per-layer terms add up to "style"."""
    with torch.no_grad():
        total, terms = objective(image, content, torch.tensor([style], device=image.device))
    return {"total": float(total), **{k: float(v) for k, v in terms.items()}}
