"""The arrays around one network call, shared by `Stylizer.stylize` and `stylize_frame`: uint8
(H, W, 3) frames in and out, float32 (1, 3, H, W) buffers that a video stream reuses, padding
for images smaller than the network takes, and onnxruntime's session options. numpy only (and
onnxruntime for the options): the torch-free runtime uses it."""

import json

import numpy as np

from fststyle.runtime.hardware import physical_cores

EDGE_KERNEL = 9  # the RGB-side convolutions' kernel (Johnson et al. 2016: 9x9)
DOWNSAMPLES = 2  # stride-2 stages before the residual blocks (Johnson et al. 2016: two)
SAFE_MIN_SIZE = 16  # without architecture metadata: enough for 3 stages and kernels up to 31


def min_size(arch: dict | None) -> int:
    """The smallest H and W the network takes. Reflection padding needs pad < size (onnx Pad
    and torch's ReflectionPad2d both refuse otherwise): the edge convolutions' k // 2 at full
    size, and 1 for the 3x3 convolutions after `downsamples` stride-2 stages, which shrink
    H to ceil(H / 2**d); so H > k // 2 and H > 2**d. Unknown keys fall back to the defaults
    above, a missing arch to SAFE_MIN_SIZE."""
    if not arch:
        return SAFE_MIN_SIZE
    kernel = int(arch.get("edge_kernel", EDGE_KERNEL))
    downsamples = int(arch.get("downsamples", DOWNSAMPLES))
    return max(kernel // 2 + 1, 2 ** downsamples + 1)


def total_stride(arch: dict | None) -> int:
    """The network's total stride, 2 ** downsamples (8 without metadata: a multiple of the
    strides of 2 and 3 stages alike)."""
    return 2 ** int((arch or {}).get("downsamples", 3))


def scaled_size(size: tuple[int, int], max_size: int | None) -> tuple[int, int]:
    """(W, H) scaled so that the long side is at most `max_size` (never up), each side rounded
    and at least 1: the one rule of --max-size for images and video frames alike."""
    if max_size is None or max(size) <= max_size:
        return size
    scale = max_size / max(size)
    return tuple(max(1, round(s * scale)) for s in size)


def arch_from_metadata(metadata: dict[str, str]) -> dict | None:
    """The `training_config.arch` that fststyle.export records, or None."""
    try:
        arch = json.loads(metadata.get("training_config", "{}")).get("arch")
    except (ValueError, AttributeError):
        return None
    return arch if isinstance(arch, dict) else None


def check_frame(frame, name: str = "frame") -> None:
    """A uint8 (H, W, 3) array, or a one-line ValueError saying what it is instead."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 \
            or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        what = (f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray)
                else type(frame).__name__)
        raise ValueError(f"{name} must be a uint8 (H, W, 3) array, got {what}")


class FrameBuffers:
    """The network's float32 input and output for one frame size, allocated once and reused
    while the size stays. Frames smaller than `minimum` on a side sit in the middle of a
    `minimum`-sized buffer, mirrored outwards (numpy's "symmetric": works from 1 px, and the
    instance-norm statistics stay the frame's), and are cropped back out of the output."""

    def __init__(self, height: int, width: int, minimum: int):
        self.size = (height, width)
        ph, pw = max(height, minimum), max(width, minimum)
        top, left = (ph - height) // 2, (pw - width) // 2
        self.pads = ((top, ph - height - top), (left, pw - width - left))
        self.window = (slice(None), slice(top, top + height), slice(left, left + width))
        self.image = np.empty((1, 3, ph, pw), np.float32)  # (1, 3, H', W'), H' >= H, W' >= W
        self.output = np.empty_like(self.image)  # (1, 3, H', W'): onnxruntime writes here

    @property
    def padded(self) -> bool:
        return self.image.shape[2:] != self.size

    def load(self, frame: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) -> the input buffer, RGB in [0, 1] (padded); returns the frame's
        (3, H, W) view in it."""
        inner = self.image[0][self.window]  # (3, H, W) view
        np.divide(frame.transpose(2, 0, 1), np.float32(255), out=inner)
        if self.padded:
            self.image[0] = np.pad(inner, ((0, 0), *self.pads), mode="symmetric")
        return inner

    def pad_weights(self, weights: np.ndarray) -> np.ndarray:
        """Per-pixel (N, H, W) style weights, padded like the image."""
        return np.pad(weights, ((0, 0), *self.pads), mode="symmetric") if self.padded else weights

    def crop(self, output: np.ndarray) -> np.ndarray:
        """(1, 3, H', W') network output -> the frame's (3, H, W) view."""
        return output[0][self.window]


def to_uint8(image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(3, H, W) float RGB -> uint8 (H, W, 3): clipped to [0, 1], times 255, rounded half to
    even (np.round's rule). Overwrites `image`; writes into `out` when given."""
    np.clip(image, 0, 1, out=image)
    image *= 255
    np.rint(image, out=image)
    if out is None:
        out = np.empty((*image.shape[1:], 3), np.uint8)
    np.copyto(out, image.transpose(1, 2, 0), casting="unsafe")  # (H, W, 3)
    return out


def session_options(threads: int | None = None):
    """onnxruntime SessionOptions for this network on CPU, each measured against one change of
    it (docs/speed.md "Frames and session options": Intel Xeon, 2 CPUs, AVX-512 VNNI
    AVX512-BF16, onnxruntime 1.32, 256x256: 96 ms).

    intra-op threads: the physical cores unless given (1 thread: 168 ms; 4 on 2 cores: 180 ms;
    hyper-threads share the vector units the convolutions saturate). On a machine that other
    processes already load, fewer threads can win: the pool waits for its slowest thread.
    One inter-op thread, sequential execution: the graph is one chain (ORT_PARALLEL: 176 ms).
    ORT_ENABLE_ALL: adds the NCHWc convolutions for AVX-512 (EXTENDED: 124 ms). The memory
    arena (off: 111 ms) and memory pattern (off: 99 ms) stay on, onnxruntime's defaults.
    """
    import onnxruntime as ort

    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def releasing_run():
    """onnxruntime RunOptions whose run hands the session's CPU memory arena back at its end:
    for a run far larger than the ones that follow (a thumbnail before its tiles; a bench's
    1080p rows, each session otherwise holding its 2-9 GB arena between rounds)."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options
