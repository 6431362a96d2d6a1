"""Screenshot the fststyle web page for the docs: the model served by fststyle.serve, opened in
headless Chromium (WASM), the bundled photo stylized with a mix of two styles set on the
sliders.

    python scripts/screenshot_web.py exports/demo.onnx                 # -> docs/web_page.png
    python scripts/screenshot_web.py exports/demo.onnx --mix starry_night=60,udnie=40 --out x.png

Needs Playwright, Chromium and onnxruntime-web from npm (fststyle.runtime.browser).
"""

import argparse
from pathlib import Path

from fststyle.runtime.browser import chromium, open_page, served


def screenshot(model: Path, out: Path, mix: dict[str, float] | None, size=(1280, 720)) -> Path:
    with served(model) as url, chromium() as browser:
        page = open_page(browser, url, "wasm", viewport=size)
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
