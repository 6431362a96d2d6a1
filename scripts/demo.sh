#!/usr/bin/env bash
# The main job on a fresh machine: create .venv at the repo root, install fststyle, train the
# 4-style demo network on the bundled photos (~4.5 min on 2 CPU cores), export it to ONNX and
# stylize a held-out photo with every style through the torch-free runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[track]"
py=.venv/bin/python
$py -m fststyle.train --run_name demo --trainer.enable_progress_bar false "$@"
$py -m fststyle.export checkpoints/demo/model.safetensors --out exports/demo.onnx
photo=fststyle/assets/photos/heldout/skimage_chelsea.png
for style in starry_night great_wave udnie the_scream; do
  $py -m fststyle.stylize --model exports/demo.onnx --style "$style" "$photo" \
    --out "exports/chelsea_$style.png"
done
$py -m fststyle.stylize --model exports/demo.onnx --style starry_night=0.5,the_scream=0.5 \
  "$photo" --out exports/chelsea_mix.png
echo "grid: checkpoints/demo/samples/ | model: checkpoints/demo/model.safetensors | onnx: exports/demo.onnx | stylized: exports/chelsea_*.png"
