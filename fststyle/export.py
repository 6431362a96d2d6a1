"""Export a trained network to ONNX, with style choice and mixing, checked against PyTorch.

    python -m fststyle.export checkpoints/demo/model.safetensors        # -> exports/demo.onnx
    python -m fststyle.export checkpoints/demo/last.ckpt --out app/model.onnx --fp16
    python -m fststyle.export checkpoints/demo/model.safetensors --style udnie
    python -m fststyle.export checkpoints/demo/model.safetensors --spatial   # per-pixel mixing
    python -m fststyle.export checkpoints/demo/model.safetensors --int8    # exports/demo-int8.onnx
    python -m fststyle.export checkpoints/demo/model.safetensors --run checkpoints/demo  # + tracker

Inputs: `image` float32 (B, 3, H, W) RGB in [0, 1] and `style_weights` float32 (B, N), a
one-hot row picks a style and a convex row mixes them (B, H, W dynamic); with --style NAME the
style is baked in and `image` is the only input; with --spatial `style_weights` is per-pixel
(B, N, H', W'), any H', W' (resized bilinearly to each layer: a style mask). Output: `stylized`
float32 (B, 3, H, W) in [0, 1], the input's size. The file is written only if onnxruntime
matches PyTorch (fststyle.core.onnx_export; the contract in docs/onnx.md). With --int8 that
checked fp32 file is quantised statically (int8 convolutions, fststyle.core.quantize) and the
result is written only if it stays close to it on held-out photos: PSNR and the training
objective, every style (the thresholds below).
"""

import argparse
import sys
import tempfile
from pathlib import Path

import onnx

from fststyle.cli import run_cli
from fststyle.core.model_io import load_model
from fststyle.core.onnx_export import TOLERANCE, check_against_torch, store_weights_fp16, to_onnx
from fststyle.core.quantize import (
    MAX_OBJECTIVE_INCREASE,
    MIN_PSNR,
    Calibration,
    check_int8,
    int8_metadata,
    quantize,
    refuse_below,
)
from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.hardware import describe_cpu
from fststyle.runtime.variants import choose, speed_ratio


def default_out(model: Path, fp16: bool, style: str | None, spatial: bool = False,
                int8: bool = False) -> Path:
    """exports/NAME.onnx, NAME being the run folder for checkpoints/<run>/model.safetensors."""
    name = model.resolve().parent.name if model.stem in ("model", "last") else model.stem
    name += f"-{style}" if style else ""
    name += "-spatial" if spatial else ""
    name += "-fp16" if fp16 else "-int8" if int8 else ""
    return Path("exports") / f"{name}.onnx"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path, help="model.safetensors or a Lightning .ckpt")
    p.add_argument("--out", type=Path, help="the .onnx file (default: exports/NAME.onnx)")
    p.add_argument("--fp16", action="store_true",
                   help="float16 weights and compute (float32 inputs and outputs)")
    p.add_argument("--fp16-weights", action="store_true",
                   help="float16 weights, float32 compute: ~60%% of the file (the upsampling's "
                        "derived kernels stay float32), fp32 speed on CPUs (exact for a model "
                        "saved in fp16; checked against torch)")
    p.add_argument("--style", help="bake this style in: `image` becomes the only input")
    p.add_argument("--spatial", action="store_true",
                   help="per-pixel style_weights (B, N, H', W'): style masks (stylize "
                        "--style-mask)")
    p.add_argument("--int8", action="store_true",
                   help="int8 convolutions (static quantisation), checked against the fp32 "
                        "export on held-out photos")
    p.add_argument("--int8-min-psnr", type=float, default=MIN_PSNR, metavar="DB",
                   help=f"refuse if any held-out (photo, style) is below this PSNR against fp32 "
                        f"(default {MIN_PSNR:g})")
    p.add_argument("--int8-max-increase", type=float, default=MAX_OBJECTIVE_INCREASE,
                   metavar="FRACTION",
                   help="refuse if any style's training objective rises more than this over "
                        f"fp32 (default {MAX_OBJECTIVE_INCREASE:g}, i.e. 3%%)")
    p.add_argument("--style-files", nargs="+", type=Path, metavar="IMAGE",
                   help="--int8's check: the style images, one per style in order, when the "
                        "recorded ones are not on this machine")
    p.add_argument("--run", type=Path,
                   help="a run folder: attach the written .onnx to its record (artifacts/) "
                        "and its Neptune or MLflow run")
    return p.parse_args(argv)


def check_options(args, net) -> None:
    """Every option problem fails here, before the slow export, naming the option."""
    if args.style is not None and args.style not in net.style_names:
        raise ValueError(f"--style: unknown style {args.style!r} in {args.model} "
                         f"(available: {', '.join(net.style_names)})")
    if args.spatial and args.style is not None:
        raise ValueError("--spatial and --style exclude each other: a baked style has no "
                         "style_weights input")
    if args.fp16_weights and (args.fp16 or args.int8):
        raise ValueError("--fp16-weights excludes --fp16 and --int8: it stores fp32 weights")
    if args.int8 and args.fp16:
        raise ValueError("--int8 and --fp16 exclude each other: int8 is quantised from the "
                         "fp32 export")
    if args.run is not None and not args.run.is_dir():
        raise ValueError(f"--run: no run folder at {args.run}")
    if not (args.int8_min_psnr >= 0 and args.int8_max_increase >= 0):  # NaN too
        raise ValueError(f"--int8-min-psnr and --int8-max-increase must be >= 0, got "
                         f"{args.int8_min_psnr:g} and {args.int8_max_increase:g}")


def main(argv: list[str] | None = None) -> Path:
    """Export, check against PyTorch (and with --int8 quantise and check against fp32), then
    write; return the written path."""
    args = parse_args(argv)
    if args.out is not None and args.out.resolve() == args.model.resolve():
        raise ValueError(f"--out {args.out} is the model being exported; give another file")
    net = load_model(args.model)
    check_options(args, net)
    out = args.out or default_out(args.model, args.fp16, args.style, args.spatial, args.int8)
    if out.suffix != ".onnx":
        raise ValueError(f"--out {out}: expected a .onnx file name")
    objective = int8_objective(args) if args.int8 else None  # a missing style fails early
    if args.fp16_weights:  # the file holds the fp16-rounded network; the check is against it
        net = net.half().float()
    model = to_onnx(net, args.fp16, args.style, args.spatial)
    if args.fp16_weights:
        model = store_weights_fp16(model)
    with atomic_path(out) as tmp:  # checked before the rename: a refused export leaves nothing
        if args.int8:
            summary = export_int8(args, net, model, tmp, objective)
        else:
            onnx.save(model, tmp)
            tolerance = TOLERANCE["fp16" if args.fp16 else "fp32"]
            diff = check_against_torch(tmp, net, tolerance, args.style, args.spatial)
            summary = f"max |onnxruntime - torch| {diff:.1e}"
    styles = [args.style] if args.style else net.style_names
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, styles {styles}, {summary})",
          file=sys.stderr)
    if args.run is not None:
        from fststyle.tracking.artifacts import log_artifact_to_run

        log_artifact_to_run(args.run, out)
    return out


def int8_objective(args):
    """The model's training objective (fststyle.evaluation.objective), for --int8's check."""
    from fststyle.evaluation.objective import model_hparams, objective_from_hparams

    return objective_from_hparams(model_hparams(args.model), args.style_files)


def export_int8(args, net, model: onnx.ModelProto, tmp: Path, objective) -> str:
    """The fp32 export, checked against torch, quantised into `tmp`, which is then checked
    against that fp32 file and given its metadata; returns the numbers as one phrase."""
    with tempfile.TemporaryDirectory(prefix="fststyle-int8-") as folder:
        fp32 = Path(folder) / "fp32.onnx"
        onnx.save(model, fp32)
        diff = check_against_torch(fp32, net, TOLERANCE["fp32"], args.style, args.spatial)
        quantize(fp32, tmp, Calibration(fp32, net.num_styles))
        styles = [net.style_names.index(args.style)] if args.style else range(net.num_styles)
        report = check_int8(fp32, tmp, objective, list(styles))
        refuse_below(report, args.int8_min_psnr, args.int8_max_increase)
        report["speed"] = int8_speed(tmp, fp32)
    quantized = onnx.load(tmp)
    onnx.helper.set_model_props(quantized, {**{p.key: p.value for p in model.metadata_props},
                                            **int8_metadata(report)})
    onnx.save(quantized, tmp)
    speed = report["speed"]
    verdict = ("faster here" if choose({"fp32": 1.0, "int8": speed["time_ratio"]}) == "int8"
               else "SLOWER here: the fp32 export runs faster on this CPU")
    speeds = ", ".join(f"{1 / r:.2f}x at {size}" for size, r in speed["time_ratios"].items())
    return (f"fp32 max |onnxruntime - torch| {diff:.1e}; int8 against fp32 on held-out photos: "
            f"PSNR min {report['psnr_min']:.1f} dB, objective "
            f"{100 * report['objective_increase']:+.2f}% (worst style); int8 runs at "
            f"{speeds} fp32's speed, {verdict} ({speed['cpu']})")


# int8 can win on small frames and lose on photos (the shipped network on an AVX-512 Xeon:
# 1.16x fp32's speed at 256², 0.84x at 1920×1080, docs/speed.md), so it is timed at both ends.
SPEED_SIZES = ((256, 256), (1280, 720))


def int8_speed(int8: Path, fp32: Path) -> dict:
    """int8's time over fp32's at each of SPEED_SIZES, measured here (runtime.variants), the
    worst of them as `time_ratio` (what decides), and the CPU."""
    ratios = {f"{w}x{h}": speed_ratio(int8, fp32, (w, h)) for w, h in SPEED_SIZES}
    return {"time_ratio": max(ratios.values()), "time_ratios": ratios, "cpu": describe_cpu()}


def cli(argv: list[str] | None = None) -> Path:
    """`main` under the CLI convention (fststyle.cli): a bad option or model exits 2."""
    return run_cli("export", main, argv)


if __name__ == "__main__":
    cli()
