"""Store a training checkpoint's network as a small fp16 model file (a point on a run's curve).

    python scripts/snapshot_model.py checkpoints/zoo/last.ckpt \\
        checkpoints/zoo/curve/step_004200.safetensors
"""

import sys

from fststyle.core.model_io import save_half_copy

if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python scripts/snapshot_model.py SRC.ckpt DST.safetensors")
    print(f"wrote {save_half_copy(*sys.argv[1:])}")
