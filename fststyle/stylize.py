"""Stylize image and video files and folders with an exported .onnx model or a trained network.

    python -m fststyle.stylize photo.jpg --style starry_night --out out.jpg   # the shipped model
    python -m fststyle.stylize photo.jpg --style udnie --strength 0.5 --out out.jpg
    python -m fststyle.stylize --list-styles
    python -m fststyle.stylize --model exports/demo.onnx --style udnie photo.jpg --out out.jpg
    python -m fststyle.stylize --model checkpoints/demo/model.safetensors --style 2 \\
        photos/ --out stylized/
    python -m fststyle.stylize --model exports/demo.onnx --style udnie=0.7,great_wave=0.3 \\
        --preserve-color --max-size 1024 photos/ more.jpg --out stylized/
    python -m fststyle.stylize --model exports/demo-spatial.onnx --style udnie,the_scream \
        --style-mask mask.png photo.jpg --out out.jpg     # white: udnie, black: the_scream
    python -m fststyle.stylize --model exports/realtime.onnx --style udnie clip.mp4 --out out.mp4
    python -m fststyle.stylize --model exports/demo.onnx --style 1 --max-size 480 clip.mov \\
        anim.gif --out stylized/                     # -> stylized/clip.mov, stylized/anim.gif
    python -m fststyle.stylize --model exports/demo.onnx --list-styles
    python -m fststyle.stylize big_photo.jpg --style udnie --tile 512 --out out.jpg  # any size

`.onnx` runs on onnxruntime (torch is never imported); `.safetensors` and `.ckpt` run on
PyTorch (`fststyle.core.torch_stylizer`). Both go through `Stylizer.stylize`, so resizing,
style mixing and colour preservation are the same code. Folders are read recursively and
mirrored under --out (their images; give videos by name). Videos (.mp4 .mov .mkv .webm .gif)
go through `Stylizer.stylize_video`: frame rate, size, rotation and sound kept, H.264 / VP9 /
GIF from --out's suffix (docs/video.md).
"""

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from fststyle.cli import run_cli
from fststyle.core.torch_stylizer import load_stylizer
from fststyle.runtime.imagefiles import IMAGE_EXTENSIONS, list_images, open_rgb, save_image
from fststyle.runtime.masks import mask_weights, parse_style_mask
from fststyle.runtime.shipped import shipped_model
from fststyle.runtime.styles import parse_style, style_weights, with_strength
from fststyle.runtime.tiles import NEEDS_ONNX, tile_size
from fststyle.runtime.video import VIDEO_EXTENSIONS, probe


def plan(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs. One image with an image-suffixed --out, or one video with a
    video-suffixed --out, writes that file; otherwise --out is a folder: files keep their
    names, folders' images keep their relative paths."""
    for path in inputs:
        if not path.exists():
            raise ValueError(f"input {path} does not exist")
        if path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS:
            raise ValueError(f"input {path} is not an image file or a video (expected one of "
                             f"{', '.join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))})")
    for kind, suffixes in ("an image", IMAGE_EXTENSIONS), ("a video", VIDEO_EXTENSIONS):
        if out.suffix.lower() in suffixes:
            if len(inputs) != 1 or inputs[0].suffix.lower() not in suffixes:
                raise ValueError(f"--out {out} is {kind} file name, but the inputs are not "
                                 f"one {kind[kind.index(' ') + 1:]} file; give a folder")
            refuse_overwriting_inputs([(inputs[0], out)])
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
    refuse_overwriting_inputs(pairs)
    return pairs


def refuse_overwriting_inputs(pairs: list[tuple[Path, Path]]) -> None:
    """An output that resolves to one of the inputs (--out onto the photo, or onto the folder
    that holds them) is refused before anything is read: the user's files are never replaced."""
    sources = {src.resolve() for src, _ in pairs}
    for src, dst in pairs:
        if dst.resolve() in sources:
            raise ValueError(f"--out {dst} is one of the inputs; it would be overwritten: "
                             "give another file or folder")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="*", type=Path, metavar="INPUT",
                   help="image or video files, folders of images")
    p.add_argument("--model", type=Path,
                   help=".onnx, .safetensors or .ckpt (default: the shipped 11-style network)")
    p.add_argument("--style", type=parse_style,
                   help="a name, an index, or a mix a=0.7,b=0.3 (optional for 1-style models)")
    p.add_argument("--out", type=Path,
                   help="output folder, or an image or video file for one input")
    p.add_argument("--strength", type=float, default=1.0, metavar="0-1",
                   help="style strength: 0 the photo, 1 the full style (models with an "
                        "identity style, such as the shipped one)")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the content's colours: transfer luminance only (Gatys et al. 2016)")
    p.add_argument("--max-size", type=int, help="downscale the long side to this first")
    p.add_argument("--tile", type=int, metavar="PX",
                   help="stylize in PX-pixel tiles with a thumbnail's statistics, in bounded "
                        "memory (default: 512 above 4 megapixels for .onnx models; 0: whole)")
    p.add_argument("--style-mask", type=parse_style_mask, metavar="MASK | a=MASK,b=MASK",
                   help="spatial mixing: one greyscale mask with --style a,b (white = a, "
                        "black = b, grey = a mix), or one mask per style (normalised per "
                        "pixel); resized to each image. .onnx models need export --spatial")
    p.add_argument("--crf", type=int, metavar="0-51",
                   help="video quality, lower is better (default: 18 for H.264, 31 for VP9)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for the network (default: the physical cores)")
    p.add_argument("--list-styles", action="store_true", help="print the styles and exit")
    return p.parse_args(argv)


def check_options(args, stylizer) -> None:
    """A bad option fails before any output (fststyle.cli turns it into exit status 2)."""
    if args.style_mask is not None:
        if not stylizer.spatial:
            raise ValueError(f"--style-mask: {args.model} takes one style mix per image; "
                             "export it with `python -m fststyle.export MODEL --spatial`")
        mask_weights(args.style_mask, args.style, stylizer.styles, (2, 2))
    elif args.style is None and len(stylizer.styles) > 1:
        raise ValueError(f"--style is required: {args.model} has styles "
                         f"{', '.join(stylizer.styles)}")
    else:
        style_weights(args.style, stylizer.styles)
    if args.strength != 1:
        if args.style_mask is not None:
            raise ValueError("--strength does not combine with --style-mask")
        args.style = with_strength(args.style, args.strength, stylizer.styles)
    if args.max_size is not None and args.max_size < 1:
        raise ValueError(f"--max-size must be >= 1, got {args.max_size}")
    if args.tile is not None:
        tile_size(args.tile, (1, 1))  # the same check as each image's
        if args.tile and not stylizer.can_tile:
            raise ValueError(NEEDS_ONNX)
        if args.style_mask is not None:
            raise ValueError("--tile does not combine with --style-mask")
    if args.crf is not None and not 0 <= args.crf <= 51:
        raise ValueError(f"--crf must be in 0..51, got {args.crf}")


def stylize_video(stylizer, src: Path, dst: Path, args) -> None:
    """One video, with a frame bar (frames/s) and a summary line on stderr."""
    total = probe(src).frames  # a file that is not a video fails here, before any output
    with tqdm(total=total, unit="frame", desc=src.name, file=sys.stderr) as bar:
        done = stylizer.stylize_video(src, dst, args.style, args.preserve_color, args.max_size,
                                      args.style_mask, bar.update, args.crf)
    tqdm.write(f"{dst}: {done.frames} frames in {done.seconds:.1f} s "
               f"({done.frames / max(done.seconds, 1e-9):.1f} frames/s), {done.audio}",
               file=sys.stderr)


def run(args) -> int:
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    args.model = args.model or shipped_model("full")
    stylizer = load_stylizer(args.model, args.threads)
    if args.list_styles:
        print("\n".join(f"{i}\t{name}" for i, name in enumerate(stylizer.styles)))
        return 0
    if not args.inputs or args.out is None:
        raise ValueError("give INPUT files or folders and --out (or --list-styles)")
    check_options(args, stylizer)
    pairs, failed, done = plan(args.inputs, args.out), 0, {"image(s)": 0, "video(s)": 0}
    bar = tqdm(pairs, unit="file", disable=all(p.is_file() for p in args.inputs), file=sys.stderr)
    for src, dst in bar:
        try:
            if src.suffix.lower() in VIDEO_EXTENSIONS:
                stylize_video(stylizer, src, dst, args)
                done["video(s)"] += 1
                continue
            out = stylizer.stylize(open_rgb(src), args.style, args.preserve_color, args.max_size,
                                   args.style_mask, tile=args.tile)
            save_image(out, dst, jpeg_quality=95)
            done["image(s)"] += 1
        except (ValueError, OSError) as e:
            failed += 1
            named = str(e) if str(src) in str(e) else f"{src}: {e}"
            tqdm.write(f"fststyle.stylize: failed: {named}", file=sys.stderr)
    written = " and ".join(f"{n} {kind}" for kind, n in done.items() if n) or "0 image(s)"
    print(f"wrote {written} to {args.out}" + (f"; {failed} failed" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Returns the exit status: 0, or 1 if any image failed; a bad option or model raises."""
    return run(parse_args(argv))


def cli(argv: list[str] | None = None) -> int:
    """`main` under the CLI convention (fststyle.cli): a bad option or model exits 2."""
    return run_cli("stylize", main, argv)


if __name__ == "__main__":
    sys.exit(cli())
