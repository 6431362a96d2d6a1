"""Video in and out (`fststyle.runtime.video`, `python -m fststyle.stylize CLIP`): size, frame
rate, frame count, rotation and sound kept in each container; the frames really stylized;
style mixes, colour preservation, --max-size, masks, .safetensors; bad files refused in one line
leaving nothing behind; a run that fails midway leaves nothing; no torch in the runtime path."""

import re
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest

from fststyle.runtime import Stylizer
from fststyle.runtime.overlap import overlapped
from fststyle.runtime.video import FrameStyler, probe, read_frames
from fststyle.stylize import cli, main

from helpers import BLOCK_TORCH


def streams(path) -> dict:
    """{"size", "fps", "frames" (decoded), "audio" codec or None, "pix_fmt", "rotation"}."""
    info = probe(path)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        pix_fmt = container.streams.video[0].codec_context.pix_fmt
    return {"size": (info.width, info.height), "fps": info.fps, "audio": audio,
            "frames": sum(1 for _ in read_frames(path)), "pix_fmt": pix_fmt,
            "rotation": info.rotation}


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_probe_and_read_frames(clips):
    info = probe(clips["mp4"])
    assert (info.width, info.height, info.fps, info.frames) == (67, 45, 15, 12)
    assert (info.rotation, info.has_audio, info.codec) == (90, True, "h264")
    frames = list(read_frames(clips["mp4"], max_size=40))
    assert len(frames) == 12 and frames[0].shape == (27, 40, 3) and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[5])  # the clip moves


@pytest.mark.parametrize("suffix, audio", [(".mp4", "aac"), (".mov", "aac"), (".mkv", "aac"),
                                           (".webm", "opus")])
def test_containers_keep_size_rate_frames_rotation_and_sound(tiny_onnx, clips, tmp_path, suffix,
                                                             audio, capsys):
    out = tmp_path / f"out{suffix}"
    assert main(["--model", str(tiny_onnx), "--style", "s1", str(clips["mp4"]),
                 "--out", str(out)]) == 0
    got = streams(out)
    assert got == {"size": (67, 45), "fps": 15, "frames": 12, "audio": audio,
                   "pix_fmt": "yuv444p" if suffix != ".webm" else "yuv420p", "rotation": 90}
    err = capsys.readouterr().err
    assert "12/12" in err and "frame/s" in err  # tqdm's bar
    note = "audio copied (aac)" if audio == "aac" else "audio re-encoded aac -> libopus"
    assert f"out{suffix}: 12 frames in " in err and note in err
    assert leftovers(tmp_path) == [out.name]  # no temporary file left


def test_gif_in_and_out_and_folder_out(tiny_onnx, clips, tmp_path, capsys):
    folder = tmp_path / "stylized"
    assert main(["--model", str(tiny_onnx), "--style", "1", str(clips["gif"]), str(clips["mp4"]),
                 "--out", str(folder)]) == 0
    assert leftovers(folder) == ["anim.gif", "clip.mp4"]
    gif = streams(folder / "anim.gif")
    assert (gif["size"], gif["frames"], gif["fps"], gif["audio"]) == ((31, 20), 12, 10, None)
    assert "wrote 2 video(s)" in capsys.readouterr().err
    assert main(["--model", str(tiny_onnx), "--style", "1", str(clips["mp4"]),
                 "--out", str(tmp_path / "turned.gif")]) == 0
    turned = streams(tmp_path / "turned.gif")  # GIF has no display matrix: pixels turned
    assert (turned["size"], turned["frames"], turned["rotation"]) == ((45, 67), 12, 0)
    assert "audio (aac) dropped: GIF has no sound" in capsys.readouterr().err


def mean_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(x.astype(int) - y).mean() for x, y in zip(a, b, strict=True)]))


def test_frames_are_stylized_like_stylize_frame(tiny_onnx, clips, tmp_path):
    """The decoded output against stylize_frame on the decoded input: at --crf 0 (lossless
    H.264 in 4:4:4) up to RGB <-> YUV rounding, at the default CRF within codec error; the
    other style is far from both."""
    stylizer = Stylizer(tiny_onnx, threads=1)
    summary = stylizer.stylize_video(clips["mp4"], tmp_path / "s2.mp4", style="s2", crf=0)
    assert (summary.frames, summary.audio) == (12, "audio copied (aac)") and summary.seconds > 0
    got = list(read_frames(tmp_path / "s2.mp4"))
    want = [stylizer.stylize_frame(f, "s2") for f in read_frames(clips["mp4"])]
    other = [stylizer.stylize_frame(f, "s1") for f in read_frames(clips["mp4"])]
    assert mean_diff(got, want) < 1 and max(np.abs(a.astype(int) - b).max()
                                            for a, b in zip(got, want)) <= 3
    assert mean_diff(got, other) > 30
    stylizer.stylize_video(clips["mp4"], tmp_path / "crf18.mp4", style="s2")
    assert mean_diff(list(read_frames(tmp_path / "crf18.mp4")), want) < 12  # noise-like textures
    lazy = stylizer.stylize_frames(read_frames(clips["mp4"]), "s2")
    assert all(np.array_equal(a, b) for a, b in zip(lazy, want, strict=True))


@pytest.mark.parametrize("model_kind", ["onnx", "safetensors"])
def test_mix_preserve_color_and_max_size(tiny_onnx, tiny_model, clips, tmp_path, model_kind):
    """--max-size to an odd size (4:4:4) and an even one (4:2:0); the mix and the colour
    preservation as FrameStyler computes them, from .onnx and .safetensors alike."""
    model = tiny_onnx if model_kind == "onnx" else tiny_model
    for max_size, size, pix_fmt in [(40, (40, 27), "yuv444p"), (60, (60, 40), "yuv420p")]:
        out = tmp_path / f"{max_size}.mkv"
        assert main(["--model", str(model), "--style", "s1=0.3,s2=0.7", "--preserve-color",
                     "--max-size", str(max_size), "--crf", "0", str(clips["mp4"]),
                     "--out", str(out)]) == 0
        got = streams(out)
        assert (got["size"], got["pix_fmt"], got["frames"]) == (size, pix_fmt, 12)
    styler = FrameStyler(Stylizer(tiny_onnx), {"s1": 0.3, "s2": 0.7}, preserve_color=True)
    want = [styler(f) for f in read_frames(clips["mp4"], max_size=40)]
    plain = [Stylizer(tiny_onnx).stylize_frame(f, "s1") for f in read_frames(clips["mp4"], 40)]
    got = list(read_frames(tmp_path / "40.mkv"))
    assert mean_diff(got, want) < 1 and mean_diff(got, plain) > 30


def test_style_mask_on_a_spatial_export(spatial_onnx, tiny_onnx, clips, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(tmp_path / "white.png")
    out = tmp_path / "masked.mp4"
    assert main(["--model", str(spatial_onnx), "--style", "s1,s2", "--style-mask",
                 str(tmp_path / "white.png"), "--crf", "0", str(clips["mp4"]),
                 "--out", str(out)]) == 0
    s1 = [Stylizer(tiny_onnx).stylize_frame(f, "s1") for f in read_frames(clips["mp4"])]
    s2 = [Stylizer(tiny_onnx).stylize_frame(f, "s2") for f in read_frames(clips["mp4"])]
    got = list(read_frames(out))
    assert mean_diff(got, s1) < 1 and mean_diff(got, s2) > 30  # white: all s1


def test_crf_trades_size_for_quality(tiny_onnx, clips, tmp_path):
    sizes = []
    for crf in (4, 40):
        out = tmp_path / f"crf{crf}.mp4"
        assert main(["--model", str(tiny_onnx), "--style", "s1", "--crf", str(crf),
                     str(clips["mp4"]), "--out", str(out)]) == 0
        sizes.append(out.stat().st_size)
    assert sizes[0] > 2 * sizes[1]


@pytest.mark.parametrize("name, message", [
    ("audio_only", "sound.mp4: no video stream (streams: audio)"),
    ("empty", "empty.mp4: empty file, not a video"),
    ("corrupt", "corrupt.mkv: not a readable video (Invalid data found"),
    ("truncated", "truncated.mov: not a readable video ("),
])
def test_bad_files_fail_in_one_line_and_leave_nothing(tiny_onnx, clips, tmp_path, capsys,
                                                      name, message):
    out = tmp_path / "out"
    assert main(["--model", str(tiny_onnx), "--style", "s1", str(clips[name]),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "failed:" in x)
    assert line.startswith("fststyle.stylize: failed: ") and message in line, err
    assert leftovers(out) == []
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        Stylizer(tiny_onnx).stylize_video(clips[name], tmp_path / "lib.mp4", "s1")
    assert "\n" not in str(info.value) and str(clips[name]) in str(info.value)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("argv, message", [
    (["{mp4}", "--out", "{tmp}/out.png"], "--out {tmp}/out.png is an image file name"),
    (["{png}", "--out", "{tmp}/out.mp4"], "--out {tmp}/out.mp4 is a video file name"),
    (["{mp4}", "--crf", "60", "--out", "{tmp}/o.mp4"], "--crf must be in 0..51, got 60"),
])
def test_bad_options_exit_2(tiny_onnx, clips, tmp_path, capsys, argv, message):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "in.png")
    fill = {"mp4": clips["mp4"], "png": tmp_path / "in.png", "tmp": tmp_path}
    with pytest.raises(SystemExit) as info:
        cli(["--model", str(tiny_onnx), "--style", "s1", *(a.format(**fill) for a in argv)])
    assert info.value.code == 2
    assert f"fststyle.stylize: error: {message.format(**fill)}" in capsys.readouterr().err


def test_a_failure_midway_leaves_no_file_and_no_thread(tiny_onnx, clips, tmp_path, monkeypatch):
    calls, threads = [], threading.active_count()

    def failing(self, frame):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("network failed at frame 5")
        return frame

    monkeypatch.setattr(FrameStyler, "__call__", failing)
    with pytest.raises(RuntimeError, match="frame 5"):
        Stylizer(tiny_onnx).stylize_video(clips["mp4"], tmp_path / "out.mp4", "s1")
    assert leftovers(tmp_path) == [] and threading.active_count() == threads


TORCH_FREE = BLOCK_TORCH + """
from fststyle.runtime import Stylizer
from fststyle.runtime.video import probe, read_frames
model, clip, out = sys.argv[1:]
done = Stylizer(model).stylize_video(clip, out, style={"s1": 0.5, "s2": 0.5}, max_size=32)
assert done.frames == 12 and probe(out).width == 32 and len(list(read_frames(out))) == 12
from fststyle.stylize import main
assert main(["--model", model, "--style", "s2", clip, "--out", out]) == 0
assert not [m for m in sys.modules if m.split(".")[0] in ("torch", "pytorch_lightning")]
print("torch-free ok")
"""


def test_video_runs_without_torch(tiny_onnx, clips, tmp_path):
    res = subprocess.run([sys.executable, "-c", TORCH_FREE, str(tiny_onnx), str(clips["mp4"]),
                          str(tmp_path / "o.webm")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "torch-free ok" in res.stdout, res.stderr[-2000:]


def test_overlap_keeps_order_and_bounds_what_is_in_flight():
    """Memory stays flat whatever the clip's length: the decoder runs at most the queue's depth
    (plus the item in each hand) ahead of the network, and the network ahead of the encoder."""

    produced, worked, sunk, ahead = [0], [0], [], []

    def frames():
        for i in range(60):
            produced[0] += 1
            yield i

    def work(i):
        ahead.append(produced[0] - i)
        time.sleep(0.002)
        worked[0] += 1
        return i * 10

    def sink(x):
        ahead.append(worked[0] - len(sunk))
        time.sleep(0.004)  # the slowest stage: the queue before it fills
        sunk.append(x)

    overlapped(frames(), work, sink, depth=3)
    assert sunk == [i * 10 for i in range(60)]
    assert max(ahead) <= 3 + 2 and max(ahead) >= 3  # bounded, and the queues were used


def test_overlap_raises_the_first_error_after_stopping_its_threads():
    def work(i):
        if i == 5:
            raise ValueError("frame 5")
        return i

    before = threading.active_count()
    with pytest.raises(ValueError, match="frame 5"):
        overlapped(iter(range(100)), work, lambda x: None, depth=2)
    assert threading.active_count() == before
