"""What `--strength` does, per style: the reference objective's style term (lower is more like
the painting) at each strength on one held-out photo, beside the unstylized photo's, and how
close strength 0 comes to each held-out photo (PSNR). The model card's "Style strength" table.

    python scripts/measure_strength.py
    python scripts/measure_strength.py --model exports/mine.onnx --size 256 \
        --photo skimage_chelsea.png

Needs a model with an `identity` row (fststyle.runtime.styles.with_strength). Prints a
Markdown table, then the PSNR line; --json FILE keeps the numbers.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from fststyle.core.images import to_tensor
from fststyle.core.quantize import psnr
from fststyle.evaluation.objective import measure, objective_from_hparams, reference_hparams
from fststyle.runtime import Stylizer
from fststyle.runtime.imagefiles import IDENTITY, demo_photos, open_rgb
from fststyle.runtime.shipped import shipped_model

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


def style_terms(stylizer: Stylizer, photo, size: int) -> dict[str, list[float]]:
    """{style: [style term at each of STRENGTHS..., the photo's own]}."""
    styles = [s for s in stylizer.styles if s != IDENTITY]
    objective = objective_from_hparams(reference_hparams({"styles": styles}, size))
    content = to_tensor(photo)[None]  # (1, 3, H, W)
    table = {}
    for index, style in enumerate(styles):
        outputs = [stylizer.stylize(photo, style=style, strength=s) for s in STRENGTHS]
        table[style] = [measure(objective, to_tensor(o)[None], content, index)["style"]
                        for o in [*outputs, photo]]
    return table


def psnr_at_zero(stylizer: Stylizer, size: int) -> dict[str, float]:
    """{held-out photo: PSNR (dB) of strength 0 (any style: it is the identity row) to it}."""
    style = next(s for s in stylizer.styles if s != IDENTITY)
    found = {}
    for path in demo_photos("heldout"):
        photo = open_rgb(path, size)
        out = stylizer.stylize(photo, style=style, strength=0.0)
        found[path.name] = psnr(np.asarray(out) / 255, np.asarray(photo) / 255)
    return found


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=None, help="default: the shipped network")
    p.add_argument("--size", type=int, default=256, help="the photos' shorter side")
    p.add_argument("--photo", default="skimage_chelsea.png", help="a bundled held-out photo")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    stylizer = Stylizer(args.model or shipped_model("full"))
    if IDENTITY not in stylizer.styles:
        p.error(f"--model {args.model} has no {IDENTITY} row")
    by_name = {path.name: path for path in demo_photos("heldout")}
    if args.photo not in by_name:
        p.error(f"--photo {args.photo}: one of {sorted(by_name)}")
    terms = style_terms(stylizer, open_rgb(by_name[args.photo], args.size), args.size)
    zero = psnr_at_zero(stylizer, args.size)
    print(f"style term (reference objective) on {args.photo} at {args.size} px")
    print("| style | " + " | ".join(f"{s:g}" for s in STRENGTHS) + " | the photo | monotonic |")
    print("| --- |" + " ---: |" * (len(STRENGTHS) + 1) + " --- |")
    for style, row in terms.items():
        falls = all(a > b for a, b in zip(row[:len(STRENGTHS)], row[1:len(STRENGTHS)]))
        print(f"| {style} | " + " | ".join(f"{v:.3g}" for v in row) + f" | {falls} |")
    print("strength 0 vs the photo: " + ", ".join(f"{k} {v:.1f} dB" for k, v in zero.items()))
    result = {"size": args.size, "photo": args.photo, "strengths": list(STRENGTHS),
              "style_terms": terms, "psnr_at_zero": zero}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
