"""Screenshot MLflow's compare view of two runs for the docs: `mlflow ui` on a store, opened in
headless Chromium at the compare page of the two runs.

    python -m fststyle.train --config configs/demo.yaml --logger mlflow --run_name demo_sw5 \\
        --trainer.max_steps 60 --trainer.val_check_interval 30 --model.objective.style_weight 5
    python -m fststyle.train ... --run_name demo_sw20 ... --model.objective.style_weight 20
    python scripts/screenshot_mlflow.py checkpoints/mlflow.db     # -> docs/mlflow_compare.png
    python scripts/screenshot_mlflow.py checkpoints/mlflow.db --runs demo_sw5 demo_sw20 --out x.png

Without --runs it compares the two newest runs of the experiment. Needs Playwright (in
fststyle[dev]) and the system's Chromium (apt-get install chromium).
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from PIL import Image

from fststyle.runtime.browser import FLAGS, find_chromium
from fststyle.tracking.mlflow_client import EXPERIMENT

START_TIMEOUT_S = 120  # mlflow ui on a busy 2-core machine takes ~15 s to answer
PAGE_TIMEOUT_MS = 120_000  # the UI's scripts load slowly on a busy machine
MAX_WIDTH = 1100  # the PNG is scaled down to this width (the docs page is about that wide)
MAX_HEIGHT = 2400  # of the full page, before scaling: the plot, the runs, params, metrics
PLOT_METRIC = ("data/skipped", "final/train/loss")  # the plot's default metric, and ours


def two_runs(store: str, names: list[str] | None, experiment: str) -> tuple[str, list]:
    """(experiment id, the two runs): the named runs, else the two newest."""
    from mlflow import MlflowClient

    client = MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"{store}: no experiment {experiment!r}")
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])
    if names:
        runs = [r for name in names for r in runs if r.info.run_name == name][:len(names)]
    if len(runs) < 2:
        raise SystemExit(f"{store}: fewer than two runs to compare ({names or 'newest'})")
    return found.experiment_id, runs[:2]


def start_ui(store: str) -> tuple[subprocess.Popen, str]:
    """`mlflow ui` on a free localhost port; returns it and its URL once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ui = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store,
                           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)  # its server is a child: stop the group
    url, direct = f"http://127.0.0.1:{port}", urllib.request.build_opener(
        urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and ui.poll() is None:
        try:
            direct.open(f"{url}/health", timeout=2).close()
            return ui, url
        except OSError:
            time.sleep(0.5)
    stop(ui)
    raise SystemExit(f"mlflow ui on {store} did not answer within {START_TIMEOUT_S} s")


def stop(ui: subprocess.Popen) -> None:
    os.killpg(ui.pid, signal.SIGKILL)  # only reads the store: nothing to flush
    ui.wait()


def screenshot(url: str, experiment_id: str, runs: list, out: Path,
               size=(1400, 1500)) -> Path:
    from playwright.sync_api import sync_playwright

    query = urllib.parse.urlencode({"runs": json.dumps([r.info.run_id for r in runs]),
                                    "experiments": json.dumps([experiment_id])})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=FLAGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.goto(f"{url}/#/compare-runs?{query}")
        # The page keeps polling (never network-idle): wait for the runs' names instead.
        for run in runs:
            page.get_by_text(run.info.run_name).first.wait_for()
        tidy(page)
        page.wait_for_timeout(5000)  # the plots draw after their data arrives
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        right = panel_left(page)
        browser.close()
    return shrink(out, right)


def panel_left(page) -> int | None:
    """The x where the assistant panel starts, if it is still open (then it is cropped off)."""
    header = page.get_by_text("MLflow Assistant")
    if not header.count() or not header.first.is_visible():
        return None
    box = header.first.bounding_box()
    return None if box is None else max(1, int(box["x"]) - 24)


def tidy(page) -> None:
    """What the docs should show, best effort (the UI changes between versions): the assistant
    panel closed, only the params that differ, the plot on the final loss."""
    from playwright.sync_api import Error

    groups = [[lambda: page.get_by_text("MLflow Assistant").locator("xpath=../..")
               .get_by_role("button").last.click(timeout=20000)],
              [lambda: page.get_by_text("Show diff only").first.click(timeout=20000)],
              [lambda: page.get_by_text(PLOT_METRIC[0]).first.click(timeout=20000),
               lambda: page.keyboard.press("Backspace"),  # drops the select's only metric
               lambda: page.keyboard.type(PLOT_METRIC[1]),
               lambda: page.keyboard.press("Enter"),
               lambda: page.keyboard.press("Escape")]]
    for steps in groups:  # a failed step skips the rest of its group only
        try:
            for step in steps:
                step()
        except Error as e:
            print(f"screenshot: skipped a tidying step ({str(e).splitlines()[0]})")


def shrink(path: Path, right: int | None = None) -> Path:
    """Crop to MAX_HEIGHT (and `right`), scale to MAX_WIDTH, 256 colours: a small PNG."""
    image = Image.open(path).convert("RGB")
    image = image.crop((0, 0, right or image.width, min(image.height, MAX_HEIGHT)))
    if image.width > MAX_WIDTH:
        image = image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)),
                             Image.LANCZOS)
    image.quantize(256).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", help="the sqlite store (checkpoints/mlflow.db) or a store URI")
    parser.add_argument("--runs", nargs=2, metavar="NAME", help="the two run names")
    parser.add_argument("--experiment", default=EXPERIMENT, help="the experiment's name")
    parser.add_argument("--out", type=Path, default=Path("docs/mlflow_compare.png"))
    opts = parser.parse_args(argv)
    store = opts.store if "://" in opts.store else f"sqlite:///{Path(opts.store).resolve()}"
    experiment_id, runs = two_runs(store, opts.runs, opts.experiment)
    ui, url = start_ui(store)
    try:
        out = screenshot(url, experiment_id, runs, opts.out)
    finally:
        stop(ui)
    print(f"wrote {out} ({out.stat().st_size // 1000} KB)")
    return out


if __name__ == "__main__":
    main()
