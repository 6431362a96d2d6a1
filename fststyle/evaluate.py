"""Measure, per style, how close a trained network gets to the Gatys optimisation it approximates.

    python -m fststyle.evaluate --model checkpoints/demo/model.safetensors --out eval/demo
    python -m fststyle.evaluate --model exports/demo.onnx --content photos/ --size 256 \\
        --teacher-steps 300 --styles udnie,the_scream --max-images 8 --center-crop \\
        --train-source coco/ --run checkpoints/demo --out eval/demo
    python -m fststyle.evaluate --model exports/demo.onnx --temporal --teacher-steps 30 \
        --video clip.mp4 --max-frames 60 --out eval/flicker

For every style and content image, three images are scored with one objective: the network's
output, the teacher's (fststyle.evaluation.gatys.optimise of that same objective from the
content image, --teacher-steps L-BFGS evaluations) and the content image itself (the do-nothing
baseline). --objective model (default): the model's own training objective
(fststyle.evaluation.objective, weights from the model's metadata). --objective reference: one
fixed objective for every model (fststyle.evaluation.objective.REFERENCE: Gatys et al.'s layers,
each layer's error relative to its target), so that models trained with different recipes can
be compared. Content images are resized to --size on the shorter side and not cropped
(--center-crop: a centred square). Every image is scored as the 8-bit image it would be saved
as. Scoring is fststyle.evaluation.scoring; the report, fststyle.evaluation.report. Writes to
--out:

report.md: one table per style (a row per content image, then the medians) and the overall
median ratio. report_grid.jpg: one row per content image: the content, then teacher | network
for each style. report.json:
    model, size, center_crop, teacher_steps, device: what was measured, and how
    objective_kind: model | reference; objective: its hyperparameters
        (fststyle.evaluation.objective.OBJECTIVE_KEYS)
    styles.<style>.images[i]: file; network, teacher, content: {total, content, style, tv,
        style/<layer>} (weighted terms; total = content + style + tv, style = the sum of
        the style/<layer>); ratio = network.total / teacher.total;
        network_ms (median of 3 stylize calls, PIL in and out), teacher_ms (the whole
        optimisation, as first run when --teacher-cache supplied it; both on a CUDA GPU when
        there is one)
    styles.<style>.median: {network, teacher, content (totals), ratio, network_ms, teacher_ms}
    median_ratio: the median of ratio over every (style, image) pair
    style_layers: {network, teacher}.{layer}: the median of style/<layer> over every pair
    in_training_source: content files whose bytes equal a training photo's
    temporal (--temporal): flicker on synthetic clips of the content photos with known motion
        (fststyle.evaluation.temporal): input (the input frames' warping error), size, clips,
        frames_per_clip, motions, noise; styles.<style>: {network, floor} warping errors
    video (--video CLIP): file, frames, input and styles.<style>: the mean frame-to-frame
        difference (no motion compensation: the clip's own motion counts too)
"""

import argparse
import statistics
import sys
from itertools import islice
from pathlib import Path

import torch

from fststyle.cli import run_cli
from fststyle.core.images import load_image
from fststyle.core.model_file import read_model
from fststyle.core.torch_stylizer import load_stylizer
from fststyle.evaluation.objective import (
    OBJECTIVES,
    model_hparams,
    objective_from_hparams,
    reference_hparams,
    resolve_hparams,
)
from fststyle.evaluation.report import grid, markdown, write_report
from fststyle.evaluation.scoring import (
    evaluate_pairs,
    in_training_source,
    layer_medians,
    medians,
    pick_styles,
    training_files,
)
from fststyle.evaluation.temporal import MARGIN, clip_scores, temporal_scores
from fststyle.runtime.imagefiles import demo_photos, list_images


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, required=True, help=".safetensors, .ckpt or .onnx")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument("--content", type=Path, help="content photos (default: the bundled held-out)")
    p.add_argument("--size", type=int, default=256, help="shorter side of the content, pixels")
    p.add_argument("--center-crop", action="store_true", help="crop a centred --size square")
    p.add_argument("--teacher-steps", type=int, default=300, help="L-BFGS evaluations")
    p.add_argument("--styles", type=lambda s: s.split(","), help="a subset: a,b (default: all)")
    p.add_argument("--max-images", type=int, help="evaluate the first N content photos only")
    p.add_argument("--train-source", type=Path, action="append", default=[],
                   help="a training photo folder to check the content against (repeatable)")
    p.add_argument("--style-files", type=lambda s: s.split(","),
                   help="the model's style images, comma-separated, when the recorded paths "
                        "do not exist here")
    p.add_argument("--objective", choices=OBJECTIVES, default="model",
                   help="score with the model's own training objective, or the fixed "
                        "reference one (comparable across recipes)")
    p.add_argument("--teacher-cache", type=Path,
                   help="a folder to keep teacher results in and reuse them: the teacher "
                        "depends only on the objective, photo, style and --teacher-steps, so "
                        "models compared on one objective (--objective reference) share it")
    p.add_argument("--run", type=Path, help="a run folder: attach the report to its record")
    p.add_argument("--temporal", action="store_true",
                   help="also measure flicker: the warping error on clips made from the "
                        "content photos with known motion (pan, zoom, rotation, noise)")
    p.add_argument("--video", type=Path, metavar="CLIP",
                   help="also measure flicker on a real clip: frame-to-frame difference")
    p.add_argument("--max-frames", type=int, default=120,
                   help="--video: the first N frames (default 120), long side <= --size")
    return p.parse_args(argv)


def check_args(args) -> None:
    """Fail before any VGG or optimisation work."""
    if args.size < 16 or args.teacher_steps < 1 or (args.max_images or 1) < 1:
        raise ValueError(f"--size >= 16, --teacher-steps >= 1 and --max-images >= 1, got "
                         f"{args.size}, {args.teacher_steps}, {args.max_images}")
    if args.content is not None and not args.content.is_dir():
        raise ValueError(f"--content: no folder at {args.content}")
    for folder in args.train_source:
        if not folder.is_dir():
            raise ValueError(f"--train-source: no folder at {folder}")
    if args.run is not None and not args.run.is_dir():
        raise ValueError(f"--run: no run folder at {args.run}")
    if args.max_frames < 2:
        raise ValueError(f"--max-frames must be >= 2, got {args.max_frames}")
    if args.video is not None:
        if not args.video.is_file():
            raise ValueError(f"--video: no file at {args.video}")
        from fststyle.runtime.video import probe

        probe(args.video)  # a file with no video stream, or no video at all, fails here
    if args.teacher_cache is not None and args.teacher_cache.exists() \
            and not args.teacher_cache.is_dir():
        raise ValueError(f"--teacher-cache: {args.teacher_cache} is a file, not a folder")


def content_files(args) -> list[Path]:
    """The content photos: --content's images (default: the bundled held-out), --max-images."""
    files = demo_photos("heldout") if args.content is None else list_images(args.content)
    if not files:
        raise ValueError(f"--content: no images in {args.content}")
    return files[: args.max_images]


def load_contents(args) -> list[tuple[Path, torch.Tensor]]:
    """(file, (1, 3, H, W) in [0, 1]) per content photo, resized (and cropped) as asked."""
    contents = []
    for f in content_files(args):
        image = load_image(f, args.size)  # (3, H, W)
        if args.center_crop:
            top, left = (image.shape[1] - args.size) // 2, (image.shape[2] - args.size) // 2
            image = image[:, top:top + args.size, left:left + args.size]
        contents.append((f, image[None]))
    return contents


def flicker(args, stylizer, styles: list[str]) -> dict:
    """The report's "temporal" and "video" entries, as asked for."""
    found = {}
    if args.temporal:
        # Larger than the clip: the moving window stays inside the photo.
        photos = [load_image(f, round(args.size * MARGIN)) for f in content_files(args)]
        found["temporal"] = temporal_scores(stylizer, styles, photos, args.size)
    if args.video is not None:
        from fststyle.runtime.video import read_frames

        frames = list(islice(read_frames(args.video, args.size), args.max_frames))
        if len(frames) < 2:
            raise ValueError(f"--video: {args.video} has {len(frames)} frame(s); need >= 2")
        found["video"] = {"file": str(args.video), **clip_scores(stylizer, styles, frames)}
    return found


def main(argv: list[str] | None = None) -> dict:
    """Evaluate, write the report; return report.json's content."""
    args = parse_args(argv)
    check_args(args)
    torch.set_flush_denormal(True)  # L-BFGS drives VGG gradients denormal: 5x slower on CPU
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = read_model(args.model)  # once: a checkpoint holds the whole training state
    stylizer, hparams = load_stylizer(model), model_hparams(model)
    hparams = (resolve_hparams(hparams) if args.objective == "model"
               else reference_hparams(hparams, args.size))
    objective = objective_from_hparams(hparams, args.style_files, device)
    styles = pick_styles(args.styles, list(stylizer.styles), objective.style_names)
    contents = [(f, c.to(device)) for f, c in load_contents(args)]
    overlap = in_training_source([f for f, _ in contents],
                                 training_files(args.model, args.train_source))
    if overlap:
        print(f"fststyle.evaluate: warning: {len(overlap)} content image(s) are also training "
              f"photos (same bytes), so the scores flatter the model: {', '.join(overlap)}",
              file=sys.stderr)
    records, rows = evaluate_pairs(stylizer, objective, styles, contents, args.teacher_steps,
                                   args.teacher_cache)
    report = {"model": str(args.model), "size": args.size, "center_crop": args.center_crop,
              "teacher_steps": args.teacher_steps, "device": device,
              "objective_kind": args.objective, "objective": hparams,
              "styles": {s: {"images": r, "median": medians(r)} for s, r in records.items()},
              "median_ratio": statistics.median(r["ratio"] for rs in records.values() for r in rs),
              "style_layers": layer_medians(records, list(hparams["style_layers"])),
              "in_training_source": overlap}
    report.update(flicker(args, stylizer, styles))
    labels = ["content"] + [f"{s} {who}" for s in styles for who in ("teacher", "network")]
    paths = write_report(args.out, report, grid(rows, labels))
    if args.run is not None:
        from fststyle.tracking.artifacts import log_artifact_to_run

        for path in paths:
            log_artifact_to_run(args.run, path, f"evaluation/{path.name.replace('.', '_')}")
    print(markdown(report).split("\n\n")[-1].strip())
    print(f"wrote {', '.join(map(str, paths))}", file=sys.stderr)
    return report


def cli(argv: list[str] | None = None) -> dict:
    """`main` under the CLI convention (fststyle.cli): a bad option or model exits 2."""
    return run_cli("evaluate", main, argv, errors=(ValueError, FileNotFoundError, ImportError))


if __name__ == "__main__":
    cli()
