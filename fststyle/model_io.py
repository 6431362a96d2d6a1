"""Portable model files: the network's weights in safetensors, its architecture and style
names in the metadata. Loading never unpickles anything; Lightning checkpoints are read with
`weights_only=True`.
"""

import json
from pathlib import Path

import torch

from fststyle.atomic import atomic_path
from fststyle.network import TransformerNet

FORMAT = "fststyle.transformer_net/1"


def save_model(net: TransformerNet, style_names: list[str], path: str | Path,
               extra: dict | None = None) -> Path:
    """Write `net` as safetensors with {format, arch, styles, extra} metadata, atomically."""
    from safetensors.torch import save_file

    from fststyle import __version__

    if len(style_names) != net.num_styles:
        raise ValueError(f"{len(style_names)} style names for a {net.num_styles}-style network")
    metadata = {"format": FORMAT, "fststyle_version": __version__,
                "arch": json.dumps(net.arch()), "styles": json.dumps(list(style_names)),
                "extra": json.dumps(extra or {})}
    state = {k: v.detach().float().contiguous().cpu() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return Path(path)


def load_model(path: str | Path) -> TransformerNet:
    """Load a `model.safetensors` or a Lightning `.ckpt` into an eval-mode TransformerNet.

    The returned network has `style_names` (list[str]) and `metadata` (dict) attributes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix == ".ckpt":
        state, arch, names, meta = _read_checkpoint(path)
    else:
        state, arch, names, meta = _read_safetensors(path)
    net = TransformerNet(**arch)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not match the architecture {arch}: {e}") from e
    net.style_names, net.metadata = names, meta
    return net.eval()


def _read_safetensors(path: Path):
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{path}: not a safetensors model file ({e})") from e
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not an fststyle model (metadata format "
                         f"{meta.get('format')!r}, expected {FORMAT!r})")
    extra = json.loads(meta.get("extra", "{}"))
    return state, json.loads(meta["arch"]), json.loads(meta["styles"]), extra


def _read_checkpoint(path: Path):
    try:
        # weights_only=True: a checkpoint is data; a crafted pickle must not run code.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: refused to load: not a plain-data Lightning checkpoint "
                         f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from e
    hp = ckpt.get("hyper_parameters", {})
    if "styles" not in hp:
        raise ValueError(f"{path}: not an fststyle training checkpoint (no styles in "
                         "hyper_parameters)")
    names = ckpt.get("style_names") or [Path(s).stem for s in hp["styles"]]
    arch = {"num_styles": len(names), "alpha": hp.get("alpha", 1.0),
            "num_residual_blocks": hp.get("num_residual_blocks", 5)}
    state = {k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()
             if k.startswith("net.")}
    meta = {"global_step": ckpt.get("global_step"), "hyper_parameters": hp}
    return state, arch, names, meta
