"""fststyle: fast feed-forward style transfer, trained with Lightning, shipped as ONNX.

Layers, each importing only those before it (tests/test_layout.py holds the rules):
    runtime/     torch-free: run an exported .onnx; image files, masks, atomic writes, the CPU
    core/        PyTorch, no Lightning: the network, VGG, the loss, image tensors, model files
    tracking/    the run's local record, loggers, Neptune, the comparison page
    training/    the LightningModule, data, callbacks and the training CLI
    evaluation/  the Gatys objective, the optimisation teacher, scoring and reports (no Lightning)
The entry points (`python -m fststyle.train|export|stylize|evaluate|gatys|compare|serve`) are
the thin modules beside this file; web/ holds the static page `fststyle.serve` serves.
"""

from fststyle._version import __version__


def load_model(path):
    """Load a `model.safetensors` or Lightning `.ckpt` as a TransformerNet (imports torch)."""
    from fststyle.core.model_io import load_model as _load

    return _load(path)


__all__ = ["__version__", "load_model"]
