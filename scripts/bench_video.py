"""Milliseconds per frame of a whole video (decode + stylize + encode, overlapped:
`Stylizer.stylize_video`) against `Stylizer.stylize_frame` alone on the same decoded frames, side
by side, on a generated clip (fststyle.runtime.sample_clip: H.264, 30 fps, AAC) per size; the
reference network (fststyle.evaluation.yardstick) through stylize_frame as a yardstick.

    python scripts/bench_video.py --model exports/realtime.onnx
    python scripts/bench_video.py --model exports/demo.onnx --sizes 640x360 --frames 30 --out .webm

--runs rounds, each timing every variant once, in turn (fststyle.runtime.bench), so that load
from other processes falls on all of them alike; prints the date, the CPU, each variant's
median over the rounds and the ratios (each the median of per-round ratios), with the video
path with the network replaced by the identity (what decoding and encoding cost). The target
(docs/video.md): the video path within 10% of the frame path (video / stylize_frame <= 1.10x).
"""

import argparse
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fststyle.evaluation.yardstick import export_reference
from fststyle.runtime import Stylizer
from fststyle.runtime.bench import header, interleaved, parse_size, table, wall_ms
from fststyle.runtime.sample_clip import write_clip
from fststyle.runtime.video import read_frames

VARIANTS = ("stylize_frame", "video", "no network")
REFERENCE = "reference stylize_frame"
RATIOS = [("video", "stylize_frame"), ("stylize_frame", REFERENCE)]


def frames_through(stylizer: Stylizer, frames: list[np.ndarray]) -> None:
    """stylize_frame over already decoded frames, into one reused output."""
    out = np.empty_like(frames[0])
    for frame in frames:
        stylizer.stylize_frame(frame, stylizer.styles[0], out=out)


def per_frame_ms(frames: int, fn) -> float:
    return wall_ms(fn) / frames


def stylizers(args, folder: Path) -> dict[str, Stylizer]:
    """The model, the same with the network call replaced by the identity (decoding,
    conversions and encoding alone: the work that the threads must hide behind the network),
    and the reference."""
    found = {"model": Stylizer(args.model, threads=args.threads),
             "no network": Stylizer(args.model, threads=args.threads),
             "reference": Stylizer(export_reference(folder / "reference.onnx"),
                                   threads=args.threads)}
    found["no network"]._run = lambda image, weights, out=None: image
    return found


def variants(found: dict[str, Stylizer], clip: Path, out: Path) -> dict:
    """{name: fn} of one pass over the clip each."""
    frames = list(read_frames(clip))
    for name in ("model", "reference"):  # warm-up: buffers, onnxruntime's arena
        found[name].stylize_frame(frames[0], found[name].styles[0])
    model = found["model"]
    return {"stylize_frame": partial(frames_through, model, frames),
            "video": partial(model.stylize_video, clip, out, model.styles[0]),
            "no network": partial(found["no network"].stylize_video, clip, out, model.styles[0]),
            REFERENCE: partial(frames_through, found["reference"], frames)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, required=True, help=".onnx export")
    p.add_argument("--sizes", nargs="+", type=parse_size, default=[(640, 360), (256, 256)],
                   help="WIDTHxHEIGHT")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--runs", type=int, default=2, help="timed rounds; medians are reported")
    p.add_argument("--threads", type=int, help="intra-op threads (default: physical cores)")
    p.add_argument("--out", default=".mp4", help="output suffix: .mp4 .webm .gif ...")
    args = p.parse_args(argv)
    line = header(onnxruntime=ort.__version__)
    print(line, flush=True)
    columns = {}
    with tempfile.TemporaryDirectory() as folder:
        found = stylizers(args, Path(folder))
        for width, height in args.sizes:
            text = f"{width}x{height}"
            clip = write_clip(Path(folder) / f"{text}.mp4", (width, height), fps=30,
                              frames=args.frames, pix_fmt="yuv420p", sample_rate=48000)
            fns = variants(found, clip, Path(folder) / f"o{args.out}")
            columns[text] = interleaved(fns, args.runs, warmup=0,
                                        measure=partial(per_frame_ms, args.frames))
    print(f"\n{args.frames} frames, video to {args.out}\n\n"
          f"{table(columns, RATIOS, unit='ms/frame')}")
    return {text: {name: t.median(name) for name in VARIANTS} for text, t in columns.items()}


if __name__ == "__main__":
    main()
