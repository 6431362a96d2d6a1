"""Stylize image files and folders with an exported .onnx model or a trained network.

    python -m fststyle.stylize --model exports/demo.onnx --style udnie photo.jpg --out out.jpg
    python -m fststyle.stylize --model checkpoints/demo/model.safetensors --style 2 \\
        photos/ --out stylized/
    python -m fststyle.stylize --model exports/demo.onnx --style udnie=0.7,great_wave=0.3 \\
        --preserve-color --max-size 1024 photos/ more.jpg --out stylized/
    python -m fststyle.stylize --model exports/demo-spatial.onnx --style udnie,the_scream \
        --style-mask mask.png photo.jpg --out out.jpg     # white: udnie, black: the_scream
    python -m fststyle.stylize --model exports/demo.onnx --list-styles

`.onnx` runs on onnxruntime (torch is never imported); `.safetensors` and `.ckpt` run on
PyTorch (`fststyle.core.torch_stylizer`). Both go through `Stylizer.stylize`, so resizing,
style mixing and colour preservation are the same code. Folders are read recursively and
mirrored under --out.
"""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from fststyle.cli import run_cli
from fststyle.core.torch_stylizer import load_stylizer
from fststyle.runtime.imagefiles import IMAGE_EXTENSIONS, list_images, open_rgb, save_image
from fststyle.runtime.masks import mask_weights, parse_style_mask
from fststyle.runtime.stylizer import parse_style, style_weights


def plan(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs. One file with an image-suffixed --out writes that file; otherwise
    --out is a folder: files keep their names, folders' images keep their relative paths."""
    for path in inputs:
        if not path.exists():
            raise ValueError(f"input {path} does not exist")
        if path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise ValueError(f"input {path} is not an image file (expected one of "
                             f"{', '.join(sorted(IMAGE_EXTENSIONS))})")
    if out.suffix.lower() in IMAGE_EXTENSIONS:
        if len(inputs) != 1 or not inputs[0].is_file():
            raise ValueError(f"--out {out} is an image file name, but the inputs are not one "
                             "file; give a folder")
        return [(inputs[0], out)]
    pairs = []
    for path in inputs:
        if path.is_file():
            pairs.append((path, out / path.name))
            continue
        images = list_images(path)
        if not images:
            raise ValueError(f"input folder {path} holds no images")
        pairs += [(p, out / p.relative_to(path)) for p in images]
    targets = [dst for _, dst in pairs]
    if len(set(targets)) != len(targets):
        clash = next(t for t in targets if targets.count(t) > 1)
        raise ValueError(f"two inputs would both be written to {clash}; run them separately")
    return pairs


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="*", type=Path, metavar="INPUT", help="image files, folders")
    p.add_argument("--model", type=Path, required=True, help=".onnx, .safetensors or .ckpt")
    p.add_argument("--style", type=parse_style,
                   help="a name, an index, or a mix a=0.7,b=0.3 (optional for 1-style models)")
    p.add_argument("--out", type=Path, help="output folder, or an image file for one input")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the content's colours: transfer luminance only (Gatys et al. 2016)")
    p.add_argument("--max-size", type=int, help="downscale the long side to this first")
    p.add_argument("--style-mask", type=parse_style_mask, metavar="MASK | a=MASK,b=MASK",
                   help="spatial mixing: one greyscale mask with --style a,b (white = a, "
                        "black = b, grey = a mix), or one mask per style (normalised per "
                        "pixel); resized to each image. .onnx models need export --spatial")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for the network (default: the physical cores)")
    p.add_argument("--list-styles", action="store_true", help="print the styles and exit")
    return p.parse_args(argv)


def run(args) -> int:
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    stylizer = load_stylizer(args.model, args.threads)
    if args.list_styles:
        print("\n".join(f"{i}\t{name}" for i, name in enumerate(stylizer.styles)))
        return 0
    if not args.inputs or args.out is None:
        raise ValueError("give INPUT files or folders and --out (or --list-styles)")
    if args.style_mask is not None:  # a bad mask or --style fails before any output
        if not stylizer.spatial:
            raise ValueError(f"--style-mask: {args.model} takes one style mix per image; "
                             "export it with `python -m fststyle.export MODEL --spatial`")
        mask_weights(args.style_mask, args.style, stylizer.styles, (2, 2))
    elif args.style is None and len(stylizer.styles) > 1:
        raise ValueError(f"--style is required: {args.model} has styles "
                         f"{', '.join(stylizer.styles)}")
    else:
        style_weights(args.style, stylizer.styles)  # a bad --style fails before any output
    if args.max_size is not None and args.max_size < 1:
        raise ValueError(f"--max-size must be >= 1, got {args.max_size}")
    pairs, failed = plan(args.inputs, args.out), 0
    bar = tqdm(pairs, unit="img", disable=all(p.is_file() for p in args.inputs), file=sys.stderr)
    for src, dst in bar:
        try:
            out = stylizer.stylize(open_rgb(src), args.style, args.preserve_color, args.max_size,
                                   args.style_mask)
            save_image(out, dst, jpeg_quality=95)
        except (ValueError, OSError) as e:
            failed += 1
            named = str(e) if str(src) in str(e) else f"{src}: {e}"
            tqdm.write(f"fststyle.stylize: failed: {named}", file=sys.stderr)
    print(f"wrote {len(pairs) - failed} image(s) to {args.out}"
          + (f"; {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Returns the exit status: 0, or 1 if any image failed; a bad option or model raises."""
    return run(parse_args(argv))


def cli(argv: list[str] | None = None) -> int:
    """`main` under the CLI convention (fststyle.cli): a bad option or model exits 2."""
    return run_cli("stylize", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
