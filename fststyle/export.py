"""Export a trained network to ONNX, with style choice and mixing, checked against PyTorch.

    python -m fststyle.export checkpoints/demo/model.safetensors        # -> exports/demo.onnx
    python -m fststyle.export checkpoints/demo/last.ckpt --out app/model.onnx --fp16
    python -m fststyle.export checkpoints/demo/model.safetensors --style udnie
    python -m fststyle.export checkpoints/demo/model.safetensors --spatial   # per-pixel mixing

Inputs: `image` float32 (B, 3, H, W) RGB in [0, 1] and `style_weights` float32 (B, N), a
one-hot row picks a style and a convex row mixes them (B, H, W dynamic); with --style NAME the
style is baked in and `image` is the only input; with --spatial `style_weights` is per-pixel
(B, N, H', W'), any H', W' (resized bilinearly to each layer: a style mask). Output: `stylized`
float32 (B, 3, H, W) in [0, 1], the input's size. The file is written only if onnxruntime
matches PyTorch (fststyle.core.onnx_export; the contract in docs/onnx.md).
"""

import argparse
import sys
from pathlib import Path

import onnx

from fststyle.cli import run_cli
from fststyle.core.model_io import load_model
from fststyle.core.onnx_export import TOLERANCE, check_against_torch, to_onnx
from fststyle.runtime.atomic import atomic_path


def default_out(model: Path, fp16: bool, style: str | None, spatial: bool = False) -> Path:
    """exports/NAME.onnx, NAME being the run folder for checkpoints/<run>/model.safetensors."""
    name = model.resolve().parent.name if model.stem in ("model", "last") else model.stem
    name += f"-{style}" if style else ""
    name += "-spatial" if spatial else ""
    return Path("exports") / f"{name}{'-fp16' if fp16 else ''}.onnx"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path, help="model.safetensors or a Lightning .ckpt")
    p.add_argument("--out", type=Path, help="the .onnx file (default: exports/NAME.onnx)")
    p.add_argument("--fp16", action="store_true",
                   help="float16 weights and compute (float32 inputs and outputs)")
    p.add_argument("--style", help="bake this style in: `image` becomes the only input")
    p.add_argument("--spatial", action="store_true",
                   help="per-pixel style_weights (B, N, H', W'): style masks (stylize "
                        "--style-mask)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    """Export, check against PyTorch, then write; return the written path."""
    args = parse_args(argv)
    net = load_model(args.model)
    if args.style is not None and args.style not in net.style_names:
        raise ValueError(f"--style: unknown style {args.style!r} in {args.model} "
                         f"(available: {', '.join(net.style_names)})")
    if args.spatial and args.style is not None:
        raise ValueError("--spatial and --style exclude each other: a baked style has no "
                         "style_weights input")
    out = args.out or default_out(args.model, args.fp16, args.style, args.spatial)
    if out.suffix != ".onnx":
        raise ValueError(f"--out {out}: expected a .onnx file name")
    model = to_onnx(net, args.fp16, args.style, args.spatial)
    with atomic_path(out) as tmp:  # checked before the rename: a refused export leaves nothing
        onnx.save(model, tmp)
        tolerance = TOLERANCE["fp16" if args.fp16 else "fp32"]
        diff = check_against_torch(tmp, net, tolerance, args.style, args.spatial)
    styles = [args.style] if args.style else net.style_names
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, styles {styles}, "
          f"max |onnxruntime - torch| {diff:.1e})", file=sys.stderr)
    return out


def cli(argv: list[str] | None = None) -> Path:
    """`main` under the CLI convention (fststyle.cli): a bad option or model exits 2."""
    return run_cli("export", main, argv)


if __name__ == "__main__":
    cli()
