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
# The web page's onnxruntime-web (fststyle/web/package.json, pinned), from npm; without npm the
# demo runs, only the web page is missing.
if command -v npm >/dev/null; then
  # --ignore-scripts: only dist/ files are served, no install hook needs to run
  npm ci --prefix fststyle/web --ignore-scripts --no-audit --no-fund --loglevel=error ||
    echo "npm ci failed: the web page (python -m fststyle.serve) will be missing" >&2
else
  echo "npm not found: skipping onnxruntime-web for the web page (python -m fststyle.serve)" >&2
fi
# The recipe for this machine (configs/demo.yaml): with bf16 units (AVX512-BF16/AMX CPUs,
# GPUs) batches of 8; without them the fp32 step is ~2x slower, so batches of 4, same steps.
recipe=()
precision=$($py -c "from fststyle.training.trainer import default_precision as p; print(p())")
if [ "$precision" = "32-true" ]; then
  recipe=(--data.batch_size 4)
  echo "demo: no bf16 units here, so fp32 and batches of 4 (half the crops) to keep it short" >&2
fi
$py -m fststyle.train --run_name demo --trainer.enable_progress_bar false "${recipe[@]}" "$@"
$py -m fststyle.export checkpoints/demo/model.safetensors --out exports/demo.onnx
photo=fststyle/assets/photos/heldout/skimage_chelsea.png
for style in starry_night great_wave udnie the_scream; do
  $py -m fststyle.stylize --model exports/demo.onnx --style "$style" "$photo" \
    --out "exports/chelsea_$style.png"
done
$py -m fststyle.stylize --model exports/demo.onnx --style starry_night=0.5,the_scream=0.5 \
  "$photo" --out exports/chelsea_mix.png
echo "grid: checkpoints/demo/samples/ | model: checkpoints/demo/model.safetensors | onnx: exports/demo.onnx | stylized: exports/chelsea_*.png"
echo "in the browser: .venv/bin/python -m fststyle.serve exports/demo.onnx"
