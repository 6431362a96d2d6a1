"""The trained models that ship inside the package (fststyle/models/, in the wheel), so that a
first stylized image costs no training run: what `fststyle.stylize`, `fststyle.serve`,
`Stylizer()` and `configs/add_style.yaml` use when no model is given. Each has a model card
(fststyle/models/MODEL_CARD.md): its recipe, training run and scores."""

from pathlib import Path

MODELS = Path(__file__).parents[1] / "models"
SHIPPED_NAME = "shipped"  # what a training option names the shipped network by
SHIPPED = {
    # The 11-style network with its identity row: fp16 weights, fp32 compute.
    "full": "zoo.onnx",
    # Its distilled real-time student (configs/zoo_realtime_slim*.yaml).
    "student": "zoo-realtime.onnx",
    # The full network's PyTorch weights (fp16): to add a style or fine-tune.
    "torch": "zoo.safetensors",
}


def web_model() -> Path:
    """What the web page serves by default: the real-time student, else the full network."""
    student = MODELS / SHIPPED["student"]
    return student if student.is_file() else shipped_model("full")


def shipped_model(kind: str = "full") -> Path:
    """The path of a shipped model: full | student | torch."""
    if kind not in SHIPPED:
        raise ValueError(f"shipped model kind must be one of {', '.join(SHIPPED)}, got {kind!r}")
    path = MODELS / SHIPPED[kind]
    if not path.is_file():
        raise FileNotFoundError(f"no shipped model at {path} (this install has none): "
                                "give --model MODEL")
    return path


def resolve(path: str | Path) -> str | Path:
    """A model option's value with its name for the shipped network (`shipped`) resolved to
    the shipped PyTorch weights: --model.init_from and --model.distill_from take either."""
    return shipped_model("torch") if str(path) == SHIPPED_NAME else path
