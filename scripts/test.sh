#!/usr/bin/env bash
# Create (or update) .venv at the repo root, install fststyle with its test extras, run the
# tests: offline, CPU only, ~10 min on 2 cores. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
exec .venv/bin/python -m pytest "$@"
