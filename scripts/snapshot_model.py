"""Store a training checkpoint's network as a small fp16 model file (a point on a run's curve).

    python scripts/snapshot_model.py checkpoints/zoo/last.ckpt \\
        checkpoints/zoo/curve/step_004200.safetensors
"""

import sys

from fststyle.core.model_file import read_model
from fststyle.core.model_io import load_model, save_model


def main(src: str, dst: str) -> None:
    model = read_model(src)
    extra = dict(model.metadata) if model.kind == "safetensors" else {
        "global_step": model.metadata.get("global_step"), "model": model.hparams}
    save_model(load_model(src), model.styles, dst, extra=extra, half=True)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:])
