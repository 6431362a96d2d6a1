"""Portable model files: the network's weights in safetensors, its architecture and style
names in the metadata. Reading any model file is `fststyle.core.model_file.read_model`; this
module writes them and turns what it reads into a TransformerNet.
"""

import json
from pathlib import Path

from fststyle.core.model_file import FORMAT, ModelFile, read_model
from fststyle.core.network import TransformerNet
from fststyle.runtime.atomic import atomic_path


def save_model(net: TransformerNet, style_names: list[str], path: str | Path,
               extra: dict | None = None, half: bool = False) -> Path:
    """Write `net` as safetensors with {format, arch, styles, extra} metadata, atomically.

    half: float16 weights (half the bytes: the shipped models); they load into float32."""
    import torch
    from safetensors.torch import save_file

    from fststyle._version import __version__

    if len(style_names) != net.num_styles:
        raise ValueError(f"{len(style_names)} style names for a {net.num_styles}-style network")
    metadata = {"format": FORMAT, "fststyle_version": __version__,
                "arch": json.dumps(net.arch()), "styles": json.dumps(list(style_names)),
                "extra": json.dumps(extra or {})}
    dtype = torch.float16 if half else torch.float32
    state = {k: v.detach().to(dtype).contiguous().cpu() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return Path(path)


def save_half_copy(src: str | Path, dst: str | Path) -> Path:
    """`src` (.safetensors or .ckpt) as an fp16 model file, with the record fststyle.train
    writes ({run, global_step, model}): a curve snapshot, a shipped model."""
    model = read_model(src)
    extra = dict(model.metadata) if model.kind == "safetensors" else {
        "global_step": model.metadata.get("global_step"), "model": model.hparams}
    return save_model(build_net(model), model.styles, dst, extra=extra, half=True)


def load_model(path: str | Path) -> TransformerNet:
    """Load a `model.safetensors` or a Lightning `.ckpt` into an eval-mode TransformerNet.

    The returned network has `style_names` (list[str]) and `metadata` (dict) attributes.
    """
    return build_net(read_model(path))


def build_net(model: ModelFile) -> TransformerNet:
    """The eval-mode network of a .safetensors or .ckpt `read_model` result."""
    if model.state is None:
        raise ValueError(f"{model.path}: an exported .onnx model has no PyTorch weights; "
                         "give its model.safetensors or .ckpt")
    net = TransformerNet(**model.arch)
    try:
        net.load_state_dict(model.state)
    except RuntimeError as e:
        raise ValueError(f"{model.path}: weights do not match the architecture {model.arch}: "
                         f"{e}") from e
    net.name_styles(model.styles).metadata = model.metadata
    return net.eval()
