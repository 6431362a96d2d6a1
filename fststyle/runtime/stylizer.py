"""Run an exported fststyle model with onnxruntime, numpy and Pillow only (no torch).

    from fststyle.runtime import Stylizer
    stylizer = Stylizer("exports/demo.onnx")
    print(stylizer.styles)                                        # ['starry_night', ...]
    out = stylizer.stylize(Image.open("photo.jpg"), style={"udnie": 0.7, "great_wave": 0.3})
    for frame in frames:                                          # uint8 (H, W, 3) arrays
        shown = stylizer.stylize_frame(frame, "udnie", out=shown)  # no allocation per frame

    stylizer.stylize_video("clip.mp4", "out.mp4", style="udnie")  # fststyle.runtime.video

This module must stay importable without torch or Lightning (a test enforces it): it uses
only the modules beside it in `fststyle.runtime`, which are torch-free too.
`fststyle.stylize` reuses everything below for its torch path as well.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from fststyle.runtime import video
from fststyle.runtime.frames import (
    FrameBuffers,
    arch_from_metadata,
    check_frame,
    min_size,
    scaled_size,
    session_options,
    to_uint8,
    total_stride,
)
from fststyle.runtime.imagefiles import ensure_rgb
from fststyle.runtime.masks import mask_weights
from fststyle.runtime.shipped import shipped_model
from fststyle.runtime.styles import style_weights, with_strength
from fststyle.runtime.tiles import TiledSessions, stylize_tiled, tile_size

# ITU-R BT.601 full-range RGB -> YCbCr (the JPEG convention), rows: Y, Cb, Cr. Cb and Cr are
# centred on 0 here, so the inverse is the plain matrix inverse.
RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                         [-0.168736, -0.331264, 0.5],
                         [0.5, -0.418688, -0.081312]], dtype=np.float32)
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR).astype(np.float32)


def limit_size(image: Image.Image, max_size: int | None) -> Image.Image:
    """Downscale so that the long side is at most `max_size` (never upscale)."""
    size = scaled_size(image.size, max_size)
    return image if size == image.size else image.resize(size, Image.LANCZOS)


def luminance_transfer(content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Luminance-only transfer (Gatys et al. 2016, "Preserving Color in Neural Artistic Style
    Transfer"): the stylized image's luminance Y with the content's chroma (Cb, Cr).

    Both (H, W, 3) float RGB in [0, 1]; returns the same.
    """
    y = stylized @ RGB_TO_YCBCR[0]  # (H, W)
    cbcr = content @ RGB_TO_YCBCR[1:].T  # (H, W, 2)
    ycbcr = np.concatenate([y[..., None], cbcr], axis=-1)
    return np.clip(ycbcr @ YCBCR_TO_RGB.T, 0.0, 1.0)


class Stylizer:
    """An exported `.onnx` model behind one call: `stylize(image, style=...)`, or for video
    `stylize_frame(frame, style, out=...)`.

    path: an exported .onnx model; None: the shipped 11-style network (runtime.shipped).
    threads: onnxruntime's intra-op threads (default: the physical cores).
    """

    can_tile = True  # tiles (runtime.tiles) rewrite the ONNX graph

    def __init__(self, path: str | Path | None = None, threads: int | None = None,
                 providers: list[str] | None = None):
        import onnxruntime as ort

        path = shipped_model("full") if path is None else Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        available = ort.get_available_providers()
        if providers is None:  # CUDA when this onnxruntime build has it, else CPU
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                         if p in available]
        try:
            self.session = ort.InferenceSession(str(path), session_options(threads),
                                                providers=providers)
        except Exception as e:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: not a loadable ONNX model ({e})") from e
        meta = self.session.get_modelmeta().custom_metadata_map
        if "styles" not in meta:
            raise ValueError(f"{path}: no 'styles' metadata; export it with fststyle.export")
        self.metadata = meta
        self.styles: list[str] = json.loads(meta["styles"])
        self.baked = len(self.session.get_inputs()) == 1  # exported with --style NAME
        # Exported with --spatial: style_weights is per-pixel (B, N, H', W').
        self.spatial = not self.baked and len(self.session.get_inputs()[1].shape) == 4
        self._check_signature(path)
        self._init_frames(arch_from_metadata(meta))
        self.path, self._threads = path, threads
        self._tiled: TiledSessions | None = None  # made on the first tiled call

    def _init_frames(self, arch: dict | None) -> None:
        """The smallest size the network takes, and stylize_frame's reused state."""
        self.min_size, self.stride = min_size(arch), total_stride(arch)
        self._buffers: FrameBuffers | None = None  # the last frame size's arrays
        self._rows: dict = {}  # style -> its (1, N) or (1, N, 1, 1) style_weights

    def _check_signature(self, path: Path) -> None:
        """A foreign or damaged model fails here, by name, not deep inside onnxruntime."""
        inputs = {i.name: i for i in self.session.get_inputs()}
        expected = {"image"} if self.baked else {"image", "style_weights"}
        outputs = [o.name for o in self.session.get_outputs()]
        problem = None
        if set(inputs) != expected or outputs != ["stylized"]:
            problem = (f"inputs {sorted(inputs)} and outputs {outputs}, expected "
                       f"{sorted(expected)} and ['stylized']")
        elif len(inputs["image"].shape) != 4 or inputs["image"].type != "tensor(float)":
            problem = f"input 'image' is {inputs['image'].type} {inputs['image'].shape}"
        elif not self.baked and inputs["style_weights"].shape[1] not in (len(self.styles),):
            problem = (f"'style_weights' has {inputs['style_weights'].shape[1]} columns but the "
                       f"metadata names {len(self.styles)} styles")
        if problem:
            raise ValueError(f"{path}: not an fststyle model: {problem}")

    def stylize(self, image, style=None, preserve_color: bool = False,
                max_size: int | None = None, mask=None, strength: float = 1.0,
                tile: int | None = None):
        """Stylize a PIL image or a uint8 (H, W, 3) array; returns the same kind.

        style: a name, an index or a {name: weight} mix (optional for one-style models);
            with one mask: the two styles it separates, "a,b" (white = a, black = b).
        preserve_color: keep the content's colours (luminance-only transfer).
        max_size: downscale the long side to at most this many pixels first.
        mask: spatial mixing (fststyle.runtime.masks): one mask (file, PIL image or uint8
            array) with two styles, or {name: mask} one per style. Needs an export made with
            --spatial.
        strength: 0 (the photo, as the network renders it) ... 1 (the full style): see
            with_strength; not with a mask.
        tile: stylize in tiles of this many px with a thumbnail's instance-norm statistics,
            in bounded memory (fststyle.runtime.tiles); None: tiles of tiles.TILE px above
            tiles.AUTO_PIXELS pixels, else whole; 0: whole.
        """
        if mask is None:
            weights = style_weights(with_strength(style, strength, self.styles),
                                    self.styles)  # (N,)
        elif strength != 1:
            raise ValueError("--strength does not combine with a style mask")
        array = self._as_array(image, max_size)  # (H, W, 3) uint8
        tile = tile_size(tile, array.shape[:2], auto=self.can_tile)
        if tile:
            if mask is not None:
                raise ValueError("--tile does not combine with a style mask")
            out = self._stylize_tiled(array, weights, tile, preserve_color)
            return out if isinstance(image, np.ndarray) else Image.fromarray(out)
        buffers = FrameBuffers(*array.shape[:2], self.min_size)  # this call's own: thread-safe
        if mask is not None:
            weights = self._mask_weights(mask, style, buffers)  # (1, N, H', W')
        else:  # (1, N), or (1, N, 1, 1) for a spatial export: one mix everywhere
            weights = weights[None, :, None, None] if self.spatial else weights[None]
        out = self._stylize_array(array, weights, buffers, preserve_color)
        return out if isinstance(image, np.ndarray) else Image.fromarray(out)

    def style_feed(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """(N,) style weights -> the style input of one photo's run: {"style_weights": (1, N),
        (1, N, 1, 1) for a spatial export}, {} for a baked one."""
        row = weights[None, :, None, None] if self.spatial else weights[None]
        return {} if self.baked else {"style_weights": row}

    def _stylize_tiled(self, array: np.ndarray, weights: np.ndarray, tile: int,
                       preserve_color: bool) -> np.ndarray:
        """stylize's path for large photos: uint8 (H, W, 3) -> uint8 (H, W, 3) in tiles."""
        if self._tiled is None:
            self._tiled = TiledSessions(self.path, session_options(self._threads),
                                        self.session.get_providers())

        def keep_colours(top: int, bottom: int, y: np.ndarray) -> np.ndarray:
            content = array[top:bottom].astype(np.float32) / 255  # (h, W, 3)
            return luminance_transfer(content, y.transpose(1, 2, 0)).transpose(2, 0, 1)

        return stylize_tiled(self._tiled, array, self.style_feed(weights), self.min_size,
                             self.stride, tile, finish=keep_colours if preserve_color else None)

    def _mask_weights(self, mask, style, buffers: FrameBuffers) -> np.ndarray:
        """A style mask's per-pixel (1, N, H', W') style_weights for `buffers`' frame size,
        padded like the image; a one-line ValueError for a model without --spatial."""
        if not self.spatial:
            raise ValueError("a style mask needs per-pixel style weights: export the model "
                             "with `python -m fststyle.export MODEL --spatial`")
        height, width = buffers.size
        return buffers.pad_weights(mask_weights(mask, style, self.styles, (width, height)))[None]

    def stylize_frame(self, frame: np.ndarray, style=None,
                      out: np.ndarray | None = None) -> np.ndarray:
        """Stylize one video frame: uint8 (H, W, 3) RGB in, uint8 (H, W, 3) out (into `out`
        when given, e.g. the previous result). The float buffers and the style's weights row
        are kept from call to call while the size and style stay, and nothing goes through
        PIL: a stream allocates nothing per frame. Not thread-safe (one Stylizer per stream);
        `stylize` is."""
        check_frame(frame)
        if out is not None:
            check_frame(out, "out")
            if out.shape != frame.shape:
                raise ValueError(f"out has shape {out.shape}, the frame {frame.shape}")
        if self._buffers is None or self._buffers.size != frame.shape[:2]:
            self._buffers = FrameBuffers(*frame.shape[:2], self.min_size)
        return self._stylize_array(frame, self._row(style), self._buffers, out=out)

    def _row(self, style) -> np.ndarray:
        """The (1, N) style_weights of `style` ((1, N, 1, 1) for a spatial export), cached."""
        key = tuple(sorted(style.items())) if isinstance(style, dict) else style
        if key not in self._rows:
            if len(self._rows) >= 64:  # a mix animated frame by frame: keep the cache small
                self._rows.clear()
            row = style_weights(style, self.styles)[None]  # (1, N)
            self._rows[key] = row[..., None, None] if self.spatial else row
        return self._rows[key]

    @staticmethod
    def _as_array(image, max_size: int | None) -> np.ndarray:
        """A PIL image or uint8 (H, W, 3) array -> uint8 (H, W, 3), downscaled to max_size."""
        if isinstance(image, np.ndarray):
            check_frame(image, "image array")
            if max_size is None or max(image.shape[:2]) <= max_size:
                return image
            image = Image.fromarray(image)
        elif not isinstance(image, Image.Image):
            raise TypeError(f"image must be a PIL image or a uint8 array, got {type(image)}")
        return np.asarray(limit_size(ensure_rgb(image), max_size))

    def _stylize_array(self, frame: np.ndarray, weights: np.ndarray, buffers: FrameBuffers,
                       preserve_color: bool = False, out: np.ndarray | None = None):
        """The one path of stylize and stylize_frame: uint8 (H, W, 3) -> uint8 (H, W, 3)."""
        content = buffers.load(frame)  # (3, H, W) float32 in [0, 1]
        y = buffers.crop(self._run(buffers.image, weights, buffers.output))  # (3, H, W)
        if preserve_color:
            y = luminance_transfer(content.transpose(1, 2, 0), y.transpose(1, 2, 0))
            y = y.transpose(2, 0, 1)  # (3, H, W)
        return to_uint8(y, out)

    def _run(self, image: np.ndarray, weights: np.ndarray,
             out: np.ndarray | None = None) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1], (B, N) or (B, N, H', W') weights -> (B, 3, H, W)
        in [0, 1], written into `out` when given (onnxruntime's IOBinding: no copy)."""
        feed = {"image": image} if self.baked else {"image": image, "style_weights": weights}
        if out is None:
            return self.session.run(["stylized"], feed)[0]
        binding = self.session.io_binding()
        for name, value in feed.items():
            binding.bind_cpu_input(name, value)
        binding.bind_output("stylized", "cpu", 0, np.float32, out.shape, out.ctypes.data)
        self.session.run_with_iobinding(binding)
        return out

    # Video (fststyle.runtime.video, which imports PyAV only when called): whole files, and
    # frame iterators with colour preservation and masks.
    stylize_video = video.stylize_video
    stylize_frames = video.stylize_frames
