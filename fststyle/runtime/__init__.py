"""The torch-free runtime: run an exported fststyle model with onnxruntime, numpy and Pillow.

    from fststyle.runtime import Stylizer
    stylizer = Stylizer("exports/demo.onnx")

Nothing under fststyle.runtime imports torch or Lightning (tests/test_layout.py checks it), so
the rest of fststyle builds on its image-file, mask and atomic-write helpers.
"""

from fststyle.runtime.styles import parse_style, style_weights, with_strength
from fststyle.runtime.stylizer import (
                                       RGB_TO_YCBCR,
                                       YCBCR_TO_RGB,
                                       Stylizer,
                                       limit_size,
                                       luminance_transfer,
)

__all__ = ["RGB_TO_YCBCR", "YCBCR_TO_RGB", "Stylizer", "limit_size", "luminance_transfer",
           "parse_style", "style_weights", "with_strength"]
