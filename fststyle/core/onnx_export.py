"""The ONNX export of a TransformerNet and its check against PyTorch: the file format an app
sees (docs/onnx.md): `image` float32 (B, 3, H, W) RGB in [0, 1] and `style_weights` (B, N), or
(B, N, H', W') with spatial=True, or no `style_weights` with a baked style; `stylized` out; the
style names and conventions in metadata_props. `python -m fststyle.export` writes the file."""

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from fststyle._version import __version__
from fststyle.core.model_file import recorded_hparams
from fststyle.core.network import TransformerNet, bake_for_onnx

TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2}  # max |onnxruntime - PyTorch fp32| on [0, 1] pixels
CHECK_SHAPES = [(2, 64, 64), (1, 67, 93)]  # (B, H, W): batch 2 with mixed rows, and odd H, W
MASK_SHAPES = [(64, 64), (23, 41)]  # --spatial weights' (H', W'): the image's, and smaller


class ExportNet(nn.Module):
    """What gets exported: float32 in and out around the network, which may compute in fp16
    inside, and may have one style baked in as a constant one-hot row."""

    def __init__(self, net: TransformerNet, fp16: bool = False, style: int | None = None):
        super().__init__()
        self.net = copy.deepcopy(net)  # baked below: the caller's network stays as it is
        if fp16:
            self.net.half()
        # The same function with its derived kernels as weights; the RGB output convolution as
        # subpixel.phased_conv: a sixth of the full network's onnxruntime time at 640x480 went
        # to it, with 3 of 16 lanes used.
        bake_for_onnx(self.net)
        self.dtype = torch.float16 if fp16 else torch.float32
        row = None if style is None else F.one_hot(torch.tensor([style]), net.num_styles).float()
        self.register_buffer("baked", row)  # (1, N) one-hot; None: style_weights is an input

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor | None = None):
        if self.baked is not None:
            style_weights = self.baked.expand(image.shape[0], -1)  # (B, N)
        y = self.net(image.to(self.dtype), style_weights.to(self.dtype))
        return y.float()  # (B, 3, H, W)


def metadata(net: TransformerNet, precision: str, style: str | None,
             spatial: bool = False) -> dict[str, str]:
    """The `metadata_props` an app needs: style names, version, training summary, conventions."""
    meta = net.metadata or {}
    training = {"arch": net.arch(), "global_step": meta.get("global_step"),
                "run": meta.get("run"),
                "hparams": recorded_hparams(meta)}
    props = {
        "styles": json.dumps(net.style_names if style is None else [style]),
        "fststyle_version": __version__,
        "training_config": json.dumps(training, default=str),
        "precision": precision,
        "image": "input float32 (B, 3, H, W), RGB in [0, 1], any B, H, W",
        "stylized": "output float32 (B, 3, H, W), RGB in [0, 1], the same size as image",
    }
    if spatial:
        props["style_weights"] = ("input float32 (B, N, H', W'), convex weights over `styles` "
                                  "per pixel (any H', W': resized bilinearly to each layer)")
    elif style is None:
        props["style_weights"] = ("input float32 (B, N), one row per image over `styles`: "
                                  "one-hot picks a style, a convex row mixes styles")
    else:
        props["baked_style"] = style
    return props


def to_onnx(net: TransformerNet, fp16: bool = False, style: str | None = None,
            spatial: bool = False) -> onnx.ModelProto:
    """Trace with torch.onnx's dynamo exporter; B, H and W (and H', W') stay symbolic."""
    index = None if style is None else net.style_names.index(style)
    wrapper = ExportNet(net, fp16, index).eval()
    batch, height, width = (torch.export.Dim(n) for n in ("batch", "height", "width"))
    image_dims = {0: batch, 2: height, 3: width}
    args = (torch.rand(2, 3, 64, 64),)
    dims = (image_dims,)
    names = ["image"]
    if spatial:
        mask_h, mask_w = torch.export.Dim("mask_height"), torch.export.Dim("mask_width")
        args += (torch.full((2, net.num_styles, 32, 48), 1 / net.num_styles),)
        dims += ({0: batch, 2: mask_h, 3: mask_w},)
        names.append("style_weights")
    elif style is None:
        args += (torch.full((2, net.num_styles), 1 / net.num_styles),)
        dims += ({0: batch},)
        names.append("style_weights")
    with warnings.catch_warnings():  # "axis name batch will not be used": it is, for both
        warnings.filterwarnings("ignore", message=".*axis name")
        program = torch.onnx.export(wrapper, args, input_names=names,
                                    output_names=["stylized"], dynamo=True,
                                    dynamic_shapes=dims, verbose=False)
    # Saved as the exporter wrote it (its generic constant folding only): no onnxruntime
    # graph optimisation is baked in, so the file stays portable across machines and
    # backends (well under onnxruntime's EXTENDED level; sessions optimise at load time).
    model = program.model_proto
    # The output is the image's size: the exporter's expression for it (the crops after the
    # sub-pixel upsampling, subpixel.upsample_conv) reads as that to no one else.
    for axis, name in ((2, "height"), (3, "width")):
        model.graph.output[0].type.tensor_type.shape.dim[axis].dim_param = name
    onnx.helper.set_model_props(model, metadata(net, "fp16" if fp16 else "fp32", style, spatial))
    return model


def store_weights_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Float32 weights that float16 holds exactly stored as float16, each cast back to float32
    by a Cast node: half the bytes, the same fp32 compute (onnxruntime folds the casts when the
    session loads; fp16 compute on CPUs is slower, not faster). Export a network whose weights
    are fp16 values (net.half().float(), or a half=True model file): the kernels the exporter
    derived from them (sums of weights, subpixel.upsample_conv) stay float32, exact."""
    graph, casts = model.graph, []
    for init in list(graph.initializer):  # scalars (eps, exponents) stay fp32: not weights
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < 2:
            continue
        values = onnx.numpy_helper.to_array(init)
        array = values.astype(np.float16)
        if not np.array_equal(array.astype(np.float32), values):
            continue
        graph.initializer.remove(init)
        graph.initializer.append(onnx.numpy_helper.from_array(array, f"{init.name}__fp16"))
        casts.append(onnx.helper.make_node("Cast", [f"{init.name}__fp16"], [init.name],
                                           to=onnx.TensorProto.FLOAT))
    for node in reversed(casts):
        graph.node.insert(0, node)
    return model


def check_against_torch(path: Path, net: TransformerNet, tolerance: float,
                        style: str | None = None, spatial: bool = False) -> float:
    """Max |onnxruntime - PyTorch fp32| on random inputs at CHECK_SHAPES; raise if > tolerance.

    Rows get random convex style weights (or the baked style's one-hot row); with spatial,
    every pixel of a MASK_SHAPES map does.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = 0.0
    for (b, h, w), mask_shape in zip(CHECK_SHAPES, MASK_SHAPES):
        image = rng.random((b, 3, h, w), dtype=np.float32)
        if spatial:
            weights = rng.dirichlet(np.ones(net.num_styles), size=(b, *mask_shape))
            weights = np.ascontiguousarray(weights.transpose(0, 3, 1, 2), np.float32)
            feed = {"image": image, "style_weights": weights}  # (B, N, H', W')
        elif style is None:
            weights = rng.dirichlet(np.ones(net.num_styles), size=b).astype(np.float32)
            feed = {"image": image, "style_weights": weights}
        else:
            weights = np.eye(net.num_styles, dtype=np.float32)[[net.style_names.index(style)] * b]
            feed = {"image": image}
        got = session.run(["stylized"], feed)[0]
        with torch.inference_mode():
            want = net(torch.from_numpy(image), torch.from_numpy(weights)).numpy()
        if got.shape != want.shape:
            raise ValueError(f"onnxruntime output {got.shape} != PyTorch {want.shape}; "
                             f"refusing to write {path.name}")
        worst = max(worst, float(np.abs(got - want).max()))
    if not worst <= tolerance:
        raise ValueError(f"onnxruntime differs from PyTorch by {worst:.2e} > {tolerance:g} "
                         f"at (B, H, W) {CHECK_SHAPES}; refusing to write the export")
    return worst
