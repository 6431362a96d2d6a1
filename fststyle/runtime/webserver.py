"""Serve the fststyle web page on localhost: the page (fststyle/web/), onnxruntime-web's dist
files and one exported model, with the headers WebAssembly threads need. Standard library and
the torch-free Stylizer only; `python -m fststyle.serve` is the entry point.

Routes:
    /, /app.js, ...   the page's own files (fststyle/web/*.html, *.js, *.css)
    /ort/<file>       node_modules/onnxruntime-web/dist/<file> (npm installs it, pinned)
    /model.onnx       the model, as it is on disk
    /model.json       its styles, inputs and metadata_props: onnxruntime-web exposes input
                      shapes but not an ONNX model's custom metadata, so the server reads them
                      with onnxruntime's Python API
    /photo            a bundled held-out photo, the page's default input
"""

import io
import json
import mimetypes
import os
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from fststyle.runtime.imagefiles import demo_photos
from fststyle.runtime.stylizer import Stylizer

WEB = Path(__file__).parents[1] / "web"
PAGE_FILES = {".html", ".js", ".css", ".png", ".svg"}
ORT_VERSION = "1.30.0"  # the version pinned in fststyle/web/package.json
INSTALL_HINT = ("install it with `npm ci --prefix fststyle/web` (scripts/test.sh and "
                "scripts/demo.sh do it when npm is present), or point FSTSTYLE_ORT_DIST at an "
                f"onnxruntime-web {ORT_VERSION} dist/ folder")
# Cross-origin isolation: without both headers the browser withholds SharedArrayBuffer and
# onnxruntime-web silently drops to one WASM thread (https://web.dev/articles/coop-coep).
ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin",
             "Cross-Origin-Embedder-Policy": "require-corp",
             "Cross-Origin-Resource-Policy": "same-origin"}
# Browsers compile WebAssembly as it streams in only when it arrives as application/wasm, and
# load module workers (.mjs) only with a JavaScript type; mimetypes knows neither everywhere.
TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
         ".onnx": "application/octet-stream", ".json": "application/json",
         ".html": "text/html; charset=utf-8", ".css": "text/css", ".map": "application/json"}


def ort_dist() -> Path:
    """onnxruntime-web's dist/ folder: $FSTSTYLE_ORT_DIST, else fststyle/web/node_modules."""
    env = os.environ.get("FSTSTYLE_ORT_DIST")
    dist = Path(env) if env else WEB / "node_modules" / "onnxruntime-web" / "dist"
    if not (dist / "ort.min.mjs").is_file():
        raise FileNotFoundError(f"onnxruntime-web not found at {dist}: {INSTALL_HINT}")
    return dist


def model_info(path: Path) -> dict:
    """What the page needs to know about the model: /model.json. A bad file raises here."""
    stylizer = Stylizer(path, providers=["CPUExecutionProvider"])
    inputs = {i.name: [d if isinstance(d, int) else str(d) for d in i.shape]
              for i in stylizer.session.get_inputs()}
    return {"name": path.name, "styles": stylizer.styles, "baked": stylizer.baked,
            "spatial": stylizer.spatial, "inputs": inputs, "metadata": stylizer.metadata}


class Handler(SimpleHTTPRequestHandler):
    """GET and HEAD from a fixed table of files; no directory listings, nothing outside it."""

    def __init__(self, *args, routes: dict, ort: Path, info: bytes, **kwargs):
        self.routes, self.ort, self.info = routes, ort, info
        super().__init__(*args, directory=str(WEB), **kwargs)

    def translate_path(self, path: str) -> str:
        """URL -> file; "" (a 404) for anything not served, so `..` and listings never work."""
        route = unquote(urlsplit(path).path)
        if route == "/":
            route = "/index.html"
        if route in self.routes:
            return str(self.routes[route])
        name = route.rpartition("/")[2]
        if route == f"/ort/{name}" and (self.ort / name).is_file():
            return str(self.ort / name)
        if route == f"/{name}" and Path(name).suffix in PAGE_FILES and (WEB / name).is_file():
            return str(WEB / name)
        return ""

    def send_head(self):
        if urlsplit(self.path).path == "/model.json":  # made in memory, not a file
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", TYPES[".json"])
            self.send_header("Content-Length", str(len(self.info)))
            self.end_headers()
            return io.BytesIO(self.info)
        if not self.translate_path(self.path):
            self.send_error(HTTPStatus.NOT_FOUND, "not served")
            return None
        return super().send_head()

    def guess_type(self, path) -> str:
        return TYPES.get(Path(path).suffix) or mimetypes.guess_type(path)[0] or "text/plain"

    def end_headers(self):
        for name, value in ISOLATION.items():
            self.send_header(name, value)
        # The model and the page change between runs of the server; the ORT files do not.
        self.send_header("Cache-Control", "max-age=86400" if "/ort/" in self.path else "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # quiet unless asked: tests and benches hit it a lot
        if os.environ.get("FSTSTYLE_SERVE_LOG"):
            super().log_message(format, *args)


def make_server(model: str | Path, host: str = "127.0.0.1", port: int = 0,
                photo: str | Path | None = None) -> ThreadingHTTPServer:
    """A server for `model` (not started: call serve_forever). Port 0 picks a free port."""
    model = Path(model)
    info = model_info(model)  # before anything binds: a bad model fails here, by name
    dist = ort_dist()
    photo = Path(photo) if photo else demo_photos("heldout")[0]
    if not photo.is_file():
        raise FileNotFoundError(f"photo not found: {photo}")
    routes = {"/model.onnx": model, "/photo": photo}
    handler = partial(Handler, routes=routes, ort=dist, info=json.dumps(info).encode())
    server = ThreadingHTTPServer((host, port), handler)
    server.model_info = info
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"
