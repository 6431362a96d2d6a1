"""Run an exported model in the browser: serve the fststyle web page for it on localhost.

    python -m fststyle.serve                                    # a shipped model (runtime.shipped)
    python -m fststyle.serve exports/demo.onnx                  # opens the page in a browser
    python -m fststyle.serve exports/demo.onnx --port 8000 --no-browser
    python -m fststyle.serve exports/udnie.onnx --host 0.0.0.0 --photo photo.jpg

The page runs the model with onnxruntime-web (WASM, or WebGPU where the browser has it) on a
photo or the webcam, with the model's styles as buttons and mixing sliders (docs/web.md).
onnxruntime-web comes from npm (`npm ci --prefix fststyle/web`; scripts/test.sh and
scripts/demo.sh run it). Torch-free: the server is fststyle.runtime.webserver. Ctrl-C stops it.
"""

import argparse
import webbrowser
from pathlib import Path

from fststyle.cli import run_cli
from fststyle.runtime.shipped import web_model
from fststyle.runtime.webserver import make_server, url_of


def main(args: list[str] | None = None) -> None:
    """Serve until interrupted; a bad model, photo or missing onnxruntime-web raises first."""
    parser = argparse.ArgumentParser(prog="python -m fststyle.serve",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, nargs="?",
                        help="an exported .onnx model (fststyle.export; default: the shipped "
                             "real-time student, else the shipped full network)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument("--photo", type=Path, help="the page's default photo (a bundled one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    opts = parser.parse_args(args)
    opts.model = opts.model or web_model()
    try:
        server = make_server(opts.model, opts.host, opts.port, opts.photo)
    except FileNotFoundError:
        raise  # the model, the photo or onnxruntime-web: run_cli reports it
    except OSError as e:  # the port is taken, the address is not this machine's
        raise ValueError(f"cannot listen on {opts.host}:{opts.port} ({e.strerror})") from None
    url = url_of(server)
    print(f"serving {opts.model} at {url}", flush=True)
    if not opts.no_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def cli(argv: list[str] | None = None) -> None:
    """`main` under the CLI convention (fststyle.cli): a bad model or option exits 2."""
    run_cli("serve", main, argv)


if __name__ == "__main__":
    cli()
