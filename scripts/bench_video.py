"""Milliseconds per frame of a whole video (decode + stylize + encode, overlapped:
`Stylizer.stylize_video`) against `Stylizer.stylize_frame` alone on the same decoded frames, side
by side, on a generated clip (H.264, 30 fps, AAC) per size.

    python scripts/bench_video.py --model exports/realtime.onnx
    python scripts/bench_video.py --model exports/demo.onnx --sizes 640x360 --frames 30 --out .webm

--runs rounds, each timing the frame path then the video path; prints the fastest round of each
(Python's timeit docs recommend the minimum: the least disturbed) and the load average, since
other processes' load falls on both; and the video path with the network replaced by the
identity (what decoding and encoding cost). The target (docs/video.md): the video path within 10% of
the frame path.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fststyle.runtime import Stylizer
from fststyle.runtime.hardware import describe_cpu
from fststyle.runtime.video import read_frames


def write_clip(path: Path, size: tuple[int, int], frames: int) -> Path:
    """A moving gradient at 30 fps in H.264 (yuv420p, x264's default settings) with a sine in
    AAC: what a phone or screen recording gives, small."""
    import av

    w, h = size
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        sound = container.add_stream("aac", rate=48000, layout="mono")
        x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
        for i in range(frames):
            rgb = np.stack([x, y, 0.5 + 0.4 * np.sin(8 * x + i / 3)], -1) * 200 + 20  # (H, W, 3)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        t = np.arange(48000 * frames // 30) / 48000
        wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]  # (1, samples)
        for k in range(0, wave.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, k:k + 1024]),
                                               format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, k
            container.mux(sound.encode(chunk))
        container.mux(sound.encode(None))
    return path


def frame_ms(stylizer: Stylizer, frames: list[np.ndarray], style) -> float:
    """ms/frame of stylize_frame over already decoded frames, into one reused output."""
    out = np.empty_like(frames[0])
    start = time.perf_counter()
    for frame in frames:
        stylizer.stylize_frame(frame, style, out=out)
    return 1000 * (time.perf_counter() - start) / len(frames)


def video_ms(stylizer: Stylizer, clip: Path, out: Path, style) -> float:
    """ms/frame of stylize_video, decoding and encoding included (its own wall clock)."""
    done = stylizer.stylize_video(clip, out, style)
    return 1000 * done.seconds / done.frames


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, required=True, help=".onnx export")
    p.add_argument("--sizes", nargs="+", default=["640x360", "256x256"], help="WxH")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--threads", type=int, help="intra-op threads (default: physical cores)")
    p.add_argument("--out", default=".mp4", help="output suffix: .mp4 .webm .gif ...")
    args = p.parse_args(argv)
    print(describe_cpu(), f"onnxruntime {ort.__version__}", sep="; ")
    stylizer = Stylizer(args.model, threads=args.threads)
    style, results = stylizer.styles[0], {}
    # The same path with the network call replaced by the identity: decoding, conversions and
    # encoding alone, i.e. the work that the threads must hide behind the network.
    no_network = Stylizer(args.model, threads=args.threads)
    no_network._run = lambda image, weights, out=None: image
    with tempfile.TemporaryDirectory() as folder:
        for text in args.sizes:
            size = tuple(int(v) for v in text.split("x"))
            clip = write_clip(Path(folder) / f"{text}.mp4", size, args.frames)
            frames = list(read_frames(clip))
            stylizer.stylize_frame(frames[0], style)  # warm-up: buffers, onnxruntime's arena
            times = {"stylize_frame": [], "video": [], "no network": []}
            out = Path(folder) / f"o{args.out}"
            for _ in range(args.runs):
                times["stylize_frame"].append(frame_ms(stylizer, frames, style))
                times["video"].append(video_ms(stylizer, clip, out, style))
                times["no network"].append(video_ms(no_network, clip, out, style))
            best = {name: min(t) for name, t in times.items()}
            print(f"{text}\t{args.frames} frames\tstylize_frame {best['stylize_frame']:.1f} "
                  f"ms/frame\tvideo ({args.out}) {best['video']:.1f} ms/frame\t"
                  f"{100 * (best['video'] / best['stylize_frame'] - 1):+.0f}%\t"
                  f"video without the network {best['no network']:.1f} ms/frame\t"
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
            results[text] = best
    return results


if __name__ == "__main__":
    main()
