"""Photos of any size (`fststyle.stylize --tile`, fststyle.runtime.tiles): the peak memory (RSS)
of stylizing a large photo in tiles against a whole photo that still fits, and how far the
tiled result is from the whole one on a photo that fits both ways, with a crop across tile
borders for the docs.

    python scripts/bench_tiles.py                                  # the shipped network
    python scripts/bench_tiles.py --model exports/demo.onnx --size 6000x4000 --tile 512 \\
        --crop docs/tiles_seam.jpg --json tiles.json

Each stylize runs in its own process (`python -m fststyle.stylize`), so its peak resident
memory (the child's ru_maxrss, from os.wait4) is its own. The large photo is a held-out photo
upscaled to --size (Lanczos): its content does not change the memory.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fststyle.evaluation.yardstick import export_reference
from fststyle.runtime import Stylizer
from fststyle.runtime.bench import header, parse_size
from fststyle.runtime.frames import session_options
from fststyle.runtime.imagefiles import demo_photos, open_rgb, save_image
from fststyle.runtime.shipped import shipped_model
from fststyle.runtime.styles import style_weights
from fststyle.runtime.tiles import (
    AUTO_PIXELS,
    OVERLAP,
    THUMBNAIL,
    TiledSessions,
    starts,
    stylize_tiled,
)
from fststyle.runtime.tiles_exact import EXACT_NORMS


def peak_run(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of `python -m fststyle.stylize ARGS` in a child process: its
    own ru_maxrss, from os.wait4 on that child."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "fststyle.stylize", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise RuntimeError(f"fststyle.stylize {' '.join(args)}: {err[-500:]}")
    return usage.ru_maxrss / 1024, seconds


def memory_rows(model: Path, style: str, sizes: list[tuple[int, int]], tile: int,
                folder: Path) -> list[dict]:
    """One row per (size, mode): peak MB and seconds, the smallest runs first; the reference
    network (fststyle.evaluation.yardstick, whole) is the yardstick at the sizes that fit."""
    photo = open_rgb(demo_photos("heldout")[1])
    reference = export_reference(folder / "reference.onnx")
    rows = []
    for (width, height), mode in [(s, m) for s in sizes
                                  for m in ("reference", "whole", "tiled")]:
        src = folder / f"{width}x{height}.jpg"
        if not src.exists():
            save_image(photo.resize((width, height), Image.LANCZOS), src, jpeg_quality=90)
        if mode != "tiled" and width * height > 2_500_000:
            continue  # several GB: only tiles are meant to run at this size
        net = ["--model", str(reference)] if mode == "reference" else [
            "--model", str(model), "--style", style]
        option = ["--tile", str(tile if mode == "tiled" else 0)]
        mb, seconds = peak_run([str(src), *net, *option,
                                "--out", str(folder / f"out_{mode}_{width}x{height}.jpg")])
        rows.append({"size": f"{width}x{height}", "mode": mode, "peak_mb": round(mb),
                     "seconds": round(seconds, 1)})
        print(f"| {width}×{height} | {mode} | {mb:.0f} MB | {seconds:.1f} s |", flush=True)
    return rows


def agreement(model: Path, style: str, tile: int, crop: Path | None,
              pixels: int = AUTO_PIXELS, thumbnail: int = THUMBNAIL) -> dict:
    """Tiled against whole on a held-out photo upscaled to `pixels` (default: the largest photo
    stylize runs whole, so every photo that runs both ways is this close or closer to its
    thumbnail): the difference holds the tiles' borders and, above `thumbnail` pixels, the
    thumbnail's statistics standing in for the whole photo's, with the first norms' made exact
    (as stylize runs) and without (`thumbnail_only`)."""
    stylizer = Stylizer(model)
    source = open_rgb(demo_photos("heldout")[1])
    width = int(math.sqrt(pixels * source.width / source.height))
    photo = np.asarray(source.resize((width, round(width * source.height / source.width)),
                                     Image.LANCZOS))
    whole = stylizer.stylize(photo, style=style, tile=0)
    sessions = TiledSessions(model, session_options(), ["CPUExecutionProvider"])
    feed = stylizer.style_feed(style_weights(style, stylizer.styles))
    found = {"photo": list(photo.shape[:2]), "tile": tile, "thumbnail": thumbnail}
    for exact, key in ((0, "thumbnail_only"), (EXACT_NORMS, None)):
        tiled = stylize_tiled(sessions, photo, feed, stylizer.min_size, stylizer.stride, tile,
                              thumbnail=thumbnail, exact_norms=exact)
        diff = np.abs(whole.astype(np.float32) - tiled)
        row = {"mean_abs_diff": float(diff.mean()), "max_abs_diff": float(diff.max()),
               "p99_abs_diff": float(np.percentile(diff, 99))}
        found.update(row) if key is None else found.update({key: row})
        print(f"tiled vs whole at {photo.shape[1]}×{photo.shape[0]}, tiles of {tile} px, the "
              f"first {exact} norms exact: mean |diff| {row['mean_abs_diff']:.2f}/255, 99th "
              f"percentile {row['p99_abs_diff']:.0f}/255, max {row['max_abs_diff']:.0f}/255")
    if crop is not None:
        write_crop(whole, tiled, tile, stylizer.stride, crop)
    return found


def write_crop(whole: np.ndarray, tiled: np.ndarray, tile: int, stride: int, out: Path) -> None:
    """A 256-px crop centred on the first tile corner: whole | tiled | 8x |difference|."""
    y = starts(whole.shape[0], tile, OVERLAP, stride)[1][0] + OVERLAP // 2  # in the 1st overlap
    x = starts(whole.shape[1], tile, OVERLAP, stride)[1][0] + OVERLAP // 2
    box = (slice(max(0, y - 128), y + 128), slice(max(0, x - 128), x + 128))
    diff = np.clip(np.abs(whole[box].astype(np.int16) - tiled[box]) * 8, 0, 255)
    strip = np.concatenate([whole[box], tiled[box], diff.astype(np.uint8)], axis=1)
    save_image(Image.fromarray(strip), out, jpeg_quality=90)
    print(f"wrote {out}: whole | tiled | 8x |difference|, around a tile corner")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=None, help=".onnx (default: the shipped one)")
    p.add_argument("--style", default="starry_night")
    p.add_argument("--size", type=parse_size, default=(6000, 4000), help="the large photo, WxH")
    p.add_argument("--whole-sizes", type=parse_size, nargs="*", default=[(1280, 720),
                                                                         (1920, 1080)])
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--crop", type=Path, help="write the seam crop here (a .jpg)")
    p.add_argument("--agreement-pixels", type=int, default=AUTO_PIXELS,
                   help="the tiled-vs-whole photo's size (default: the largest run whole)")
    p.add_argument("--thumbnail", type=int, default=THUMBNAIL,
                   help="the statistics' thumbnail in pixels, for the agreement")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    model = args.model or shipped_model("full")
    print(header())
    print("| photo | mode | peak RSS | time |\n| --- | --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        rows = memory_rows(model, args.style, [*args.whole_sizes, args.size], args.tile,
                           Path(tmp))
    result = {"model": str(model), "memory": rows,
              "agreement": agreement(model, args.style, args.tile, args.crop,
                                   args.agreement_pixels, args.thumbnail)}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
