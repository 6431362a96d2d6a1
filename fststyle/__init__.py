"""fststyle: fast feed-forward style transfer, trained with Lightning, shipped as ONNX."""

__version__ = "0.1.0"


def load_model(path):
    """Load a `model.safetensors` or Lightning `.ckpt` as a TransformerNet (imports torch)."""
    from fststyle.model_io import load_model as _load

    return _load(path)


__all__ = ["__version__", "load_model"]
