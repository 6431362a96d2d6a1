"""The runtime's frame path: `Stylizer.stylize_frame` equals `stylize`, reuses its buffers,
follows size and style changes, refuses bad frames in one line; any image size works (padded up
to the network's minimum); `--threads` on the CLI."""

import re

import numpy as np
import pytest
from PIL import Image

from fststyle.runtime import Stylizer
from fststyle.runtime.frames import SAFE_MIN_SIZE, min_size, session_options
from fststyle.stylize import cli, main

SIZES = [(1, 1), (3, 2), (1, 200), (200, 1), (4, 4), (5, 5), (17, 13), (33, 47)]  # (H, W)


def frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


@pytest.fixture(scope="module")
def stylizer(tiny_onnx):
    return Stylizer(tiny_onnx, threads=1)


@pytest.mark.parametrize("h, w", SIZES)
def test_frame_equals_stylize_at_any_size(stylizer, h, w):
    image = frame(h, w)
    want = stylizer.stylize(image, "s2")
    got = stylizer.stylize_frame(image, "s2")
    assert got.shape == want.shape == (h, w, 3) and got.dtype == np.uint8
    assert np.array_equal(got, want)
    assert np.array_equal(np.asarray(stylizer.stylize(Image.fromarray(image), "s2")), want)


def test_tiny_images_match_their_padded_selves(stylizer):
    """A 3x2 image is stylized as its mirror-padded minimum-size version, cropped back."""
    image = frame(3, 2)
    m = stylizer.min_size
    top, left = (m - 3) // 2, (m - 2) // 2
    padded = np.pad(image, ((top, m - 3 - top), (left, m - 2 - left), (0, 0)), "symmetric")
    want = stylizer.stylize(padded, "s1")[top:top + 3, left:left + 2]
    assert np.array_equal(stylizer.stylize(image, "s1"), want)


def test_buffers_are_reused_and_follow_size_changes(stylizer):
    out = np.empty((24, 32, 3), np.uint8)
    first = stylizer.stylize_frame(frame(24, 32, 1), "s1", out=out)
    buffers = stylizer._buffers
    second = stylizer.stylize_frame(frame(24, 32, 2), "s1", out=out)
    assert first is out and second is out and stylizer._buffers is buffers
    assert stylizer.stylize_frame(frame(24, 32, 3), "s1") is not out  # a new array without out=
    assert stylizer._buffers is buffers and stylizer._buffers.image is buffers.image
    resized = stylizer.stylize_frame(frame(31, 19), "s1")
    assert resized.shape == (31, 19, 3) and stylizer._buffers is not buffers
    assert np.array_equal(resized, stylizer.stylize(frame(31, 19), "s1"))


def test_style_changes_and_mixes(stylizer):
    image = frame(20, 28, 4)
    for style in ["s1", 1, {"s1": 0.3, "s2": 0.7}, "s1"]:
        assert np.array_equal(stylizer.stylize_frame(image, style),
                              stylizer.stylize(image, style))
    assert not np.array_equal(stylizer.stylize_frame(image, "s1"),
                              stylizer.stylize_frame(image, "s2"))


def test_spatial_and_preserve_color_share_the_path(spatial_onnx, stylizer):
    image = frame(3, 7, 5)
    spatial = Stylizer(spatial_onnx, threads=1)
    assert np.array_equal(spatial.stylize_frame(image, "s2"), stylizer.stylize(image, "s2"))
    mask = np.full((3, 7), 255, np.uint8)  # all white: all s1
    assert np.abs(spatial.stylize(image, "s1,s2", mask=mask).astype(int)
                  - stylizer.stylize(image, "s1")).max() <= 1
    assert stylizer.stylize(image, "s1", preserve_color=True).shape == (3, 7, 3)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((8, 8, 3), np.float32), r"frame must be a uint8 \(H, W, 3\) array, got float32"),
    (np.zeros((8, 8), np.uint8), r"got uint8 \(8, 8\)"),
    (np.zeros((8, 8, 4), np.uint8), r"got uint8 \(8, 8, 4\)"),
    (np.zeros((0, 8, 3), np.uint8), r"got uint8 \(0, 8, 3\)"),
    ([[0, 0, 0]], "got list"),
])
def test_bad_frames_fail_in_one_line(stylizer, bad, message):
    with pytest.raises(ValueError, match=message) as info:
        stylizer.stylize_frame(bad)
    assert "\n" not in str(info.value)


def test_bad_out_and_threads_fail_in_one_line(stylizer, tiny_onnx):
    with pytest.raises(ValueError, match=r"out has shape \(8, 9, 3\), the frame \(8, 8, 3\)"):
        stylizer.stylize_frame(frame(8, 8), "s1", out=np.empty((8, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="out must be a uint8"):
        stylizer.stylize_frame(frame(8, 8), "s1", out=np.empty((8, 8, 3), np.float32))
    for threads in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            Stylizer(tiny_onnx, threads=threads)


def test_min_size_from_the_arch():
    assert min_size({"num_styles": 2, "alpha": 1.0}) == 5  # 9x9 edge kernels, 2 stages
    assert min_size({"downsamples": 3}) == 9  # the deepest 3x3 needs 2 px: 9 -> 5 -> 3 -> 2
    assert min_size({"downsamples": 2, "edge_kernel": 3}) == 5
    assert min_size(None) == SAFE_MIN_SIZE >= min_size({"downsamples": 3})
    assert session_options(3).intra_op_num_threads == 3


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (200, 1)])
def test_cli_any_size_with_threads(tiny_onnx, tmp_path, size):
    src, dst = tmp_path / "tiny.png", tmp_path / "out.png"
    Image.fromarray(frame(size[1], size[0])).save(src)
    assert main(["--model", str(tiny_onnx), "--style", "s1", "--threads", "1", str(src),
                 "--out", str(dst)]) == 0
    assert Image.open(dst).size == size


def test_cli_threads_torch_path_and_refusal(tiny_model, tmp_path, capsys):
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(frame(3, 2)).save(src)
    assert main(["--model", str(tiny_model), "--style", "s2", "--threads", "2", str(src),
                 "--out", str(dst)]) == 0
    assert Image.open(dst).size == (2, 3)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        cli(["--model", str(tiny_model), "--threads", "0", str(src), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and re.fullmatch(
        r"fststyle.stylize: error: --threads must be >= 1, got 0\n", err)
