"""The fststyle web page in headless Chromium, for the benches and screenshots under scripts/:
the flags, the system's Chromium, the page served on a model, and timing pages against each
other on the page's own clock (fststyle.runtime.bench's interleaved rounds).

    with served(model) as url, chromium() as browser:
        page = open_page(browser, url, threads=2)
        timings = bench_pages({"model": page}, sizes=[256], rounds=10)  # {256: Timings}

Needs Playwright (`pip install playwright`; it drives the system's Chromium, never a
downloaded one), Chromium and onnxruntime-web (`npm ci --prefix fststyle/web`). Playwright's
sync API runs one instance per process.
"""

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from fststyle.runtime.bench import Timings, interleaved, returned_ms
from fststyle.runtime.webserver import make_server, ort_dist, url_of

# No GPU (WASM is what is measured), no background traffic competing for the CPU.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def find_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise FileNotFoundError("Chromium not found (apt-get install chromium)")
    return found


def ort_web_version() -> str:
    """onnxruntime-web's version, from its package.json beside dist/ ("unknown" without one)."""
    try:
        return json.loads((ort_dist().parent / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def missing() -> str | None:
    """Why the page cannot run here (no Playwright, Chromium or onnxruntime-web), or None."""
    try:
        import playwright  # noqa: F401 -- only to know whether it is installed

        find_chromium(), ort_dist()
    except (ImportError, FileNotFoundError) as e:
        return str(e)
    return None


@contextmanager
def served(model: str | Path, photo: str | Path | None = None) -> Iterator[str]:
    """The page's URL, served on `model` (and `photo`: fststyle.runtime.webserver) on a free
    port until the block ends."""
    server = make_server(model, port=0, photo=photo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with server:  # closes the socket on the way out, after shutdown stops the loop
        try:
            yield url_of(server)
        finally:
            server.shutdown()


@contextmanager
def chromium(executable: str | None = None):
    """A headless Chromium (Playwright's Browser) with FLAGS, closed when the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:  # stopping Playwright closes the browsers it launched
        yield p.chromium.launch(executable_path=executable or find_chromium(), args=FLAGS)


def open_page(browser, url: str, backend: str = "wasm", threads: int | None = None,
              viewport: tuple[int, int] | None = None):
    """A new page at `url`, ready: its model loaded on `backend` (WASM threads are fixed per
    page load, so one page per thread count)."""
    size = {"width": viewport[0], "height": viewport[1]} if viewport else None
    page = browser.new_page(viewport=size)
    page.goto(f"{url}?backend={backend}" + (f"&threads={threads}" if threads else ""))
    page.evaluate("window.fststyle.ready")
    return page


def page_ms(page, size: int) -> float:
    """One session.run at size x size on the page's clock (its bench hook, no warm-up)."""
    return page.evaluate("(s) => window.fststyle.bench(s, 1, 0)", size)["ms"]


def bench_pages(pages: dict, sizes, rounds: int, warmup: int = 2) -> dict[int, Timings]:
    """{size: Timings of every page}: interleaved rounds per square size, each timed run after
    one untimed run (the previous page's onnxruntime thread pool spins a while after it)."""
    return {size: interleaved({name: partial(page_ms, page, size) for name, page in
                               pages.items()}, rounds, warmup, settle=1, measure=returned_ms)
            for size in sizes}
