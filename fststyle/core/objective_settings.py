"""The objective's settings: the one place they are written (`--model.objective.*`).

`Objective` is the config group StyleTransfer takes; `DEFAULTS` its values when nothing is
given; `resolve_objective` what a run trains with: a fine-tune or distillation takes its base
model's recorded objective and refuses a given value that differs. fststyle.core.losses builds
the loss from these; fststyle.evaluation.objective (so gatys and evaluate), the benchmarks and
the tests read the defaults from here. Imports nothing heavy.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from fststyle.core.model_file import read_model
from fststyle.runtime.shipped import resolve

# Gatys et al. 2015: content from relu4_2 (their conv4_2). Style from the first layer of VGG's
# first four blocks, as the feed-forward papers do (Johnson et al. 2016: relu1_2...relu4_3;
# Dumoulin et al. 2017: conv1...conv4), not Gatys et al.'s relu5_1 too: at training crop sizes
# relu5_1 has fewer positions (8x8 at 128 px) than channels (512), so its Gram cannot match a
# painting's; kept in, it carried 65% of the style term at the end of the demo and cost the
# photos their shapes (docs/quality.md).
CONTENT_LAYERS = {"relu4_2": 1.0}
STYLE_LAYERS = {"relu1_1": 0.25, "relu2_1": 0.25, "relu3_1": 0.25, "relu4_1": 0.25}


@dataclass(frozen=True)
class Objective:
    """The training objective (Gatys et al. 2015), `--model.objective.*`. A setting left out
    (null) is the base model's with --model.init_from or --model.distill_from (a different
    value is refused: the base was trained, and is measured, with its own), else DEFAULTS'.

    Args:
        content_layers: VGG layer -> weight for the content loss.
        style_layers: VGG layer -> weight for the style loss.
        content_weight: multiplies the content loss.
        style_weight: multiplies the style loss.
        tv_weight: multiplies the total-variation loss.
        loss_normalization: target (each layer's error relative to its target's mean square,
            so layers pull alike) | none (raw errors, the first models').
        style_size: style images are resized to this shorter side before their Grams are taken.
        style_coefficients: per-style multipliers of style_weight; null: 1 each.
        vgg_weights: caffe (the VGG19 Gatys et al. used) | torchvision | torchvision_vgg16 |
            random | PATH to a state dict.
        vgg_pooling: max | avg.
        identity_weight: multiplies the pixel term of the `identity` style (a row with no
            painting, for --strength).
    """

    content_layers: dict[str, float] | None = None
    style_layers: dict[str, float] | None = None
    content_weight: float | None = None
    style_weight: float | None = None
    tv_weight: float | None = None
    loss_normalization: str | None = None
    style_size: int | None = None
    style_coefficients: list[float] | None = None
    vgg_weights: str | None = None
    vgg_pooling: str | None = None
    identity_weight: float | None = None


FIELDS = tuple(f.name for f in dataclasses.fields(Objective))

# loss_normalization "target": each layer's squared error is divided by its target's mean square
# (the content photo's features; the painting's Gram), so every term is a relative error and a
# layer weight means what it says. Raw Gram errors differ by three orders of magnitude across
# layers (relu4_1 carried 92% of the style term with w_l = 1/5 each, relu1_1 and relu5_1 0.1%),
# which starved the colour and brush-stroke layers. Style at 5x content: the teacher
# (fststyle.gatys) takes the painting's colours and strokes, keeps the photo's shapes
# (docs/quality.md).
DEFAULTS = Objective(
    content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS, content_weight=1.0,
    style_weight=5.0, tv_weight=0.0, loss_normalization="target",
    style_size=256,  # the painting's shorter side for its Grams: strokes at a visible scale
    style_coefficients=None,  # 1 per style
    vgg_weights="caffe",  # the original VGG19 Gatys et al. used (fststyle.core.vgg)
    vgg_pooling="max",
    # The identity row (a style named `identity`, no painting) has the content term and this
    # times the pixel MSE to the photo instead of a style term: relu4_2 alone leaves colours
    # and fine detail free, so "strength 0" would not be the photo. 50: a pixel MSE of 0.004
    # (24 dB PSNR) costs 0.2, about what the content term costs a stylized photo.
    identity_weight=50.0)


def default_settings() -> dict:
    """{setting: DEFAULTS' value} for every field, as plain (copied) values."""
    return dataclasses.asdict(DEFAULTS)


def recorded_objective(hparams: dict) -> dict:
    """The objective settings a model file's recorded training hparams hold, every field: the
    `objective` group, or the flat keys of files written before it; a file from before
    loss_normalization existed was trained on raw errors ("none")."""
    if isinstance(hparams.get("objective"), dict):
        recorded = hparams["objective"]
    else:
        recorded = {"loss_normalization": "none",
                    **{k: hparams[k] for k in FIELDS if k in hparams}}
    return {**default_settings(), **{k: v for k, v in recorded.items() if k in FIELDS}}


def resolve_objective(given: Objective, base: str | Path | None = None,
                      num_styles: int | None = None) -> dict:
    """What a run trains with, every field: the `given` settings, the rest DEFAULTS'; with a
    `base` model file (init_from's or distill_from's; `shipped` too), its recorded settings,
    and a given value that differs from the base's is refused with one line. A base's
    style_coefficients gain 1.0 for each style added after its own (num_styles in all)."""
    values = {k: v for k, v in dataclasses.asdict(given).items() if v is not None}
    if base is None:
        return {**default_settings(), **values}
    inherited = recorded_objective(read_model(resolve(base)).hparams)
    coefficients = inherited["style_coefficients"]
    if coefficients is not None and num_styles is not None:
        inherited["style_coefficients"] = coefficients + [1.0] * (num_styles - len(coefficients))
    for key, value in values.items():
        if value != inherited[key]:
            raise ValueError(f"--model.objective.{key} {value} differs from {base}'s "
                             f"{inherited[key]}: a fine-tune or distillation keeps its base "
                             f"model's objective (leave the option out to use it)")
    return inherited
