"""Which style a call asks for: a name, an index, a {name: weight} mix (Dumoulin et al. 2017's
convex combinations of (gamma, beta)) or a strength toward the identity row, as the (N,)
style_weights every fststyle model takes. Torch-free, like the rest of fststyle.runtime."""

import numpy as np

from fststyle.runtime.imagefiles import IDENTITY


def parse_style(text: str) -> str | int | dict[str, float]:
    """CLI text -> style: 'udnie' (a name), '2' (an index) or 'a=0.7,b=0.3' (a mix)."""
    if "=" in text:
        mix = {}
        for part in text.split(","):
            name, _, weight = part.partition("=")
            try:
                mix[name.strip()] = float(weight)
            except ValueError:
                raise ValueError(f"--style {text!r}: {weight!r} is not a number "
                                 "(expected name=weight,name=weight)") from None
        return mix
    return int(text) if text.strip().isdigit() else text


def style_weights(style, names: list[str]) -> np.ndarray:
    """A style name, index or {name: weight} mix -> (N,) float32 convex weights over `names`.

    A mix is normalised to sum to 1: Dumoulin et al. 2017 (Sec. 4.4) interpolate styles with
    convex combinations of their (gamma, beta), which is what the network's MatMul computes.
    """
    available = ", ".join(f"{i}={n}" for i, n in enumerate(names))
    if style is None and len(names) == 1:
        style = 0
    if isinstance(style, (int, np.integer)) and not isinstance(style, bool):
        if not 0 <= style < len(names):
            raise ValueError(f"style index {style} out of range (available: {available})")
        style = {names[style]: 1.0}
    elif isinstance(style, str):
        style = {style: 1.0}
    if not isinstance(style, dict) or not style:
        raise ValueError(f"style must be a name, an index or a {{name: weight}} mix, got "
                         f"{style!r} (available: {available})")
    weights = np.zeros(len(names), dtype=np.float32)
    for name, w in style.items():
        if name not in names:
            raise ValueError(f"unknown style {name!r} (available: {available})")
        if not w >= 0:
            raise ValueError(f"style {name!r}: weight {w} must be >= 0")
        weights[names.index(name)] += w
    if weights.sum() <= 0:
        raise ValueError(f"style mix {style!r}: the weights sum to 0")
    return weights / weights.sum()


def with_strength(style, strength: float, names: list[str]):
    """A style at `strength` in [0, 1]: the mix {style: s, identity: 1 - s}, blending the
    style's (gamma, beta) with the identity row's (the network's rendering of the photo), so
    one network goes from the photo (0) to the full style (1). Needs a model trained with an
    `identity` style (fststyle.training; the shipped network has one)."""
    if not 0 <= strength <= 1:
        raise ValueError(f"--strength must be in [0, 1], got {strength}")
    if strength == 1:
        return style
    if IDENTITY not in names:
        raise ValueError(f"--strength needs a model with an {IDENTITY!r} style; this one has "
                         f"{', '.join(names)}")
    weights = style_weights(style, names) * strength  # (N,)
    weights[names.index(IDENTITY)] += 1 - strength
    return {name: float(w) for name, w in zip(names, weights) if w > 0}
