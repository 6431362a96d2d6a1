#!/usr/bin/env bash
# The main job on a fresh machine: create .venv at the repo root, install fststyle, stylize a
# held-out photo with the shipped 11-style network (seconds), then add a style to that network
# in a time budget (2.5 min), export it to ONNX and stylize with it through the torch-free
# runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[track]"
py=.venv/bin/python
# The web page's onnxruntime-web (fststyle/web/package.json, pinned), from npm; without npm the
# demo runs, only the web page is missing.
if command -v npm >/dev/null; then
  # --ignore-scripts: only dist/ files are served, no install hook needs to run
  npm ci --prefix fststyle/web --ignore-scripts --no-audit --no-fund --loglevel=error ||
    echo "npm ci failed: the web page (python -m fststyle.serve) will be missing" >&2
else
  echo "npm not found: skipping onnxruntime-web for the web page (python -m fststyle.serve)" >&2
fi
photo=fststyle/assets/photos/heldout/skimage_chelsea.png
mkdir -p exports
# 1. The shipped 11-style network (fststyle/models): seconds, no training.
$py -m fststyle.stylize "$photo" --style starry_night --out exports/chelsea_starry_night.jpg
$py -m fststyle.stylize "$photo" --style the_scream --strength 0.5 \
  --out exports/chelsea_the_scream_half.jpg
# 2. A painting the shipped network never saw, added to it: its (gamma, beta) rows only
# (configs/add_style.yaml), in a time budget that fits a 2-core CPU of either class. By
# default the bundled cafe_terrace (Van Gogh, Cafe Terrace at Night); STYLE=my_painting.jpg
# adds yours. BUDGET is Lightning's DD:HH:MM:SS.
style=${STYLE:-cafe_terrace}
budget=${BUDGET:-00:00:02:30}
echo "demo: adding $style to the shipped network, time budget $budget" >&2
$py -m fststyle.train --config configs/add_style.yaml --model.styles+="$style" \
  --trainer.max_time "$budget" --trainer.enable_progress_bar false "$@"
$py -m fststyle.export checkpoints/added/model.safetensors --out exports/added.onnx
name=$(basename "${style%.*}")
$py -m fststyle.stylize --model exports/added.onnx --style "$name" "$photo" \
  --out "exports/chelsea_$name.jpg"
echo "shipped: exports/chelsea_starry_night.jpg, exports/chelsea_the_scream_half.jpg | added: exports/chelsea_$name.jpg (model exports/added.onnx) | from scratch: python -m fststyle.train --config configs/demo.yaml"
echo "in the browser: .venv/bin/python -m fststyle.serve"
