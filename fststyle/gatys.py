"""Style transfer by optimisation (Gatys, Ecker & Bethge 2015): the image itself is optimised
against the training objective, so its result is the teacher's answer that the fast network
approximates.

    python -m fststyle.gatys --content photo.jpg --style starry_night --out out.png
    python -m fststyle.gatys --content photo.jpg --style my_style.jpg --out out.png \\
        --size 256 --steps 300 --init noise --optimizer adam --style-weight 100
    python -m fststyle.gatys --content photo.jpg --model checkpoints/demo/model.safetensors \\
        --style udnie --out out.png

Without --model the objective is training's default recipe
(fststyle.core.objective_settings.DEFAULTS), the options below overriding it; with --model it
is that model's training objective and --style names one of its styles. Prints the
objective's terms for the content image and the result.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from fststyle.cli import run_cli
from fststyle.core.images import load_image, to_pil
from fststyle.core.losses import LOSS_NORMALIZATIONS, PerceptualLoss
from fststyle.evaluation.gatys import LR, optimise, quantize
from fststyle.evaluation.objective import (
    measure,
    model_hparams,
    objective_from_hparams,
    training_defaults,
)
from fststyle.runtime.imagefiles import IMAGE_EXTENSIONS, save_image


def objective_from_args(args) -> tuple[PerceptualLoss, int]:
    """The objective and the style index from --model or from the recipe options."""
    overrides = {k: getattr(args, k) for k in training_defaults() if k != "styles"
                 and getattr(args, k, None) is not None}
    if args.model is not None:
        hparams = {**model_hparams(args.model), **overrides}
        objective = objective_from_hparams(hparams, args.style_files)
        names = objective.style_names
        if args.style not in names and not (args.style.isdigit() and int(args.style) < len(names)):
            raise ValueError(f"--style {args.style!r}: with --model, name one of its styles "
                             f"({', '.join(names)}) or give its index")
        return objective, names.index(args.style) if args.style in names else int(args.style)
    if args.style_files is not None:
        raise ValueError("--style-files goes with --model; without it, give --style IMAGE")
    return objective_from_hparams({"styles": [args.style], **overrides}), 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--content", type=Path, required=True, help="the content photo")
    p.add_argument("--style", required=True,
                   help="style image path or bundled style name; with --model: one of its styles")
    p.add_argument("--out", type=Path, required=True, help="the result image (.png, .jpg, ...)")
    p.add_argument("--size", type=int, default=512, help="shorter side of the content, pixels")
    p.add_argument("--steps", type=int, default=500, help="objective evaluations")
    p.add_argument("--init", default="content", choices=["content", "noise"])
    p.add_argument("--optimizer", default="lbfgs", choices=["lbfgs", "adam"])
    p.add_argument("--lr", type=float, help=f"step size (default: {LR})")
    p.add_argument("--seed", type=int, default=0, help="for --init noise")
    p.add_argument("--model", type=Path, help="use this model's training objective")
    p.add_argument("--style-files", type=lambda s: s.split(","),
                   help="with --model: its style images, comma-separated, when the recorded "
                        "paths do not exist here")
    recipe = p.add_argument_group("objective (default: training's, "
                                  "fststyle.core.objective_settings.DEFAULTS)")
    for name in ("content_weight", "style_weight", "tv_weight"):
        recipe.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float)
    recipe.add_argument("--style-size", dest="style_size", type=int)
    recipe.add_argument("--vgg-weights", dest="vgg_weights")
    recipe.add_argument("--vgg-pooling", dest="vgg_pooling", choices=["max", "avg"])
    recipe.add_argument("--loss-normalization", dest="loss_normalization",
                        choices=list(LOSS_NORMALIZATIONS))
    for name in ("content_layers", "style_layers"):
        recipe.add_argument(f"--{name.replace('_', '-')}", dest=name, type=json.loads,
                            help='JSON, e.g. \'{"relu4_2": 1.0}\'')
    return p.parse_args(argv)


def check_args(args) -> None:
    if args.out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ValueError(f"--out {args.out}: expected an image file name "
                         f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
    if args.size < 16 or args.steps < 1:
        raise ValueError(f"--size must be >= 16 and --steps >= 1, got {args.size}, {args.steps}")
    if not args.content.is_file():
        raise ValueError(f"--content: no file at {args.content}")
    if args.out.resolve() == args.content.resolve():
        raise ValueError(f"--out {args.out} is the --content photo; it would be overwritten")


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Optimise, save --out; return {"content_image": terms, "result": terms}."""
    args = parse_args(argv)
    check_args(args)
    torch.set_flush_denormal(True)  # L-BFGS drives VGG gradients denormal: 5x slower on CPU
    device = "cuda" if torch.cuda.is_available() else "cpu"
    objective, style = objective_from_args(args)
    objective = objective.to(device)
    content = load_image(args.content, args.size)[None].to(device)  # (1, 3, H, W)
    start = time.perf_counter()
    result = quantize(optimise(objective, content, style, args.steps, args.init,
                               args.optimizer, args.lr, args.seed))
    seconds = time.perf_counter() - start
    save_image(to_pil(result[0]), args.out)
    terms = {"content_image": measure(objective, content, content, style),
             "result": measure(objective, result, content, style)}
    for name, t in terms.items():
        print(f"{name:>13}: " + "  ".join(f"{k} {v:.4g}" for k, v in t.items()))
    print(f"wrote {args.out} ({args.steps} {args.optimizer} steps, {seconds:.1f} s)",
          file=sys.stderr)
    return terms


def cli(argv: list[str] | None = None) -> dict:
    """`main` under the CLI convention (fststyle.cli): a bad option or file exits 2."""
    return run_cli("gatys", main, argv, errors=(ValueError, FileNotFoundError, ImportError))


if __name__ == "__main__":
    cli()
