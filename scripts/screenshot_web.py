"""Screenshot the fststyle web page for the docs: the model served by fststyle.serve, opened in
headless Chromium (WASM), the bundled photo stylized with a mix of two styles set on the
sliders.

    python scripts/screenshot_web.py exports/demo.onnx                 # -> docs/web_page.png
    python scripts/screenshot_web.py exports/demo.onnx --mix starry_night=60,udnie=40 --out x.png

Needs what scripts/bench_web.py needs (Playwright, Chromium, onnxruntime-web from npm).
"""

import argparse
import threading
from pathlib import Path

from bench_web import FLAGS, find_chromium

from fststyle.runtime.webserver import make_server, url_of


def screenshot(model: Path, out: Path, mix: dict[str, float] | None, size=(1280, 720)) -> Path:
    from playwright.sync_api import sync_playwright

    server = make_server(model, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=find_chromium(), args=FLAGS)
            page = browser.new_page(viewport={"width": size[0], "height": size[1]})
            page.goto(f"{url_of(server)}?backend=wasm")
            page.evaluate("window.fststyle.ready")
            styles = page.evaluate("window.fststyle.state().styles")
            mix = mix or ({styles[0]: 60, styles[-1]: 40} if len(styles) > 1 else {})
            for name, value in mix.items():  # each slider fires an input event: restylize
                page.locator(f'#mix input[data-style="{name}"]').fill(str(value))
            for name in set(styles) - set(mix):
                page.locator(f'#mix input[data-style="{name}"]').fill("0")
            page.wait_for_function("!window.fststyle.state().busy")
            page.evaluate("document.activeElement.blur()")  # no focus ring on the last slider
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="an exported .onnx model")
    parser.add_argument("--out", type=Path, default=Path("docs/web_page.png"), help="the PNG")
    parser.add_argument("--mix", help="slider values, name=value,... (0-100; default: the "
                                      "first and last styles at 60 and 40)")
    opts = parser.parse_args(argv)
    mix = None
    if opts.mix:
        mix = {k: float(v) for k, _, v in (part.partition("=") for part in opts.mix.split(","))}
    out = screenshot(opts.model, opts.out, mix)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
