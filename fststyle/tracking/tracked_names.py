"""The names a run is tracked under, one set for the Neptune and the MLflow logger (and the
compare page), so that runs line up in either: options by config path (`flatten`), tags
(`run_tags`), metrics (`metric_key`), the numbers at the end (`final_key`), and the styles
that name the image series val/samples/<style> (`style_names`). Without Lightning or torch."""

import json
from pathlib import Path

INT32 = 2**31  # Neptune integer fields are 32-bit


def flatten(tree: dict, prefix: str = "") -> dict[str, str | int | float | bool]:
    """{"model": {"lr": 1e-3, "styles": ["a"]}} -> {"model/lr": 0.001, "model/styles": '["a"]'}:
    scalars stay scalars, everything else (None, lists, big ints) becomes its JSON text."""
    flat: dict[str, str | int | float | bool] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "/"))
        elif isinstance(value, (bool, float, str)) or (
                isinstance(value, int) and -INT32 <= value < INT32):
            flat[path] = value
        else:
            flat[path] = json.dumps(value, default=str)
    return flat


def metric_key(key: str) -> str:
    """Lightning metric name -> tracked metric: "val/loss/udnie" -> "val/loss_udnie", because
    val/loss is a Neptune field already and a field cannot also be a namespace (MLflow takes
    the same name, so runs line up)."""
    head, _, rest = key.partition("/")
    return f"{head}/{rest.replace('/', '_')}" if rest else key


def final_key(key: str) -> str:
    """A number at the end of training: "train/loss" -> "final/train/loss"."""
    return f"final/{metric_key(key)}"


def style_names(config: dict | None) -> list[str]:
    """Style names of a run config: the file stems (fststyle.runtime.imagefiles.style_name, without
    importing torch)."""
    styles = ((config or {}).get("model") or {}).get("styles") or []
    return [Path(str(s)).stem for s in styles]


def run_tags(config: dict | None) -> list[str]:
    """Tags to filter runs by: the style set, each style, the VGG source, the image size."""
    if not config:
        return []
    tags = []
    names = style_names(config)
    if names:
        tags += [f"styles:{'+'.join(names)}", *(f"style:{n}" for n in names)]
    model = config.get("model") or {}
    vgg = (model.get("objective") or {}).get("vgg_weights", model.get("vgg_weights"))
    if vgg is not None:
        tags.append(f"vgg:{Path(str(vgg)).name}")  # a state-dict PATH shows as its file name
    size = (config.get("data") or {}).get("image_size")
    if size is not None:
        tags.append(f"size:{size}")
    return tags
