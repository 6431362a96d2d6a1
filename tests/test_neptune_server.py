"""Tracking against a Neptune server that is not there or not working: unreachable
(127.0.0.1:9, nothing else is contacted), silent, behind a failing proxy, refusing the run; each
goes offline within the probe's timeout or fails with one clear message."""

import base64
import http.server
import json
import os
import socket
import threading
import time

import pytest

from fststyle.tracking.artifacts import log_artifact_to_run
from fststyle.tracking.neptune_logger import NeptuneLogger
from fststyle.tracking.server_probe import PROBE_TIMEOUT_S
from fststyle.train import main

from helpers import FAKE_TOKEN, tiny_args

pytestmark = pytest.mark.usefixtures("no_neptune_env")


def test_unreachable_server_goes_offline_within_timeout(tmp_path, photo_dir, style_files,
                                                        capsys, monkeypatch):
    """Documented bound: the probe gives up after PROBE_TIMEOUT_S (5 s), where the client
    alone would retry for 60 s. Timed: the Neptune run's start, not the (load-dependent)
    training around it; 30 s leaves room for a busy machine."""
    monkeypatch.setenv("NEPTUNE_API_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("NEPTUNE_PROJECT", "team/proj")
    took, start_run = [], NeptuneLogger._start

    def timed_start(self):
        begin = time.monotonic()
        try:
            return start_run(self)
        finally:
            took.append(time.monotonic() - begin)

    monkeypatch.setattr(NeptuneLogger, "_start", timed_start)
    model = main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "down",
                           "--logger", "neptune", "--trainer.max_steps", "2"))
    assert len(took) == 1 and took[0] < 30 and PROBE_TIMEOUT_S <= 10
    assert "no working server at http://127.0.0.1:9" in capsys.readouterr().err
    assert json.loads((model.parent / "neptune.json").read_text())["mode"] == "offline"
    assert list((model.parent / ".neptune" / "offline").glob("run__*"))


def test_silent_server_goes_offline_after_probe_timeout(tmp_path, capsys, monkeypatch):
    """A server that takes the connection but never answers (a socket nobody accepts on)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("NEPTUNE_API_TOKEN", base64.b64encode(json.dumps(
            {"api_address": url, "api_key": "x"}).encode()).decode())
        logger = NeptuneLogger(tmp_path, "r", project="team/proj", probe_timeout=1.0)
        assert logger.mode == "async"
        start = time.monotonic()
        logger.log_metrics({"train/loss": 1.0}, step=0)
        assert time.monotonic() - start < 30 and logger.mode == "offline"
        logger.close()
    assert f"no working server at {url} (no answer within 1 s" in capsys.readouterr().err


def http_server(status: int) -> http.server.ThreadingHTTPServer:
    """A server on 127.0.0.1 that answers every request with `status`."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def token_for(server, monkeypatch) -> str:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("NEPTUNE_API_TOKEN", base64.b64encode(json.dumps(
        {"api_address": url, "api_key": "x"}).encode()).decode())
    return url


def test_server_behind_a_failing_proxy_goes_offline(tmp_path, capsys, monkeypatch):
    server = http_server(503)  # a reverse proxy whose Neptune server is down
    url = token_for(server, monkeypatch)
    try:
        logger = NeptuneLogger(tmp_path, "r", project="team/proj")
        start = time.monotonic()
        logger.log_metrics({"train/loss": 1.0}, step=0)  # the client alone: 60 s of retries
        assert time.monotonic() - start < 30 and logger.mode == "offline"
        logger.close()
    finally:
        server.shutdown()
    assert f"no working server at {url}" in capsys.readouterr().err


def test_server_refusing_the_run_fails_with_a_clear_message(tmp_path, monkeypatch):
    server = http_server(404)  # answers, but is no Neptune server (or the project is wrong)
    url = token_for(server, monkeypatch)
    try:
        logger = NeptuneLogger(tmp_path, "r", project="team/proj")
        with pytest.raises(ValueError, match=f"could not start a run on {url} in project "
                                             "team/proj .check NEPTUNE_API_TOKEN"):
            logger.log_metrics({"train/loss": 1.0}, step=0)
    finally:
        server.shutdown()
    assert "NEPTUNE_DATA_DIRECTORY" not in os.environ  # put back as it was


def test_artifact_upload_to_an_unreachable_server_keeps_a_local_copy(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setenv("NEPTUNE_API_TOKEN", FAKE_TOKEN)
    (tmp_path / "neptune.json").write_text(json.dumps(
        {"mode": "async", "project": "team/proj", "id": "PROJ-1",
         "data_dir": str(tmp_path / ".neptune")}))
    (tmp_path / "report.txt").write_text("numbers")
    start = time.monotonic()
    copy = log_artifact_to_run(tmp_path, tmp_path / "report.txt", name="evaluation")
    assert time.monotonic() - start < 30
    assert copy == tmp_path / "artifacts" / "report.txt" and copy.read_text() == "numbers"
    assert "no working server at http://127.0.0.1:9" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no file at"):
        log_artifact_to_run(tmp_path, tmp_path / "missing.onnx")
