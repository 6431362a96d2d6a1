"""Compare the network objective of two evaluation reports, per style: how far recipe A's
model is from recipe B's on the same photos (e.g. bf16 vs fp32 training).

    python scripts/compare_reports.py eval/demo_bf16/report.json eval/demo_fp32/report.json

Both reports must come from `python -m fststyle.evaluate` at the same --size, on the same
photos and styles (the teacher is not used here: --teacher-steps 1 is enough). Prints a
Markdown table of the per-style median network objectives and the overall mean, and last
`difference: <percent>` (A's mean relative to B's; negative: A is lower, i.e. better).
"""

import argparse
import json
import statistics


def network_totals(report: dict) -> dict[tuple[str, str], float]:
    """{(style, photo file): the network output's weighted objective}."""
    return {(style, image["file"]): image["network"]["total"]
            for style, entry in report["styles"].items() for image in entry["images"]}


def load(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{path}: not a readable evaluation report.json ({e})")


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a", help="report.json of recipe A")
    p.add_argument("b", help="report.json of recipe B (the reference)")
    args = p.parse_args(argv)
    ra, rb = load(args.a), load(args.b)
    if ra["size"] != rb["size"]:
        raise SystemExit(f"the reports were measured at different --size: {ra['size']} vs "
                         f"{rb['size']}")
    a, b = network_totals(ra), network_totals(rb)
    if a.keys() != b.keys():
        raise SystemExit(f"{args.a} and {args.b} cover different (style, photo) pairs")
    print("| style | A | B | A / B − 1 |\n| --- | ---: | ---: | ---: |")
    for style in dict.fromkeys(s for s, _ in a):
        ma = statistics.median(v for (s, _), v in a.items() if s == style)
        mb = statistics.median(v for (s, _), v in b.items() if s == style)
        print(f"| {style} | {ma:.4g} | {mb:.4g} | {100 * (ma / mb - 1):+.1f}% |")
    mean_a, mean_b = statistics.mean(a.values()), statistics.mean(b.values())
    difference = 100 * (mean_a / mean_b - 1)
    print(f"| **mean of all {len(a)} pairs** | {mean_a:.4g} | {mean_b:.4g} | "
          f"**{difference:+.1f}%** |")
    print(f"difference: {difference:+.2f}%")
    return difference


if __name__ == "__main__":
    main()
