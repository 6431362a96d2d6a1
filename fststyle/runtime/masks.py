"""Style masks -> per-pixel style weights, for spatial mixing (Dumoulin et al. 2017, Fig. 8).
numpy and Pillow only: `fststyle.runtime` uses it without torch.

Two forms (a mask is an image file, a PIL image or a uint8 array; colour is read as grey):
- one mask and two styles, `style="a,b"` (or ["a", "b"]): white = a, black = b, grey = a mix
  (value / 255 of a);
- one mask per style, {"a": mask_a, "b": mask_b}: each pixel's weights are the masks' values
  normalised to sum to 1; a pixel black in every mask gets an equal mix of those styles.
Masks are resized (bilinear) to the image; the network then resizes the weights to each layer.
"""

from pathlib import Path

import numpy as np
from PIL import Image


def parse_style_mask(text: str) -> Path | dict[str, Path]:
    """CLI text -> 'mask.png' (one mask) or 'a=mask_a.png,b=mask_b.png' (one per style)."""
    if "=" not in text:
        return Path(text)
    masks = {}
    for part in text.split(","):
        name, sep, path = part.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"--style-mask {text!r}: expected MASK or name=MASK,name=MASK")
        masks[name.strip()] = Path(path.strip())
    return masks


def read_mask(mask, size: tuple[int, int]) -> np.ndarray:
    """A mask file, PIL image or uint8 array -> (H, W) float32 in [0, 1] at size (W, H)."""
    if isinstance(mask, (str, Path)):
        if not Path(mask).is_file():
            raise ValueError(f"style mask {mask} does not exist")
        with Image.open(mask) as image:
            mask = image.convert("L")
    elif isinstance(mask, np.ndarray):
        mask = Image.fromarray(mask)
    if not isinstance(mask, Image.Image):
        raise ValueError(f"a style mask must be a file, a PIL image or an array, got {type(mask)}")
    mask = mask.convert("L").resize(size, Image.BILINEAR)
    return np.asarray(mask, np.float32) / 255


def mask_weights(mask, style, names: list[str], size: tuple[int, int]) -> np.ndarray:
    """A mask (see the module docstring) -> (N, H, W) float32 weights over `names`, summing to
    1 per pixel, for an image of size (W, H)."""
    available = ", ".join(names)
    if isinstance(mask, dict):
        if style is not None:
            raise ValueError("give either one mask per style or --style with one mask, not both")
        chosen, maps = list(mask), [read_mask(m, size) for m in mask.values()]
    else:
        chosen = style.split(",") if isinstance(style, str) else list(style or [])
        if len(chosen) != 2:
            raise ValueError(f"one style mask needs exactly two styles 'a,b' (white = a, "
                             f"black = b), got {style!r} (available: {available})")
        first = read_mask(mask, size)
        maps = [first, 1 - first]
    weights = np.zeros((len(names), size[1], size[0]), np.float32)  # (N, H, W)
    for name, m in zip(chosen, maps):
        if name.strip() not in names:
            raise ValueError(f"unknown style {name!r} in the style mask (available: {available})")
        weights[names.index(name.strip())] += m
    total = weights.sum(0, keepdims=True)  # (1, H, W)
    empty = total[0] == 0
    for name in chosen:  # black in every mask: an equal mix of the masked styles
        weights[names.index(name.strip()), empty] = 1 / len(chosen)
    return weights / np.maximum(weights.sum(0, keepdims=True), 1e-12)
