"""Browser inference speed: an exported model on onnxruntime-web's WASM backend in headless
Chromium (the fststyle web page's bench hook), batch 1, median of --runs timed runs of
session.run after 2 untimed ones, for each WASM thread count.

    python scripts/bench_web.py exports/demo.onnx        # 256² and 512², 2 and 1 threads
    python scripts/bench_web.py exports/demo.onnx --sizes 256 --runs 20 --threads 2 --json web.json

From another script (scripts/bench_inference.py adds a browser row this way):

    from bench_web import bench_browser
    rows = bench_browser("exports/demo.onnx", sizes=[256, 512], runs=10)  # [{"size": 256, ...}]

Needs Playwright (`pip install playwright`; it drives the system's Chromium, never a
downloaded one), Chromium and onnxruntime-web (`npm ci --prefix fststyle/web`).
"""

import argparse
import json
import shutil
import sys
import threading
from pathlib import Path

from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.webserver import make_server, url_of

# No GPU (WASM is what is measured), no background traffic competing for the CPU.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def find_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise FileNotFoundError("Chromium not found (apt-get install chromium)")
    return found


def bench_browser(model_path, sizes=(256, 512), runs: int = 10, threads=(2, 1),
                  backend: str = "wasm", executable: str | None = None) -> list[dict]:
    """One dict per (threads, size): size, threads, backend, runs, ms (median), fps, browser."""
    from playwright.sync_api import sync_playwright

    server = make_server(model_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable or find_chromium(),
                                        args=FLAGS)
            for n in threads:  # WASM threads are fixed per page load: one page per count
                page = browser.new_page()
                page.goto(f"{url_of(server)}?backend={backend}&threads={n}")
                page.evaluate("window.fststyle.ready")
                state = page.evaluate("window.fststyle.state()")
                for size in sizes:
                    row = page.evaluate("([s, r]) => window.fststyle.bench(s, r, 2)", [size, runs])
                    rows.append({**row, "threads": state["threads"], "backend": state["backend"],
                                 "browser": f"Chromium {browser.version}"})
                page.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="an exported .onnx model")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512],
                        help="square input sizes, px")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per size")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1],
                        help="WASM thread counts")
    parser.add_argument("--backend", default="wasm", choices=["wasm", "webgpu"],
                        help="webgpu falls back to wasm where the browser has no adapter")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    opts = parser.parse_args(argv)
    rows = bench_browser(opts.model, opts.sizes, opts.runs, opts.threads, opts.backend)
    print(f"{rows[0]['browser']}, onnxruntime-web, {opts.model}", file=sys.stderr)
    print("| backend | threads | size | ms | fps |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['backend']} | {r['threads']} | {r['size']}² | {r['ms']:.1f} | "
              f"{r['fps']:.1f} |")
    if opts.json:
        with atomic_path(opts.json) as tmp:
            tmp.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
