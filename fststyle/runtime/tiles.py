"""Photos of any size in bounded memory (`fststyle.stylize --tile`): Thumbnail Instance
Normalization (Chen et al. 2022, "Towards Ultra-Resolution Neural Style Transfer via Thumbnail
Instance Normalization", URST).

Instance norm makes the network a whole-image function: every layer normalises by its whole
feature map's per-channel mean and variance, so stylizing tiles on their own changes those
statistics from tile to tile and shows seams. URST takes them from a thumbnail of the whole
photo and applies them to every tile. The exported graph is rewritten twice (onnx, no torch):

- the statistics graph: the network plus, for each InstanceNormalization, its input's
  per-channel mean and variance as outputs, and every other mean over the image's height and
  width (the identity row's colour restoration, core.network.restore_colours); run once, on
  the thumbnail;
- the tile graph: each InstanceNormalization computed with a given mean and variance, and
  each such mean given (inputs); run on overlapping tiles, blended with linear ramps across
  the overlaps (weights summing to 1 everywhere), so no seam shows.

Where the thumbnail is smaller than the photo, the first norms' statistics are then made the
photo's own by passes over the tiles (runtime.tiles_exact): the thumbnail stands in worst there.

Peak memory follows the tile and the thumbnail, not the photo: tiles are run one at a time and
the output is finished a row of tiles at a time (only the uint8 photo and result are whole).
"""

import copy
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image

from fststyle.runtime.frames import FrameBuffers, releasing_run, scaled_size, to_uint8
from fststyle.runtime.tiles_exact import EXACT_NORMS, cut_graph, exact_statistics

NORM = "InstanceNormalization"
AXES = "tiles_hw_axes"  # the initializer (2, 3): reduce over H and W
TILE = 512  # px: a tile's side; activations of ~0.26 MP at a time
OVERLAP = 64  # px blended between neighbouring tiles (the network's edge effects fade here)
THUMBNAIL = 3_000_000  # pixels (2121x1414 at 3:2) of the thumbnail the statistics come from:
# a photo up to this size is its own; its run is the tiled path's peak memory (docs/speed.md)
AUTO_PIXELS = 4_000_000  # stylize tiles itself above this many pixels (a 12 MP photo does)
NEEDS_ONNX = "--tile needs an .onnx model: export it with `python -m fststyle.export MODEL`"


def _norm_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    nodes = [n for n in model.graph.node if n.op_type == NORM]
    if not nodes:
        raise ValueError("--tile: the model has no InstanceNormalization to take the "
                         "thumbnail's statistics from")
    return nodes


def _image_means(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The ReduceMean nodes over axes (2, 3), keeping them: whole-image means."""
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    constants.update({n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t)
                      for n in model.graph.node if n.op_type == "Constant"
                      and n.attribute and n.attribute[0].name == "value"})

    def axes(node):
        attribute = next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
        given = constants.get(node.input[1]) if len(node.input) > 1 else None
        return attribute if given is None else [int(v) for v in np.ravel(given)]

    keep = lambda n: next((a.i for a in n.attribute if a.name == "keepdims"), 1)  # noqa: E731
    return [n for n in model.graph.node if n.op_type == "ReduceMean"
            and sorted(axes(n) or []) == [2, 3] and keep(n) == 1]


def statistics_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model plus outputs stats_mean_<i>, stats_var_<i> (B, C, 1, 1), float32: the input
    of its i-th InstanceNormalization, per channel (the biased variance, as the op uses); and
    stats_image_mean_<k>, the output of its k-th whole-image mean."""
    means = _image_means(model)
    model = copy.deepcopy(model)
    graph = model.graph
    for k, node in enumerate(means):
        graph.node.append(helper.make_node("Cast", [node.output[0]], [f"stats_image_mean_{k}"],
                                           to=TensorProto.FLOAT))
        graph.output.append(helper.make_tensor_value_info(f"stats_image_mean_{k}",
                                                          TensorProto.FLOAT, None))
    graph.initializer.append(helper.make_tensor(AXES, TensorProto.INT64, [2], [2, 3]))
    for i, node in enumerate(_norm_nodes(model)):
        x, mean, var = node.input[0], f"stats_mean_{i}", f"stats_var_{i}"
        graph.node.extend([
            helper.make_node("ReduceMean", [x, AXES], [f"{mean}_raw"], keepdims=1),
            helper.make_node("Sub", [x, f"{mean}_raw"], [f"{var}_centred"]),
            helper.make_node("Mul", [f"{var}_centred", f"{var}_centred"], [f"{var}_square"]),
            helper.make_node("ReduceMean", [f"{var}_square", AXES], [f"{var}_raw"], keepdims=1),
            helper.make_node("Cast", [f"{mean}_raw"], [mean], to=TensorProto.FLOAT),
            helper.make_node("Cast", [f"{var}_raw"], [var], to=TensorProto.FLOAT)])
        graph.output.extend([helper.make_tensor_value_info(name, TensorProto.FLOAT, None)
                             for name in (mean, var)])
    return model


def tile_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with each InstanceNormalization taking its mean and variance from inputs
    stats_mean_<i>, stats_var_<i> (B, C, 1, 1) float32: y = (x - mean) / sqrt(var + eps) *
    scale + bias, the op's own formula with the statistics given."""
    count, means = len(_norm_nodes(model)), [n.output[0] for n in _image_means(model)]
    types = _value_types(model)
    model = copy.deepcopy(model)
    nodes, i = [], 0
    for node in model.graph.node:
        if node.op_type == NORM:
            nodes += _given_statistics_norm(node, i, types.get(node.input[0], TensorProto.FLOAT))
            i += 1
        elif node.output[0] in means:  # given: cast to the type the mean had
            k = means.index(node.output[0])
            nodes.append(helper.make_node("Cast", [f"stats_image_mean_{k}"], list(node.output),
                                          to=types.get(node.output[0], TensorProto.FLOAT)))
        else:
            nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.input.extend([
        helper.make_tensor_value_info(f"stats_{kind}_{i}", TensorProto.FLOAT,
                                      ["batch", None, 1, 1])
        for i in range(count) for kind in ("mean", "var")])
    model.graph.input.extend([
        helper.make_tensor_value_info(f"stats_image_mean_{k}", TensorProto.FLOAT,
                                      ["batch", None, 1, 1]) for k in range(len(means))])
    return model


def _given_statistics_norm(node: onnx.NodeProto, i: int, dtype: int) -> list[onnx.NodeProto]:
    """The nodes of the i-th InstanceNormalization with its statistics given (cast to x's
    type), writing the op's output."""
    x, scale, bias = node.input
    eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
    p = f"tiles_norm_{i}_"
    return [
        helper.make_node("Cast", [f"stats_mean_{i}"], [p + "mean"], to=dtype),
        helper.make_node("Cast", [f"stats_var_{i}"], [p + "var"], to=dtype),
        helper.make_node("Constant", [], [p + "eps"],
                         value=helper.make_tensor(p + "eps_value", dtype, [], [eps])),
        helper.make_node("Add", [p + "var", p + "eps"], [p + "var_eps"]),
        helper.make_node("Sqrt", [p + "var_eps"], [p + "std"]),
        helper.make_node("Sub", [x, p + "mean"], [p + "centred"]),
        helper.make_node("Div", [p + "centred", p + "std"], [p + "normalised"]),
        helper.make_node("Constant", [], [p + "axes"],
                         value=helper.make_tensor(p + "axes_value", TensorProto.INT64, [3],
                                                  [0, 2, 3])),
        helper.make_node("Unsqueeze", [scale, p + "axes"], [p + "scale"]),  # (1, C, 1, 1)
        helper.make_node("Unsqueeze", [bias, p + "axes"], [p + "bias"]),
        helper.make_node("Mul", [p + "normalised", p + "scale"], [p + "scaled"]),
        helper.make_node("Add", [p + "scaled", p + "bias"], list(node.output))]


def _value_types(model: onnx.ModelProto) -> dict[str, int]:
    """{tensor name: element type} from onnx's shape inference (fp16 exports compute in fp16)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    return {v.name: v.type.tensor_type.elem_type for v in values}


class TiledSessions:
    """The statistics and tile graphs of one exported model, as onnxruntime sessions."""

    def __init__(self, path: str | Path, options, providers: list[str]):
        import onnxruntime as ort

        model = onnx.load(str(path))
        # onnxruntime's default order runs the statistics' branches after the whole network,
        # each layer's input held until then (1448x965: 2.27 GB, the plain graph 0.57); the
        # priority-based order runs each branch as soon as its input is made (0.83 GB).
        given, options.execution_order = options.execution_order, ort.ExecutionOrder.PRIORITY_BASED
        self.statistics = ort.InferenceSession(statistics_graph(model).SerializeToString(),
                                               options, providers=providers)
        options.execution_order = given  # the caller's, for the tiles' graph (no gain there)
        tile = tile_graph(model)
        self.tile = ort.InferenceSession(tile.SerializeToString(), options, providers=providers)
        self.exact = [ort.InferenceSession(cut_graph(tile, node.input[0], f"stats_mean_{i}")
                                           .SerializeToString(), options, providers=providers)
                      for i, node in enumerate(_norm_nodes(model)[:EXACT_NORMS])]
        self.names = [o.name for o in self.statistics.get_outputs()
                      if o.name.startswith("stats_")]
        # The thumbnail's activations are the largest the tiled path makes: its run hands its
        # arena back, so that the memory held while the tiles run is the tiles'.
        self.release = releasing_run()

    def thumbnail_statistics(self, frame: np.ndarray, style: dict, min_size: int,
                             thumbnail: int) -> dict[str, np.ndarray]:
        """{stats_*: (1, C, 1, 1)} of the photo shrunk to at most `thumbnail` pixels."""
        size = thumbnail_size((frame.shape[1], frame.shape[0]), thumbnail)
        small = np.asarray(Image.fromarray(frame).resize(size, Image.LANCZOS)) \
            if size != (frame.shape[1], frame.shape[0]) else frame
        buffers = FrameBuffers(*small.shape[:2], min_size)
        buffers.load(small)
        found = self.statistics.run(self.names, {"image": buffers.image, **style},
                                    self.release)
        return dict(zip(self.names, found))

    def run(self, tile: np.ndarray, feed: dict, min_size: int) -> np.ndarray:
        """uint8 (h, w, 3) -> the (3, h, w) float output with the given statistics."""
        buffers = FrameBuffers(*tile.shape[:2], min_size)
        buffers.load(tile)
        out = self.tile.run(["stylized"], {"image": buffers.image, **feed})[0]
        return buffers.crop(out)


def thumbnail_size(size: tuple[int, int], pixels: int) -> tuple[int, int]:
    """(W, H) shrunk, aspect kept, to about `pixels` pixels (the long side rounded down; never
    enlarged)."""
    scale = min(1.0, math.sqrt(pixels / (size[0] * size[1])))
    return scaled_size(size, int(max(size) * scale))


def tile_size(tile: int | None, shape: tuple[int, int], auto: bool = True) -> int:
    """The tile side for a photo of `shape` (H, W), 0 for whole: `tile` as asked (None: TILE
    above AUTO_PIXELS pixels where `auto`), 0 too where one tile would hold the photo."""
    if tile is None:
        tile = TILE if auto and shape[0] * shape[1] > AUTO_PIXELS else 0
    if tile < 0 or isinstance(tile, bool) or 0 < tile <= 2 * OVERLAP:
        raise ValueError(f"--tile must be 0 (whole) or more than {2 * OVERLAP} px, got {tile}")
    return tile if max(shape) > tile else 0


def starts(length: int, tile: int, overlap: int, align: int) -> list[tuple[int, int]]:
    """(start, end) of the tiles along one side: every `tile - overlap` px, each start a
    multiple of `align` (the network's total stride, so every tile samples its stride-2 grids
    as the whole photo does), the last one running to the end."""
    if length <= tile:
        return [(0, length)]
    step = max(align, (tile - overlap) // align * align)
    first = [s for s in range(0, length - tile, step)]
    last = (length - tile) // align * align
    bounds = [(s, s + tile) for s in first if s < last]
    return [*bounds, (last, length)]


def ramp(length: int, start: int, size: int, overlap: int) -> np.ndarray:
    """(size,) blend weights of a tile along one side: rising over `overlap` px where a tile
    before it overlaps, falling where one after it does, 1 elsewhere (never 0: the sums are
    normalised)."""
    weights = np.ones(size, np.float32)
    edge = (np.arange(min(overlap, size), dtype=np.float32) + 0.5) / overlap
    if start > 0:
        weights[:len(edge)] = edge
    if start + size < length:
        weights[-len(edge):] = np.minimum(weights[-len(edge):], edge[::-1])
    return weights


def stylize_tiled(sessions: TiledSessions, frame: np.ndarray, style: dict, min_size: int,
                  align: int, tile: int = TILE, overlap: int = OVERLAP,
                  thumbnail: int = THUMBNAIL, exact_norms: int = EXACT_NORMS,
                  finish: Callable | None = None) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H, W, 3), stylized tile by tile with the thumbnail's
    statistics, the first `exact_norms` instance norms' made exact (runtime.tiles_exact)
    where the thumbnail is smaller than the photo. style: {"style_weights": (1, N)} or {} (a
    baked export); align: the network's total stride. finish(top, bottom, y) may change each
    finished band of rows, (3, h, w) floats, before it is rounded."""
    if not 2 * overlap < tile:
        raise ValueError(f"--tile {tile} must be more than twice the overlap ({overlap} px)")
    height, width = frame.shape[:2]
    feed = {**style, **sessions.thumbnail_statistics(frame, style, min_size, thumbnail)}
    rows, cols = (starts(n, tile, overlap, align) for n in (height, width))
    if height * width > thumbnail:  # the thumbnail is smaller than the photo
        feed = exact_statistics(sessions.exact[:exact_norms], frame, feed, min_size, rows, cols,
                                align)
    out = np.empty_like(frame)
    band = np.zeros((4, 0, width), np.float32)  # RGB sums and the weights' sum, rows top...
    top = 0
    for r, (y0, y1) in enumerate(rows):
        band = np.concatenate([band, np.zeros((4, y1 - top - band.shape[1], width),
                                              np.float32)], axis=1)
        for x0, x1 in cols:
            w = ramp(height, y0, y1 - y0, overlap)[:, None] * ramp(width, x0, x1 - x0, overlap)
            y = sessions.run(frame[y0:y1, x0:x1], feed, min_size)  # (3, h, w)
            band[:3, y0 - top:y1 - top, x0:x1] += y * w
            band[3, y0 - top:y1 - top, x0:x1] += w
        done = rows[r + 1][0] if r + 1 < len(rows) else height  # no later tile reaches above
        finished = band[:3, :done - top] / band[3, :done - top]  # (3, h, W)
        out[top:done] = to_uint8(finish(top, done, finished) if finish else finished)
        band, top = band[:, done - top:], done
    return out
