"""The first instance norms' statistics taken exactly, over the tiles of the whole photo.

A thumbnail's statistics (runtime.tiles) stand in worst for the photo's in the first layers,
which see the detail the thumbnail lost. So each of the first few norms is made exact in turn:
its input computed tile by tile (the norms before it given their exact statistics, those
after it never reached), summed over the part of each tile that tile owns. In turn, not all
at once: the thumbnail's statistics refined all together are no longer consistent with each
other and drift further from the photo's with every such pass (docs/speed.md). Each pass runs
the tile graph cut at that norm's input, which the first layers make cheap.

The cut graph's outputs, per tile: `exact_sum`, `exact_square` (B, C, 1, 1) float32, the sums
of (x - the given mean) and of its square over the window `tiles_window` (top, left, bottom,
right: the tile's own part, in input pixels), and `exact_shape`, the window's shape in x.
"""

import copy

import numpy as np
import onnx
from onnx import TensorProto, helper

from fststyle.runtime.frames import FrameBuffers

EXACT_NORMS = 3  # tiled vs whole at 4 MP: 2.19 -> 1.25/255, ~+20% time (docs/speed.md)
WINDOW = "tiles_window"
OUTPUTS = ["exact_sum", "exact_square", "exact_shape"]


def cut_graph(tile: onnx.ModelProto, x: str, centre: str) -> onnx.ModelProto:
    """The tile graph's nodes that make `x` (an instance norm's input), with the window sums
    of x - `centre` (a (B, C, 1, 1) float32 input) as its outputs."""
    model = copy.deepcopy(tile)
    graph = model.graph
    constants = {"exact_one": [1], "exact_2": [2], "exact_4": [4], "exact_axes": [2, 3],
                 "exact_tl": [0, 1], "exact_br": [2, 3]}
    nodes = [helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name + "_value", TensorProto.INT64, [len(v)], v)) for name, v in constants.items()]
    nodes += [
        helper.make_node("Shape", ["image"], ["exact_image_shape"]),
        helper.make_node("Shape", [x], ["exact_x_shape"]),
        helper.make_node("Slice", ["exact_image_shape", "exact_2", "exact_4"], ["exact_HW"]),
        helper.make_node("Slice", ["exact_x_shape", "exact_2", "exact_4"], ["exact_hw"]),
        # the layer's stride s = ceil(H / h): every stride-2 layer rounds its size up
        helper.make_node("Add", ["exact_HW", "exact_hw"], ["exact_Hh"]),
        helper.make_node("Sub", ["exact_Hh", "exact_one"], ["exact_Hh1"]),
        helper.make_node("Div", ["exact_Hh1", "exact_hw"], ["exact_s"]),
        helper.make_node("Sub", ["exact_s", "exact_one"], ["exact_s1"]),
        *_ceil_divide("tl", "exact_s", "exact_s1"), *_ceil_divide("br", "exact_s", "exact_s1"),
        helper.make_node("Slice", [x, "exact_tl_at", "exact_br_at", "exact_axes"],
                         ["exact_window"]),  # (B, C, h', w')
        helper.make_node("Shape", ["exact_window"], ["exact_shape"]),
        helper.make_node("Cast", ["exact_window"], ["exact_float"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["exact_float", centre], ["exact_centred"]),
        helper.make_node("ReduceSum", ["exact_centred", "exact_axes"], ["exact_sum"]),
        helper.make_node("Mul", ["exact_centred", "exact_centred"], ["exact_squared"]),
        helper.make_node("ReduceSum", ["exact_squared", "exact_axes"], ["exact_square"])]
    graph.node.extend(nodes)
    graph.input.append(helper.make_tensor_value_info(WINDOW, TensorProto.INT64, [4]))
    _prune(graph)
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info(name, TensorProto.INT64 if name ==
                                                       "exact_shape" else TensorProto.FLOAT,
                                                       None) for name in OUTPUTS])
    return model


def _ceil_divide(corner: str, s: str, s1: str) -> list[onnx.NodeProto]:
    """The window's corner (2 entries of tiles_window) in the layer's pixels: ceil(v / s)."""
    p = f"exact_{corner}"
    return [helper.make_node("Gather", [WINDOW, p], [p + "_in"], axis=0),
            helper.make_node("Add", [p + "_in", s1], [p + "_up"]),
            helper.make_node("Div", [p + "_up", s], [p + "_at"])]


def _prune(graph: onnx.GraphProto) -> None:
    """Keep the nodes, inputs and initializers that OUTPUTS need (nothing runs past them)."""
    need, keep = set(OUTPUTS), []
    for node in reversed(graph.node):
        if need.intersection(node.output):
            keep.append(node)
            need.update(name for name in node.input if name)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    for field in (graph.input, graph.initializer):
        kept = [v for v in field if v.name in need]
        del field[:]
        field.extend(kept)


def owned(bounds: list[tuple[int, int]], align: int) -> list[tuple[int, int]]:
    """Each tile's own part of one side, (start, end): the sides split in the middle of each
    overlap, on a multiple of `align` (the network's total stride), so that every layer's
    pixels split between the tiles exactly, each one counted once."""
    cuts = [(b[0] + a[1]) // 2 // align * align for a, b in zip(bounds, bounds[1:])]
    ends = [0, *cuts, bounds[-1][1]]
    return list(zip(ends, ends[1:]))


def exact_statistics(sessions: list, frame: np.ndarray, feed: dict, min_size: int,
                     rows: list[tuple[int, int]], cols: list[tuple[int, int]],
                     align: int) -> dict[str, np.ndarray]:
    """`feed` with stats_mean_<i>, stats_var_<i> of the first len(sessions) norms made the
    photo's own, one pass over the tiles per norm (session i: cut_graph at norm i)."""
    tiles = [((y0, y1, x0, x1), (t, left, b, right))
             for (y0, y1), (t, b) in zip(rows, owned(rows, align))
             for (x0, x1), (left, right) in zip(cols, owned(cols, align))]
    for i, session in enumerate(sessions):
        names = {v.name for v in session.get_inputs()}
        total, square, count = 0.0, 0.0, 0
        for (y0, y1, x0, x1), (t, left, b, right) in tiles:
            buffers = FrameBuffers(y1 - y0, x1 - x0, min_size)
            buffers.load(frame[y0:y1, x0:x1])
            (py, _), (px, _) = buffers.pads
            window = np.array([t - y0 + py, left - x0 + px, b - y0 + py, right - x0 + px])
            given = {**feed, "image": buffers.image, WINDOW: window}
            s, q, shape = session.run(OUTPUTS, {k: v for k, v in given.items() if k in names})
            total, square = total + s.astype(np.float64), square + q.astype(np.float64)
            count += int(shape[2] * shape[3])
        shift = total / count  # the exact mean minus the given one
        feed = {**feed, f"stats_mean_{i}": (feed[f"stats_mean_{i}"] + shift).astype(np.float32),
                f"stats_var_{i}": (square / count - shift**2).astype(np.float32)}
    return feed
