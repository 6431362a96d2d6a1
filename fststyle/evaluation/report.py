"""The evaluation report: report.md (tables of medians per style and per VGG layer),
report_grid.jpg (content, then teacher | network per style) and report.json, written
atomically."""

import json
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from fststyle.core.images import to_pil
from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.imagefiles import save_image

TILE = 192  # grid tile height in pixels: 4 styles x 2 + 1 columns stay under ~2000 px wide
TERMS = ("content", "style", "tv")


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


def flicker_tables(report: dict) -> list[str]:
    """The --temporal and --video measures, when present (lower is steadier)."""
    lines = []
    if "temporal" in report:
        t = report["temporal"]
        lines += ["## Flicker: warping error on clips with known motion", "",
                  f"Mean |f(x_t+1) - warp(f(x_t))| in [0, 1] RGB over valid pixels; {t['clips']} "
                  f"clips of {t['frames_per_clip']} frames ({', '.join(t['motions'])}), "
                  f"{t['size']} px, per-frame noise {t['noise']}. Input frames: "
                  f"{t['input']:.4f}. Floor: a perfectly stable network (its first frame "
                  "carried along the motion).", "",
                  "| style | network | floor | network / input |", "|" + " --- |" * 4]
        lines += [f"| {s} | {v['network']:.4f} | {v['floor']:.4f} | "
                  f"{v['network'] / t['input']:.2f} |" for s, v in t["styles"].items()] + [""]
    if "video" in report:
        v = report["video"]
        lines += [f"## Flicker on {Path(v['file']).name}: frame-to-frame difference", "",
                  f"Mean |f(x_t+1) - f(x_t)| over {v['frames']} frames, no motion "
                  f"compensation (the scene's motion counts too). Input: {v['input']:.4f}.", "",
                  "| style | network | network / input |", "|" + " --- |" * 3]
        lines += [f"| {s} | {d:.4f} | {d / max(v['input'], 1e-12):.2f} |"
                  for s, d in v["styles"].items()] + [""]
    return lines


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
    lines += flicker_tables(report)
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
