"""The one model reader: what a .safetensors, .ckpt or .onnx model file holds, by one function.

`read_model(path)` returns the styles, the architecture and the training config (hparams) of
any of the three, and the network's weights for the first two. It imports nothing heavy at
module level: torch only for .safetensors and .ckpt, onnx only for .onnx, so
`fststyle.stylize` reads an .onnx without torch. Loading never unpickles anything; Lightning
checkpoints are read with `weights_only=True`.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "fststyle.transformer_net/1"  # the safetensors metadata "format" fststyle writes
# TransformerNet arguments besides num_styles, as training hparams name them (a checkpoint
# from before an option was added lacks it: the network's default applies).
ARCH_OPTIONS = ("alpha", "num_residual_blocks", "downsamples", "edge_kernel", "separable_blocks")


@dataclass
class ModelFile:
    """What a model file records. `metadata` keeps each format's own record: the safetensors
    "extra" dict, {"global_step", "hyper_parameters"} of a checkpoint, or the ONNX
    metadata_props; `state` is the network's state dict (None for .onnx)."""

    path: Path
    kind: str  # "safetensors" | "ckpt" | "onnx"
    styles: list[str]
    arch: dict
    hparams: dict = field(default_factory=dict)  # StyleTransfer's arguments, {} when unrecorded
    metadata: dict = field(default_factory=dict)
    state: dict | None = None


def read_model(path: str | Path) -> ModelFile:
    """Read any fststyle model file; ValueError names the file when it is not one."""
    path = Path(path)
    readers = {".safetensors": _read_safetensors, ".ckpt": _read_checkpoint, ".onnx": _read_onnx}
    if path.suffix not in readers:
        raise ValueError(f"--model {path}: expected a .onnx, .safetensors or .ckpt file")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return readers[path.suffix](path)


def recorded_hparams(meta: dict) -> dict:
    """The training settings a model file's metadata records: the one reader of them.
    fststyle.train writes "model"; a checkpoint's record is Lightning's "hyper_parameters"."""
    return meta.get("model") or meta.get("hyper_parameters") or {}


def _read_safetensors(path: Path) -> ModelFile:
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
    return ModelFile(path, "safetensors", json.loads(meta["styles"]), json.loads(meta["arch"]),
                     recorded_hparams(extra), extra, state)


def _read_checkpoint(path: Path) -> ModelFile:
    import torch

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
    arch = {"num_styles": len(names), **{k: hp[k] for k in ARCH_OPTIONS if k in hp}}
    state = {k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()
             if k.startswith("net.")}
    meta = {"global_step": ckpt.get("global_step"), "hyper_parameters": hp}
    return ModelFile(path, "ckpt", names, arch, dict(hp), meta, state)


def _read_onnx(path: Path) -> ModelFile:
    import onnx

    try:
        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False)
                 .metadata_props}
    except Exception as e:  # onnx raises its own decode errors
        raise ValueError(f"{path}: not a readable ONNX model ({e})") from e
    if "styles" not in props:
        raise ValueError(f"{path}: no 'styles' metadata; export it with fststyle.export")
    training = json.loads(props.get("training_config", "{}"))
    return ModelFile(path, "onnx", json.loads(props["styles"]), training.get("arch") or {},
                     training.get("hparams") or {}, props)
