"""Browser inference speed: an exported model on onnxruntime-web's WASM backend in headless
Chromium (the fststyle web page's bench hook, session.run on the page's clock), batch 1, for
each WASM thread count, beside the reference network (fststyle.evaluation.yardstick) on the
same page as a yardstick.

    python scripts/bench_web.py exports/demo.onnx        # 256² and 512², 2 and 1 threads
    python scripts/bench_web.py exports/demo.onnx --sizes 256 --runs 20 --threads 2 --json web.json

Per size, 2 untimed rounds, then --runs rounds that time every page (the model and the
reference, at each thread count) once each, in turn (fststyle.runtime.bench): each row is the
model's median over the rounds, beside the reference's and the median of the per-round ratios
model / reference. Needs Playwright (`pip install playwright`; it drives the system's Chromium,
never a downloaded one), Chromium and onnxruntime-web (`npm ci --prefix fststyle/web`).
"""

import argparse
import json
import tempfile
from contextlib import ExitStack
from pathlib import Path

from fststyle.evaluation.yardstick import export_reference
from fststyle.runtime import browser
from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.bench import header


def open_pages(stack: ExitStack, chromium, models: dict[str, Path], threads, backend) -> dict:
    """{(name, threads): a ready page} for every model and thread count."""
    urls = {name: stack.enter_context(browser.served(path)) for name, path in models.items()}
    return {(name, n): browser.open_page(chromium, url, backend, n)
            for n in threads for name, url in urls.items()}


def bench_browser(model, sizes=(256, 512), runs: int = 10, threads=(2, 1),
                  backend: str = "wasm", executable: str | None = None) -> list[dict]:
    """One dict per (threads, size): size, threads, backend, runs, ms (median), fps, browser,
    reference_ms (median), vs_reference (median of per-round ratios)."""
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        models = {"model": Path(model),
                  "reference": export_reference(Path(folder) / "reference.onnx")}
        chromium = stack.enter_context(browser.chromium(executable))
        pages = open_pages(stack, chromium, models, threads, backend)
        timed = browser.bench_pages({f"{name} {n}": page for (name, n), page in pages.items()},
                                    sizes, runs)
        rows = []
        for n in threads:
            state = pages["model", n].evaluate("window.fststyle.state()")
            for size in sizes:
                t, ms = timed[size], timed[size].median(f"model {n}")
                rows.append({"size": size, "threads": state["threads"],
                             "backend": state["backend"], "runs": runs, "ms": ms,
                             "fps": 1e3 / ms, "browser": f"Chromium {chromium.version}",
                             "reference_ms": t.median(f"reference {n}"),
                             "vs_reference": t.ratio(f"model {n}", f"reference {n}")})
        return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="an exported .onnx model")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512],
                        help="square input sizes, px")
    parser.add_argument("--runs", type=int, default=10, help="timed rounds per size")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1],
                        help="WASM thread counts")
    parser.add_argument("--backend", default="wasm", choices=["wasm", "webgpu"],
                        help="webgpu falls back to wasm where the browser has no adapter")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    opts = parser.parse_args(argv)
    rows = bench_browser(opts.model, opts.sizes, opts.runs, opts.threads, opts.backend)
    print(header(**{"onnxruntime-web": browser.ort_web_version()}),
          f"{rows[0]['browser']}, {opts.model}", sep="\n")
    print("| backend | threads | size | ms | fps | reference ms | model / reference |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['backend']} | {r['threads']} | {r['size']}² | {r['ms']:.1f} | "
              f"{r['fps']:.1f} | {r['reference_ms']:.1f} | {r['vs_reference']:.2f}x |")
    if opts.json:
        with atomic_path(opts.json) as tmp:
            tmp.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
