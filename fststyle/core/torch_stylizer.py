"""`Stylizer` over a .safetensors/.ckpt network run by PyTorch, and `load_stylizer`, which picks
it or the onnxruntime one from what `read_model` finds. Both share `Stylizer.stylize`, so
resizing, style mixing, masks and colour preservation are the same code. Importing this module
does not import torch: an .onnx model stays on the torch-free runtime."""

from pathlib import Path

from fststyle.core.model_file import ModelFile, read_model
from fststyle.runtime.frames import session_options
from fststyle.runtime.stylizer import Stylizer
from fststyle.runtime.tiles import NEEDS_ONNX


class TorchStylizer(Stylizer):
    """`Stylizer` over a .safetensors/.ckpt network run by PyTorch (CUDA when available)."""

    can_tile = False  # no ONNX graph to rewrite: large photos run whole

    def _stylize_tiled(self, array, weights, tile, preserve_color):
        raise ValueError(NEEDS_ONNX)

    def __init__(self, model: str | Path | ModelFile, threads: int | None = None):
        import torch  # replaces the onnxruntime session

        from fststyle.core.model_io import build_net

        if threads is not None:
            session_options(threads)  # the same check as the onnxruntime path
            torch.set_num_threads(threads)
        model = model if isinstance(model, ModelFile) else read_model(model)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.net = build_net(model).to(self.device)
        self.styles, self.metadata, self.baked = self.net.style_names, self.net.metadata, False
        self.spatial = True  # the network takes (B, N) and (B, N, H, W) weights alike
        self._init_frames(self.net.arch())

    def _run(self, image, weights, out=None):
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(image).to(self.device)  # (B, 3, H, W)
            w = torch.from_numpy(weights).to(self.device)  # (B, N) or (B, N, H, W)
            y = self.net(x, w).float().cpu().numpy()
        if out is None:
            return y
        out[...] = y
        return out


def load_stylizer(model: str | Path | ModelFile, threads: int | None = None) -> Stylizer:
    """An .onnx model on onnxruntime (no torch), a .safetensors or .ckpt one on PyTorch; a
    path or an already read ModelFile. threads: CPU threads (default: the physical cores)."""
    model = model if isinstance(model, ModelFile) else read_model(model)
    if model.kind == "onnx":
        return Stylizer(model.path, threads)
    return TorchStylizer(model, threads)
