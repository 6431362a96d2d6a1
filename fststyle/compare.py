"""Put training runs side by side in one self-contained HTML page; no server needed.

    python -m fststyle.compare checkpoints/run_a checkpoints/run_b --out report.html
    python -m fststyle.compare checkpoints/* --out all.html --metrics val/loss train/style \\
        --all_params --logy --title "style weight sweep"

Reads each run folder's local record (config.yaml, environment.json, metrics.csv,
final_metrics.json, samples/) and writes one page: a table of the hyperparameters that differ
between the runs (all of them with --all_params; code version and hardware included) and the
final metrics, one plot per metric with every run on the same axes, and each run's latest sample
grid cut per style. Images are inlined as base64 PNGs, so the page can be mailed or attached as
it is. This is the comparison the Neptune dashboard used to give.
"""

import argparse
import sys
from pathlib import Path

from fststyle.cli import run_cli
from fststyle.runtime.atomic import atomic_path
from fststyle.tracking.compare_page import labels, load_run, pick_metrics, report


def main(args: list[str] | None = None) -> Path:
    """Write the comparison page; return its path."""
    parser = argparse.ArgumentParser(prog="python -m fststyle.compare",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (checkpoints/<run>)")
    parser.add_argument("--out", type=Path, default=Path("compare.html"), help="the HTML page")
    parser.add_argument("--metrics", nargs="+", help="metrics to plot (default: every *loss*)")
    parser.add_argument("--all_params", action="store_true",
                        help="list every hyperparameter, not only those that differ")
    parser.add_argument("--logy", action="store_true", help="log-scale y axes")
    parser.add_argument("--title", default="fststyle runs", help="page title")
    opts = parser.parse_args(args)
    runs = [load_run(p, label) for p, label in zip(opts.runs, labels(opts.runs))]
    page = report(runs, pick_metrics(runs, opts.metrics), opts.all_params, opts.logy, opts.title)
    with atomic_path(opts.out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    print(f"compare: {len(runs)} runs -> {opts.out}", file=sys.stderr)
    return opts.out


def cli(argv: list[str] | None = None) -> Path:
    """`main` under the CLI convention (fststyle.cli): a bad run folder or option exits 2."""
    return run_cli("compare", main, argv)


if __name__ == "__main__":
    cli()
