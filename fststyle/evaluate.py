"""Measure, per style, how close a trained network gets to the Gatys optimisation it approximates.

    python -m fststyle.evaluate --model checkpoints/demo/model.safetensors --out eval/demo
    python -m fststyle.evaluate --model exports/demo.onnx --content photos/ --size 256 \\
        --teacher-steps 300 --styles udnie,the_scream --max-images 8 --center-crop \\
        --train-source coco/ --run checkpoints/demo --out eval/demo

For every style and content image, three images are scored with one objective: the network's
output, the teacher's (fststyle.gatys.optimise of that same objective from the content image,
--teacher-steps L-BFGS evaluations) and the content image itself (the do-nothing baseline).
--objective model (default): the model's own training objective (fststyle.objective, weights
from the model's metadata). --objective reference: one fixed objective for every model
(fststyle.objective.REFERENCE: Gatys et al.'s layers, each layer's error relative to its
target), so that models trained with different recipes can be compared. Content images are resized to --size on
the shorter side and not cropped (--center-crop: a centred square). Every image is scored as
the 8-bit image it would be saved as. Writes to --out:

report.md: one table per style (a row per content image, then the medians) and the overall
median ratio. report_grid.jpg: one row per content image: the content, then teacher | network
for each style. report.json:
    model, size, center_crop, teacher_steps, device: what was measured, and how
    objective_kind: model | reference; objective: its hyperparameters
        (fststyle.objective.OBJECTIVE_KEYS)
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
"""

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from fststyle.atomic import atomic_path
from fststyle.gatys import optimise, quantize
from fststyle.images import (demo_photos, list_images, open_rgb, resize_shorter, save_image,
                             to_pil, to_tensor)
from fststyle.objective import (OBJECTIVES, measure, model_hparams, objective_from_hparams,
                                reference_hparams, resolve_hparams)
from fststyle.stylize import load_stylizer

TILE = 192  # grid tile height in pixels: 4 styles x 2 + 1 columns stay under ~2000 px wide
TERMS = ("content", "style", "tv")
WARMUP = 3  # untimed network calls first: the first few pay for fresh memory pages
REPEATS = 3  # timed calls per (image, style), the median reported: machines are shared


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


def load_contents(args) -> list[tuple[Path, torch.Tensor]]:
    """(file, (1, 3, H, W) in [0, 1]) per content photo, resized (and cropped) as asked."""
    files = demo_photos("heldout") if args.content is None else list_images(args.content)
    if not files:
        raise ValueError(f"--content: no images in {args.content}")
    contents = []
    for f in files[: args.max_images]:
        image = resize_shorter(open_rgb(f), args.size)
        if args.center_crop:
            left, top = (image.width - args.size) // 2, (image.height - args.size) // 2
            image = image.crop((left, top, left + args.size, top + args.size))
        contents.append((f, to_tensor(image)[None]))
    return contents


def training_files(model: Path, extra: list[Path]) -> list[Path]:
    """Photos the model may have trained on: the bundled training photos, the folder in the
    run's config.yaml beside the model (when it is a local folder) and --train-source."""
    import yaml

    files, config = list(demo_photos("train")), model.parent / "config.yaml"
    source = ((yaml.safe_load(config.read_text()) or {}).get("data") or {}).get("source") \
        if config.is_file() else None
    folders = [*extra, *([Path(source)] if source and Path(source).is_dir() else [])]
    for folder in folders:
        files += list_images(folder)
    return files


def in_training_source(contents: list[Path], train: list[Path]) -> list[str]:
    """Content files whose bytes equal a training file's (sizes first: hashing is costly)."""
    sizes = {f.stat().st_size for f in contents}
    digest = lambda f: hashlib.sha256(f.read_bytes()).hexdigest()  # noqa: E731
    seen = {digest(f) for f in train if f.stat().st_size in sizes}
    return [str(f) for f in contents if digest(f) in seen]


def pick_styles(wanted: list[str] | None, network: list[str], objective: list[str]) -> list[str]:
    if network != objective:
        raise ValueError(f"--model: the network's styles {network} differ from its recorded "
                         f"training styles {objective}")
    unknown = [s for s in wanted or [] if s not in network]
    if unknown:
        raise ValueError(f"--styles: unknown {unknown} (available: {', '.join(network)})")
    return wanted or network


def run_network(stylizer, contents: list, styles: list[str]) -> dict:
    """{(image index, style): ((1, 3, H, W) output, ms)}. All network calls come before any
    teacher run, whose large frees would make the next call pay for fresh memory pages again;
    ms is the median of REPEATS calls (PIL in, PIL out), after WARMUP untimed ones."""
    for _ in range(WARMUP):
        stylizer.stylize(to_pil(contents[0][1][0]), style=styles[0])
    outputs = {}
    for i, (_, content) in enumerate(contents):
        photo = to_pil(content[0])
        for style in styles:
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                stylized = stylizer.stylize(photo, style=style)
                times.append(1000 * (time.perf_counter() - start))
            outputs[i, style] = (to_tensor(stylized)[None].to(content.device),
                                 statistics.median(times))
    return outputs


def teacher_key(objective, content: torch.Tensor, index: int, steps: int) -> str:
    """What the teacher's result depends on: the objective's weights and its style targets
    (which fix the style image, its size and the VGG), the content pixels and the steps."""
    h = hashlib.sha256(json.dumps({"content": objective.content_layers,
                                   "style": objective.style_layers, "steps": steps,
                                   "weights": [objective.content_weight, objective.style_weight,
                                               objective.tv_weight, objective.loss_normalization,
                                               float(objective.style_coefficients[index])]},
                                  sort_keys=True).encode())
    for name in objective.style_layers:
        h.update(objective.target_gram(name, torch.tensor([index])).cpu().numpy().tobytes())
    h.update(content.cpu().numpy().tobytes())
    return h.hexdigest()[:32]


def run_teacher(objective, content: torch.Tensor, index: int, steps: int,
                cache: Path | None) -> tuple[torch.Tensor, float]:
    """The teacher's (1, 3, H, W) 8-bit result and its ms, from `cache` when it holds them."""
    path = cache / f"{teacher_key(objective, content, index, steps)}.pt" if cache else None
    if path is not None and path.is_file():
        saved = torch.load(path, weights_only=True)
        return saved["image"].to(content.device).float() / 255, saved["ms"]
    start = time.perf_counter()
    teacher = quantize(optimise(objective, content, index, steps))
    ms = 1000 * (time.perf_counter() - start)
    if path is not None:
        with atomic_path(path) as tmp:
            torch.save({"image": teacher.mul(255).round().byte().cpu(), "ms": ms}, tmp)
    return teacher, ms


def score(objective, content: torch.Tensor, index: int, network: torch.Tensor,
          network_ms: float, steps: int, cache: Path | None = None) -> tuple[dict, torch.Tensor]:
    """One (content, style) pair -> (record, teacher image); runs the teacher (or reads it
    from `cache`)."""
    teacher, teacher_ms = run_teacher(objective, content, index, steps, cache)
    record = {"network": measure(objective, network, content, index),
              "teacher": measure(objective, teacher, content, index),
              "content": measure(objective, content, content, index),
              "network_ms": network_ms, "teacher_ms": teacher_ms}
    record["ratio"] = record["network"]["total"] / record["teacher"]["total"]
    return record, teacher


def medians(images: list[dict]) -> dict[str, float]:
    med = lambda f: statistics.median(f(r) for r in images)  # noqa: E731
    return {**{k: med(lambda r, k=k: r[k]["total"]) for k in ("network", "teacher", "content")},
            **{k: med(lambda r, k=k: r[k]) for k in ("ratio", "network_ms", "teacher_ms")}}


def layer_medians(records: dict[str, list[dict]], layers: list[str]) -> dict:
    """{network, teacher}.{layer}: the median weighted style term of each layer over every
    (style, image) pair."""
    pairs = [r for rs in records.values() for r in rs]
    return {who: {n: statistics.median(r[who][f"style/{n}"] for r in pairs) for n in layers}
            for who in ("network", "teacher")}


def layer_table(report: dict) -> list[str]:
    """The style term per VGG layer, network vs teacher: medians and shares of their sum."""
    layers = report["style_layers"]
    sums = {who: sum(v.values()) or 1.0 for who, v in layers.items()}
    lines = ["| style layer | network | teacher | network share | teacher share |",
             "|" + " --- |" * 5]
    for n in layers["network"]:
        net, tea = layers["network"][n], layers["teacher"][n]
        lines.append(f"| {n} | {net:.3g} | {tea:.3g} | {100 * net / sums['network']:.0f}% | "
                     f"{100 * tea / sums['teacher']:.0f}% |")
    return lines


def summary_table(report: dict) -> list[str]:
    """One row of medians per style, then the median ratio over every pair."""
    lines = ["| style | network | teacher | content image | network / teacher | network ms | "
             "teacher ms |", "|" + " --- |" * 7]
    for style, s in report["styles"].items():
        m = s["median"]
        lines.append(f"| {style} | {m['network']:.3g} | {m['teacher']:.3g} | "
                     f"{m['content']:.3g} | {m['ratio']:.2f} | {m['network_ms']:.0f} | "
                     f"{m['teacher_ms']:.0f} |")
    return lines + [f"| **all** | | | | **{report['median_ratio']:.2f}** | | |"]


def style_table(s: dict) -> list[str]:
    """A row per content image, then the medians."""
    lines = ["| image | network | teacher | content image | network / teacher | network: "
             "content | style | tv | teacher: content | style | tv | network ms | teacher ms |",
             "|" + " --- |" * 13]
    for r in s["images"]:
        terms = [f"{r[who][t]:.3g}" for who in ("network", "teacher") for t in TERMS]
        lines.append(f"| {Path(r['file']).name} | {r['network']['total']:.3g} | "
                     f"{r['teacher']['total']:.3g} | {r['content']['total']:.3g} | "
                     f"{r['ratio']:.2f} | {' | '.join(terms)} | {r['network_ms']:.0f} | "
                     f"{r['teacher_ms']:.0f} |")
    m = s["median"]
    return lines + [f"| **median** | {m['network']:.3g} | {m['teacher']:.3g} | "
                    f"{m['content']:.3g} | **{m['ratio']:.2f}** |" + " |" * 6 +
                    f" {m['network_ms']:.0f} | {m['teacher_ms']:.0f} |"]


def markdown(report: dict) -> str:
    """report.md: the medians per style, a table per style, then the overall median ratio."""
    kind = {"model": "The model's training objective",
            "reference": "The reference objective"}[report["objective_kind"]]
    lines = [f"# Evaluation of {Path(report['model']).name}", "",
             f"{kind} (lower is better; medians over the content images) at "
             f"{report['size']} px; teacher: {report['teacher_steps']} L-BFGS steps from the "
             "content image; ms per image.", "", *summary_table(report), "",
             "Style term per VGG layer (medians over every pair):", "", *layer_table(report),
             ""]
    for style, s in report["styles"].items():
        lines += [f"## {style}", "", *style_table(s), ""]
    pairs = sum(len(s["images"]) for s in report["styles"].values())
    lines.append(f"**Median network / teacher ratio over all {pairs} (style, image) pairs: "
                 f"{report['median_ratio']:.2f}** (1.00: as good as the teacher)")
    return "\n".join(lines) + "\n"


def grid(rows: list[list[torch.Tensor]], labels: list[str]) -> Image.Image:
    """Rows of (3, H, W) tiles under a header of labels; tiles scaled to TILE px high."""
    rows = [[to_pil(t).resize((max(1, round(t.shape[2] * TILE / t.shape[1])), TILE),
                              Image.LANCZOS) for t in row] for row in rows]
    width, pad, header = max(r[0].width for r in rows), 4, 24
    sheet = Image.new("RGB", (len(labels) * (width + pad) + pad,
                              header + len(rows) * (TILE + pad)), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default(size=14)
    for j, label in enumerate(labels):
        draw.text((pad + j * (width + pad), 4), label, fill="black", font=font)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            sheet.paste(tile, (pad + j * (width + pad), header + i * (TILE + pad)))
    return sheet


def write_report(out: Path, report: dict, sheet: Image.Image) -> list[Path]:
    paths = [out / "report.json", out / "report.md", out / "report_grid.jpg"]
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    with atomic_path(paths[1]) as tmp:
        tmp.write_text(markdown(report))
    save_image(sheet, paths[2], jpeg_quality=88)
    return paths


def evaluate(args, stylizer, objective, styles, contents) -> tuple[dict, list]:
    """Score every (content, style) pair; returns ({style: [records]}, grid rows)."""
    outputs = run_network(stylizer, contents, styles)
    records, rows = {s: [] for s in styles}, []
    bar = tqdm(total=len(contents) * len(styles), unit="pair", file=sys.stderr)
    for i, (path, content) in enumerate(contents):
        row = [content[0].cpu()]
        for style in styles:
            network, ms = outputs[i, style]
            record, teacher = score(objective, content, stylizer.styles.index(style), network,
                                    ms, args.teacher_steps, args.teacher_cache)
            records[style].append({"file": str(path), **record})
            row += [teacher[0].cpu(), network[0].cpu()]
            bar.update()
        rows.append(row)
    bar.close()
    return records, rows


def main(argv: list[str] | None = None) -> dict:
    """Evaluate, write the report; return report.json's content."""
    args = parse_args(argv)
    check_args(args)
    torch.set_flush_denormal(True)  # L-BFGS drives VGG gradients denormal: 5x slower on CPU
    device = "cuda" if torch.cuda.is_available() else "cpu"
    stylizer, hparams = load_stylizer(args.model), model_hparams(args.model)
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
    records, rows = evaluate(args, stylizer, objective, styles, contents)
    report = {"model": str(args.model), "size": args.size, "center_crop": args.center_crop,
              "teacher_steps": args.teacher_steps, "device": device,
              "objective_kind": args.objective, "objective": hparams,
              "styles": {s: {"images": r, "median": medians(r)} for s, r in records.items()},
              "median_ratio": statistics.median(r["ratio"] for rs in records.values() for r in rs),
              "style_layers": layer_medians(records, list(hparams["style_layers"])),
              "in_training_source": overlap}
    labels = ["content"] + [f"{s} {who}" for s in styles for who in ("teacher", "network")]
    paths = write_report(args.out, report, grid(rows, labels))
    if args.run is not None:
        from fststyle.tracking import log_artifact_to_run

        for path in paths:
            log_artifact_to_run(args.run, path, f"evaluation/{path.name.replace('.', '_')}")
    print(markdown(report).split("\n\n")[-1].strip())
    print(f"wrote {', '.join(map(str, paths))}", file=sys.stderr)
    return report


def cli(argv: list[str] | None = None) -> dict:
    """`main` with errors as a one-line message and exit status 1, not a traceback."""
    try:
        return main(argv)
    except (ValueError, FileNotFoundError, ImportError) as e:
        sys.exit(f"fststyle.evaluate: error: {e}")


if __name__ == "__main__":
    cli()
