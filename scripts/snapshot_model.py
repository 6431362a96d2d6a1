"""Store a training checkpoint's network as a small fp16 model file (a point on a run's curve),
or a model without some of its style rows (the base for retraining a row by itself).

    python scripts/snapshot_model.py checkpoints/zoo/last.ckpt \\
        checkpoints/zoo/curve/step_004200.safetensors
    python scripts/snapshot_model.py checkpoints/zoo-256/model.safetensors \\
        checkpoints/zoo-256/without_identity.safetensors --drop identity --fp32
"""

import argparse

import torch

from fststyle.core.model_file import read_model
from fststyle.core.model_io import load_model, save_model
from fststyle.core.network import TransformerNet


def drop_styles(net: TransformerNet, names: list[str], drop: list[str]) -> TransformerNet:
    """A copy of `net` without the (gamma, beta) rows of the styles in `drop`."""
    keep = [i for i, name in enumerate(names) if name not in drop]
    if len(keep) != len(names) - len(drop):
        raise SystemExit(f"--drop {drop}: not all among the model's styles {names}")
    smaller = TransformerNet(**{**net.arch(), "num_styles": len(keep)})
    state = {k: v[keep] if k.endswith((".gamma", ".beta")) else v  # (N, C) tables
             for k, v in net.state_dict().items()}
    smaller.load_state_dict(state)
    return smaller


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("src", help="a .ckpt or .safetensors model")
    p.add_argument("dst", help="the .safetensors file to write")
    p.add_argument("--drop", type=lambda s: s.split(","), default=[], help="styles to leave out")
    p.add_argument("--fp32", action="store_true", help="float32 weights (default: float16)")
    args = p.parse_args(argv)
    model = read_model(args.src)
    extra = dict(model.metadata) if model.kind == "safetensors" else {
        "global_step": model.metadata.get("global_step"), "model": model.hparams}
    net = load_model(args.src)
    with torch.no_grad():
        net = drop_styles(net, model.styles, args.drop) if args.drop else net
    names = [s for s in model.styles if s not in args.drop]
    save_model(net, names, args.dst, extra=extra, half=not args.fp32)
    print(f"wrote {args.dst}: {len(names)} styles")


if __name__ == "__main__":
    main()
