"""Style transfer by optimisation (Gatys, Ecker & Bethge 2015): the image itself is optimised
against the training objective, so its result is the teacher's answer that the fast network
approximates.

    python -m fststyle.gatys --content photo.jpg --style starry_night --out out.png
    python -m fststyle.gatys --content photo.jpg --style my_style.jpg --out out.png \\
        --size 256 --steps 300 --init noise --optimizer adam --style-weight 100
    python -m fststyle.gatys --content photo.jpg --model checkpoints/demo/model.safetensors \\
        --style udnie --out out.png

Without --model the objective is training's default recipe (StyleTransfer's defaults), the
options below overriding it; with --model it is that model's training objective and --style
names one of its styles. Prints the objective's terms for the content image and the result.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from fststyle.images import (IMAGE_EXTENSIONS, open_rgb, resize_shorter, save_image, to_pil,
                             to_tensor)
from fststyle.losses import LOSS_NORMALIZATIONS, PerceptualLoss
from fststyle.objective import measure, model_hparams, objective_from_hparams, training_defaults

LR = {"lbfgs": 1.0, "adam": 0.1}  # L-BFGS: the line search's first try along its quasi-Newton
# step; Adam: per logit step, 0.1 is about 0.025 per pixel near mid-grey.
EPS = 0.01  # pixels start within [EPS, 1 - EPS]: the sigmoid is too flat at 0 and 1 to move
HISTORY = 50  # L-BFGS curvature pairs: enough at a few hundred steps, 50 x 4 bytes x pixels


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Round to 8 bits, as the image will be saved: everything is measured as it is shipped."""
    return image.mul(255).round().div(255)


def initial_logits(content: torch.Tensor, init: str, seed: int) -> torch.Tensor:
    """z with sigmoid(z) = the content image (squeezed into [EPS, 1 - EPS]) or white noise."""
    gen = torch.Generator().manual_seed(seed)
    start = content if init == "content" else torch.rand(content.shape, generator=gen)
    return torch.logit(start.clamp(EPS, 1 - EPS)).to(content.device)


def make_optimizer(z: torch.Tensor, optimizer: str, lr: float | None, steps: int):
    lr = LR[optimizer] if lr is None else lr
    if optimizer == "adam":
        return torch.optim.Adam([z], lr=lr)
    # Strong-Wolfe line search: plain unit steps diverge at 256 px from the content image.
    return torch.optim.LBFGS([z], lr=lr, max_iter=steps, history_size=HISTORY,
                             line_search_fn="strong_wolfe")


def optimise(objective: PerceptualLoss, content: torch.Tensor, style: int, steps: int = 500,
             init: str = "content", optimizer: str = "lbfgs", lr: float | None = None,
             seed: int = 0, progress: bool = True) -> torch.Tensor:
    """Minimise objective(image, content, style) over the pixels of one image.

    content: (1, 3, H, W) in [0, 1]; steps counts objective evaluations (gradient steps for
    Adam). The image is sigmoid(z) with z free, so it stays in (0, 1) and L-BFGS (Gatys et
    al.'s choice) needs no bounds. Returns the (1, 3, H, W) result in [0, 1].
    """
    if init not in ("content", "noise") or optimizer not in LR or steps < 1:
        raise ValueError(f"--init content|noise, --optimizer lbfgs|adam, --steps >= 1; got "
                         f"{init!r}, {optimizer!r}, {steps}")
    z = initial_logits(content, init, seed).requires_grad_()
    opt = make_optimizer(z, optimizer, lr, steps)
    content_feats = objective.content_features(content)  # fixed: compute once
    style_index = torch.tensor([style], device=content.device)
    bar = tqdm(total=steps, unit="step", disable=not progress, file=sys.stderr, leave=False)
    done = [0]  # evaluations so far (a disabled bar does not count)

    def closure():
        opt.zero_grad()
        total, _ = objective(torch.sigmoid(z), content, style_index, content_feats)
        total.backward()
        done[0] += 1
        bar.update()
        bar.set_postfix(loss=f"{total.item():.4g}", refresh=False)
        return total

    while done[0] < steps:  # L-BFGS runs up to max_eval evaluations per step() call
        if optimizer == "lbfgs":
            opt.param_groups[0].update(max_iter=steps - done[0], max_eval=steps - done[0])
            opt.step(closure)
        else:
            closure()
            opt.step()
    bar.close()
    return torch.sigmoid(z).detach()


def build_objective(args) -> tuple[PerceptualLoss, int]:
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
    recipe = p.add_argument_group("objective (default: fststyle.module.StyleTransfer's)")
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


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Optimise, save --out; return {"content_image": terms, "result": terms}."""
    args = parse_args(argv)
    check_args(args)
    torch.set_flush_denormal(True)  # L-BFGS drives VGG gradients denormal: 5x slower on CPU
    device = "cuda" if torch.cuda.is_available() else "cpu"
    objective, style = build_objective(args)
    objective = objective.to(device)
    content = to_tensor(resize_shorter(open_rgb(args.content), args.size))[None].to(device)
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
    """`main` with errors as a one-line message and exit status 1, not a traceback."""
    try:
        return main(argv)
    except (ValueError, FileNotFoundError, ImportError) as e:
        sys.exit(f"fststyle.gatys: error: {e}")


if __name__ == "__main__":
    cli()
