"""Video files in and out, for `Stylizer.stylize_video` and the temporal evaluation: decoding
and encoding with PyAV (FFmpeg inside, imported only when a video is touched), numpy and
Pillow; no torch.

    info = probe("clip.mp4")                      # VideoInfo(width=1920, height=1080, ...)
    for frame in read_frames("clip.mp4", 512):    # uint8 (H, W, 3) RGB, long side <= 512
        ...
    stylizer.stylize_video("clip.mp4", "out.mp4", style="udnie")

Frames come as decoded, in the stream's coded orientation: a display-matrix rotation is not
applied to the pixels (the output carries the same matrix, so it displays the same way;
`VideoInfo.rotation` says how players turn it). Memory stays flat whatever the clip's length:
frames stream through two bounded queues, a decoder thread before the network and an encoder
thread after it (PyAV releases the GIL inside FFmpeg), see docs/video.md.
"""

import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path

import numpy as np

from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.frames import FrameBuffers, check_frame, scaled_size
from fststyle.runtime.overlap import overlapped
from fststyle.runtime.video_encode import (
    FORMATS,
    VIDEO_EXTENSIONS,
    AudioPlan,
    VideoWriter,
    plan_audio,
)

__all__ = ["VIDEO_EXTENSIONS", "VideoInfo", "VideoSummary", "probe", "read_frames",
           "stylize_frames", "stylize_video"]
QUEUE = 4  # frames waiting on each side of the network: enough to ride out codec jitter


@dataclass(frozen=True)
class VideoInfo:
    width: int  # coded size, before any rotation
    height: int
    fps: Fraction  # the stream's average rate (0 when the container does not say)
    frames: int | None  # None when the container does not store a count (WebM, Matroska)
    rotation: int  # degrees counter-clockwise that players turn it (PyAV's VideoFrame.rotation)
    has_audio: bool
    codec: str  # FFmpeg's decoder name: "h264", "vp9", "gif", ...


@dataclass(frozen=True)
class VideoSummary:
    path: Path
    frames: int
    seconds: float  # wall time, decoding and encoding included
    audio: str  # what happened to the sound: "audio copied (aac)", "no audio", ...


def open_video(path: Path):
    """An input container with a video stream, or a one-line ValueError naming the file."""
    import av

    if not path.is_file():
        raise ValueError(f"{path}: no such video file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file, not a video")
    try:
        container = av.open(str(path), metadata_errors="replace")
    except av.FFmpegError as e:
        raise ValueError(f"{path}: not a readable video ({_reason(e)})") from None
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        container.close()
        raise ValueError(f"{path}: no video stream (streams: {', '.join(kinds)})")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame and slice threads: decoding runs beside the network
    return container


def _reason(error: Exception) -> str:
    """FFmpeg's message without the file name PyAV appends (the caller names the file)."""
    return getattr(error, "strerror", None) or str(error).splitlines()[0]


def decoded(container, path: Path) -> Iterator:
    """The first video stream's frames; an FFmpeg error mid-stream names the file."""
    import av

    try:
        yield from container.decode(container.streams.video[0])
    except av.FFmpegError as e:
        raise ValueError(f"{path}: video decoding failed ({_reason(e)})") from None


def to_rgb(frame, size: tuple[int, int]) -> np.ndarray:
    """A decoded frame -> uint8 (H, W, 3) RGB at size (W, H): swscale converts and resizes
    (Lanczos, as Pillow does for images); transparency (GIF, VP9 alpha) composited on white
    as `imagefiles.ensure_rgb` does."""
    resize = {"interpolation": "LANCZOS"} if size != (frame.width, frame.height) else {}
    alpha = any(c.is_alpha for c in frame.format.components)
    if not alpha:
        return frame.to_ndarray(width=size[0], height=size[1], format="rgb24", **resize)
    rgba = frame.to_ndarray(width=size[0], height=size[1], format="rgba", **resize)
    a = rgba[..., 3:].astype(np.uint16)  # (H, W, 1)
    return ((rgba[..., :3] * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def display_matrix(frame) -> list[int] | None:
    """The frame's 3x3 display matrix (rotation and flips) as 9 ints, or None."""
    try:
        data = frame.side_data["DISPLAYMATRIX"]
    except KeyError:
        return None
    return np.frombuffer(bytes(data), np.int32).tolist()


def probe(path: str | Path) -> VideoInfo:
    """Size, rate, frame count, rotation, audio and codec of a video file (decodes one frame:
    the rotation travels on the decoded frames)."""
    path = Path(path)
    with open_video(path) as container:
        stream = container.streams.video[0]
        first = next(decoded(container, path), None)
        if first is None:
            raise ValueError(f"{path}: no decodable video frame")
        return VideoInfo(first.width, first.height,
                         Fraction(stream.average_rate or stream.guessed_rate or 0),
                         stream.frames or None, first.rotation, bool(container.streams.audio),
                         stream.codec_context.name)


def read_frames(path: str | Path, max_size: int | None = None) -> Iterator[np.ndarray]:
    """The video's frames as uint8 (H, W, 3) RGB, in coded orientation, long side downscaled to
    `max_size` (never up). The file is opened (and refused) now, read as you iterate."""
    path = Path(path)
    container = open_video(path)

    def frames():
        with container:
            size = None
            for frame in decoded(container, path):
                size = size or scaled_size((frame.width, frame.height), max_size)
                yield to_rgb(frame, size)
    return frames()


class FrameStyler:
    """`stylize_frame`'s reuse plus colour preservation and a style mask: the float buffers and
    the style weights (a mask's per-pixel ones too) are made once per frame size."""

    def __init__(self, stylizer, style=None, preserve_color: bool = False, mask=None):
        self.stylizer, self.style, self.preserve, self.mask = stylizer, style, preserve_color, mask
        self.buffers = self.weights = None
        self._weights(FrameBuffers(2, 2, stylizer.min_size))  # a bad style or mask fails now

    def _weights(self, buffers: FrameBuffers) -> np.ndarray:
        """(1, N) or (1, N, 1, 1) for a style, (1, N, H', W') for a mask at buffers' size."""
        if self.mask is None:
            return self.stylizer._row(self.style)
        return self.stylizer._mask_weights(self.mask, self.style, buffers)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) -> a new uint8 (H, W, 3) (callers may keep it)."""
        check_frame(frame)
        if self.buffers is None or self.buffers.size != frame.shape[:2]:
            self.buffers = FrameBuffers(*frame.shape[:2], self.stylizer.min_size)
            self.weights = self._weights(self.buffers)
        return self.stylizer._stylize_array(frame, self.weights, self.buffers, self.preserve)


def stylize_frames(stylizer, frames: Iterable[np.ndarray], style=None,
                   preserve_color: bool = False, mask=None) -> Iterator[np.ndarray]:
    """Stylize uint8 (H, W, 3) frames one by one, lazily; each result is a new array."""
    styler = FrameStyler(stylizer, style, preserve_color, mask)
    return (styler(frame) for frame in frames)


def stylize_video(stylizer, src: str | Path, dst: str | Path, style=None,
                  preserve_color: bool = False, max_size: int | None = None, mask=None,
                  progress: Callable[[int], object] | None = None,
                  crf: int | None = None) -> VideoSummary:
    """Stylize a video file into `dst` (.mp4/.mov/.mkv: H.264, .webm: VP9, .gif), keeping the
    source's frame times, size (or --max-size), rotation and audio. `progress(n)` is called
    as frames are done (e.g. a tqdm bar's update); crf: the encoder's quality (lower is
    better; x264 18, VP9 31 by default). Written to a temporary file renamed at the end: a
    failure leaves neither."""
    src, dst, start = Path(src), Path(dst), time.perf_counter()
    if dst.suffix.lower() not in FORMATS:
        raise ValueError(f"{dst}: unknown video suffix {dst.suffix!r} (expected one of "
                         f"{', '.join(sorted(FORMATS))})")
    styler = FrameStyler(stylizer, style, preserve_color, mask)
    with open_video(src) as container, atomic_path(dst) as tmp:
        items, head, audio = _demux(container, src, dst, max_size)
        writer = _writer(tmp, dst, container.streams.video[0], head[-1], audio, crf)
        frames = 0

        def network(item):  # in this thread, between the decoder's and the encoder's
            nonlocal frames
            if item[0] != "video":
                return item
            frames += 1
            styled = ("video", styler(item[1]), item[2])
            if progress:
                progress(1)
            return styled

        try:
            overlapped(chain(head, items), network, writer.write, QUEUE)
            writer.finish()
        except BaseException:
            writer.abandon()
            raise
    return VideoSummary(dst, frames, time.perf_counter() - start, audio.note)


def _demux(container, path: Path, dst: Path, max_size: int | None):
    """(the rest of the items, the items up to the first video frame, the audio plan). Items:
    ("video", uint8 (H, W, 3), pts, display matrix) and ("audio", packet or frame)."""
    import av

    video = container.streams.video[0]
    source = container.streams.audio[0] if container.streams.audio else None
    # Which codecs the output container takes, asked of one in memory (nothing is written).
    with av.open(io.BytesIO(), "w", format=FORMATS[dst.suffix.lower()]) as muxer:
        audio = plan_audio(source, muxer.format.name, muxer.supported_codecs)
    items = _items(container, path, video, audio, max_size)
    head = []
    for item in items:
        head.append(item)
        if item[0] == "video":
            return items, head, audio
    raise ValueError(f"{path}: no decodable video frame")


def _items(container, path: Path, video, audio: AudioPlan, max_size: int | None):
    import av

    size = None
    try:
        for packet in container.demux(video, *([audio.source] if audio.mode else [])):
            if packet.stream.type != "video":
                if audio.mode == "copy" and packet.dts is not None:
                    yield ("audio", packet)
                elif audio.mode == "encode":
                    yield from (("audio", frame) for frame in packet.decode())
                continue
            for frame in packet.decode():
                first = size is None
                size = size or scaled_size((frame.width, frame.height), max_size)
                yield ("video", to_rgb(frame, size), frame.pts,
                       display_matrix(frame) if first else None)
    except av.FFmpegError as e:
        raise ValueError(f"{path}: video decoding failed ({_reason(e)})") from None


def _writer(tmp: Path, dst: Path, video, first: tuple, audio: AudioPlan, crf) -> VideoWriter:
    image = first[1]  # (H, W, 3)
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    return VideoWriter(tmp, dst.suffix.lower(), (image.shape[1], image.shape[0]), rate,
                       video.time_base or 1 / rate, first[3], audio, crf,
                       video.codec_context.sample_aspect_ratio)
