"""A generated clip for the tests and scripts/bench_video.py, written with PyAV itself (not
with fststyle.runtime.video_encode, the code under test): a moving gradient with a bar, so
frames differ, and a 440 Hz sine."""

from pathlib import Path

import numpy as np


def write_clip(path: str | Path, size=(67, 45), fps=15, frames=12, audio="aac",
               codec="libx264", pix_fmt="yuv444p", rotation=None, sample_rate=44100):
    """Write the clip to `path` (its container from the suffix); returns `path`.

    audio: the sound's codec (None: no sound). codec: the video's (None: sound only).
    rotation: the display rotation in degrees recorded in the stream, or None.
    """
    import av

    w, h = size
    with av.open(str(path), "w") as container:
        if codec:
            video = container.add_stream(codec, rate=fps)
            video.width, video.height, video.pix_fmt = w, h, pix_fmt
            if rotation is not None:
                video.set_display_rotation(rotation)
        if audio:
            sound = container.add_stream(audio, rate=sample_rate, layout="mono")
        for i in range(frames if codec else 0):
            x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
            rgb = np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x + i / 2)], -1) * 200 + 20  # (H, W, 3)
            rgb[:, (3 * i) % w: (3 * i) % w + 4] = (240, 40, 40)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        if codec:
            container.mux(video.encode(None))
        if audio:
            t = np.arange(round(sample_rate * frames / fps)) / sample_rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]  # (1, samples)
            for k in range(0, wave.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, k:k + 1024]),
                                                   format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = sample_rate, k
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path
