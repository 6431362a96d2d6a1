"""The writing side of `fststyle.runtime.video`: the container and codec from the output's
suffix, the source's timing, rotation and aspect kept, and its audio copied or re-encoded.
PyAV (FFmpeg inside), numpy and Pillow only: the torch-free runtime uses it. See docs/video.md.
"""

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

# Output suffix -> FFmpeg muxer; inputs take the same suffixes (FFmpeg probes the real format).
FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".gif": "gif"}
VIDEO_EXTENSIONS = set(FORMATS)
# Re-encoding target when the container does not take the source's audio codec as it is.
AUDIO_FALLBACK = {"webm": "libopus"}  # WebM takes only Opus and Vorbis; the rest take AAC
CRF = {"libx264": 18, "libvpx-vp9": 31}  # x264's "visually lossless" end; libvpx's 1080p advice
# x264 "veryfast": ~4x less CPU per frame than the default "medium" at CRF 18, and the CPU that
# x264 uses is taken from the network, which shares the cores (docs/video.md, "Speed").
X264_PRESET = "veryfast"
# libvpx-vp9: constant quality (b=0 with crf), "good" deadline at cpu-used 4 (the fast end of
# "good"), row-mt: more threads on small frames (https://trac.ffmpeg.org/wiki/Encode/VP9).
VP9_OPTIONS = {"b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
BT601 = 5  # AVCOL_SPC_BT470BG: swscale's default RGB -> YUV matrix, tagged so players agree


def video_codec(suffix: str, width: int, height: int, crf: int | None = None):
    """(codec, pix_fmt, options) for an output suffix and frame size.

    H.264 in 4:2:0 needs even sizes (x264 refuses odd ones, and the SPS crops in 2-pixel units
    in 4:2:0), so an odd-sized frame is encoded in 4:4:4 (High 4:4:4 Predictive): the same
    size comes back, at the cost of players without 4:4:4 support (browsers, QuickTime); VP9
    and GIF take odd sizes as they are."""
    import av

    if crf is not None and not 0 <= crf <= 51:  # x264's range (VP9's goes to 63)
        raise ValueError(f"crf must be in 0..51, got {crf}")
    if suffix == ".gif":
        return "gif", "pal8", {}
    if suffix == ".webm":
        crf = CRF["libvpx-vp9"] if crf is None else crf
        return "libvpx-vp9", "yuv420p", {**VP9_OPTIONS, "crf": str(crf)}
    if "libx264" not in av.codecs_available:  # an FFmpeg built without x264: MPEG-4 Part 2
        return "mpeg4", "yuv420p", {"qscale": "3"}
    pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    crf = CRF["libx264"] if crf is None else crf  # 0: lossless (in 4:4:4, up to RGB <-> YUV)
    return "libx264", pix_fmt, {"crf": str(crf), "preset": X264_PRESET}


@dataclass
class AudioPlan:
    """What happens to the source's audio: mode "copy" (packets remuxed as they are),
    "encode" (decoded, re-encoded to `codec`) or None (no audio out); `note` says which."""
    source: object | None
    mode: str | None
    codec: str | None
    note: str


def plan_audio(source, container_format: str, supported: set[str]) -> AudioPlan:
    """Copy the first audio stream when the output container takes its codec, else re-encode
    it (AAC, Opus for WebM); GIF has no audio."""
    if source is None:
        return AudioPlan(None, None, None, "no audio")
    name = source.codec_context.name
    if container_format == "gif":
        return AudioPlan(None, None, None, f"audio ({name}) dropped: GIF has no sound")
    if name in supported:
        return AudioPlan(source, "copy", name, f"audio copied ({name})")
    codec = AUDIO_FALLBACK.get(container_format, "aac")
    return AudioPlan(source, "encode", codec, f"audio re-encoded {name} -> {codec} "
                                              f"({container_format} does not take {name})")


def rotation_of(matrix: list[int]) -> float:
    """Degrees counter-clockwise of a display matrix (FFmpeg's av_display_rotation_get, which
    PyAV's VideoFrame.rotation reads): the matrix is 16.16 fixed point, row-major."""
    return -math.degrees(math.atan2(matrix[1] / math.hypot(matrix[1], matrix[4]),
                                    matrix[0] / math.hypot(matrix[0], matrix[3])))


def palettized(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (H, W, 3) -> GIF's (indices (H, W), palette (256, 4) ARGB): each frame its own
    256 colours (octree), undithered: dithering noise changes frame to frame, i.e. flickers."""
    quantized = Image.fromarray(image).quantize(256, Image.Quantize.FASTOCTREE,
                                                dither=Image.Dither.NONE)
    rgb = np.zeros((256, 3), np.uint8)
    colours = np.frombuffer(bytes(quantized.getpalette()[:768]), np.uint8).reshape(-1, 3)
    rgb[:len(colours)] = colours
    palette = np.concatenate([np.full((256, 1), 255, np.uint8), rgb], 1)  # (256, 4) ARGB
    return np.asarray(quantized), palette


class VideoWriter:
    """One output file: `video(image, pts)` per stylized frame, `audio(item)` per audio
    packet or frame, in the source's order; `finish()` flushes. One thread at a time."""

    def __init__(self, path: Path, suffix: str, size: tuple[int, int], rate: Fraction,
                 time_base: Fraction, matrix: list[int] | None, audio: AudioPlan,
                 crf: int | None = None, sample_aspect_ratio: Fraction | None = None):
        import av

        fmt = FORMATS[suffix]
        # The format is named, not guessed: the temporary name's suffix is not the video's.
        options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        self.container = av.open(str(path), "w", format=fmt, options=options)
        # GIF has no display matrix: turn the pixels instead (flips are not carried).
        self.turns = round(rotation_of(matrix) / 90) % 4 if fmt == "gif" and matrix else 0
        size = size[::-1] if self.turns % 2 else size
        codec, self.pix_fmt, codec_options = video_codec(suffix, *size, crf)
        self.stream = self.container.add_stream(codec, rate=rate, options=codec_options)
        context = self.stream.codec_context
        context.width, context.height, context.pix_fmt = *size, self.pix_fmt
        # The source's clock (so variable frame rates and audio sync survive); MPEG-4 Part 2
        # caps the time-base denominator at 65535.
        self.time_base = Fraction(1, 1000) if codec == "mpeg4" else time_base
        context.time_base, self.source_base = self.time_base, time_base
        if codec != "gif":
            context.colorspace, context.color_range = BT601, 1  # 1: limited ("MPEG") range
        if sample_aspect_ratio:
            context.sample_aspect_ratio = sample_aspect_ratio
        if matrix is not None and fmt != "gif":  # rotation and flips, as in the source
            self.stream.set_display_matrix(matrix)
        self.audio_plan, self.audio_stream = audio, None
        if audio.mode == "copy":
            self.audio_stream = self.container.add_stream_from_template(audio.source)
        elif audio.mode == "encode":
            src = audio.source.codec_context
            rate_out = 48000 if audio.codec == "libopus" else src.sample_rate  # Opus: 48 kHz
            self.audio_stream = self.container.add_stream(audio.codec, rate=rate_out,
                                                          layout=src.layout.name)
        self.last_pts = None

    def video(self, image: np.ndarray, pts: int | None) -> None:
        """Encode one uint8 (H, W, 3) frame at `pts` (in the source's time base)."""
        import av

        if self.pix_fmt == "pal8":
            image = np.rot90(image, self.turns) if self.turns else image  # counter-clockwise
            frame = av.VideoFrame.from_ndarray(palettized(image), format="pal8")
        else:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self._pts(pts)
        frame.time_base = self.time_base
        self.container.mux(self.stream.encode(frame))

    def _pts(self, pts: int | None) -> int:
        """The source pts in this encoder's time base, strictly increasing (a frame without
        one, or out of order, follows the previous one by one frame's duration)."""
        step = max(1, round(1 / (self.stream.codec_context.framerate or 25) / self.time_base))
        if pts is not None:
            pts = round(pts * self.source_base / self.time_base)
        if self.last_pts is not None and (pts is None or pts <= self.last_pts):
            pts = self.last_pts + step
        self.last_pts = pts if pts is not None else 0
        return self.last_pts

    def audio(self, item) -> None:
        """A demuxed packet (copy) or a decoded frame (encode)."""
        if self.audio_plan.mode == "copy":
            item.stream = self.audio_stream
            self.container.mux(item)
        else:
            self.container.mux(self.audio_stream.encode(item))

    def write(self, item: tuple) -> None:
        """One item of `fststyle.runtime.video`'s stream: ("video", image, pts) or ("audio", x)."""
        if item[0] == "video":
            self.video(item[1], item[2])
        else:
            self.audio(item[1])

    def finish(self) -> None:
        """Flush the encoders and write the trailer."""
        self.container.mux(self.stream.encode(None))
        if self.audio_plan.mode == "encode":
            self.container.mux(self.audio_stream.encode(None))
        self.container.close()

    def abandon(self) -> None:
        """Close after an error; the file is the temporary one and will be removed."""
        try:
            self.container.close()
        except Exception:  # a half-written file's trailer may fail: it is deleted anyway
            pass
