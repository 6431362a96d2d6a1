#!/usr/bin/env bash
# Create (or update) .venv at the repo root, install fststyle with its test extras, run the
# tests: offline, CPU only, ~10 min on 2 cores. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
# The web page's onnxruntime-web (fststyle/web/package.json, pinned), from npm; without npm the
# rest works and the browser tests skip, saying why.
if command -v npm >/dev/null; then
  # --ignore-scripts: only dist/ files are served, no install hook needs to run
  npm ci --prefix fststyle/web --ignore-scripts --no-audit --no-fund --loglevel=error ||
    echo "npm ci failed: the web page (python -m fststyle.serve) will be missing" >&2
else
  echo "npm not found: skipping onnxruntime-web for the web page (python -m fststyle.serve)" >&2
fi
exec .venv/bin/python -m pytest "$@"
