"""`python -m fststyle.stylize` and `fststyle.runtime`: files, folders, grey and RGBA inputs,
with .onnx and .safetensors; style mixes; colour preservation; errors; torch-free runtime."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fststyle.runtime import RGB_TO_YCBCR, Stylizer
from fststyle.stylize import cli, main

from helpers import BLOCK_TORCH


@pytest.fixture(params=["onnx", "safetensors"])
def model(request, tiny_model, tiny_onnx):
    return tiny_onnx if request.param == "onnx" else tiny_model


def gradient(w: int, h: int) -> np.ndarray:
    """A smooth, moderately saturated (H, W, 3) uint8 image."""
    x, y = np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))
    rgb = np.stack([0.3 + 0.4 * x, 0.5 + 0.2 * np.sin(6 * y), 0.6 - 0.3 * x * y], -1)
    return (rgb * 255).round().astype(np.uint8)


@pytest.fixture
def inputs(tmp_path):
    """photo.jpg (RGB), sub/gray.png (L) and sub/rgba.png (RGBA, partly transparent)."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(gradient(48, 40)).save(d / "photo.jpg")
    Image.fromarray(gradient(33, 21)[..., 0]).save(d / "sub" / "gray.png")
    rgba = np.concatenate([gradient(30, 27), np.full((27, 30, 1), 128, np.uint8)], -1)
    Image.fromarray(rgba).save(d / "sub" / "rgba.png")
    return d


def test_folder_mirrors_names_with_progress_bar(model, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--model", str(model), "--style", "s2", str(inputs), "--out", str(out)]) == 0
    for name in ["photo.jpg", "sub/gray.png", "sub/rgba.png"]:
        with Image.open(out / name) as im, Image.open(inputs / name) as src:
            assert im.mode == "RGB" and im.size == src.size, name
    assert "3/3" in capsys.readouterr().err  # tqdm's bar


@pytest.mark.parametrize("name, style", [("sub/gray.png", "1"), ("sub/rgba.png", "s1=0.7,s2=0.3"),
                                         ("photo.jpg", "s1")])
def test_single_file_to_file_and_folder(model, inputs, tmp_path, name, style):
    out_file = tmp_path / "single.png"
    assert main(["--model", str(model), "--style", style, str(inputs / name),
                 "--out", str(out_file)]) == 0
    assert Image.open(out_file).size == Image.open(inputs / name).size
    assert main(["--model", str(model), "--style", style, str(inputs / name),
                 "--out", str(tmp_path / "folder")]) == 0
    assert (tmp_path / "folder" / inputs.joinpath(name).name).is_file()


def test_onnx_and_torch_paths_agree(tiny_model, tiny_onnx, inputs, tmp_path):
    outs = []
    for m in (tiny_onnx, tiny_model):
        out = tmp_path / f"{m.suffix[1:]}.png"
        assert main(["--model", str(m), "--style", "s1=0.4,s2=0.6", "--max-size", "20",
                     str(inputs / "sub/rgba.png"), "--out", str(out)]) == 0
        outs.append(np.asarray(Image.open(out), np.int16))
    assert outs[0].shape == (18, 20, 3)  # 30x27 -> long side 20
    assert np.abs(outs[0] - outs[1]).max() <= 1  # uint8 rounding only
    one_style = Stylizer(tiny_onnx).stylize(Image.open(inputs / "sub/rgba.png"), "s2", max_size=20)
    assert np.abs(outs[0] - np.asarray(one_style, np.int16)).max() > 2  # the mix did mix


def chroma(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) / 255) @ RGB_TO_YCBCR[1:].T  # (H, W, 2)


def test_preserve_color_keeps_content_chroma(model, inputs, tmp_path):
    content = np.asarray(Image.open(inputs / "sub/rgba.png").convert("RGB"))
    src = tmp_path / "content.png"
    Image.fromarray(content).save(src)
    for flag, out in ([], "plain.png"), (["--preserve-color"], "kept.png"):
        assert main(["--model", str(model), "--style", "s1", *flag, str(src),
                     "--out", str(tmp_path / out)]) == 0
    kept = np.asarray(Image.open(tmp_path / "kept.png"))
    plain = np.asarray(Image.open(tmp_path / "plain.png"))
    inside = ((kept > 0) & (kept < 255)).all(-1)  # clipped pixels cannot keep their chroma
    assert inside.mean() > 0.5
    err = np.abs(chroma(kept) - chroma(content))[inside]
    assert err.max() <= 1.1 / 255  # uint8 rounding of the output
    assert np.abs(chroma(plain) - chroma(content))[inside].mean() > 5 * err.mean()


def test_list_styles(model, capsys):
    assert main(["--model", str(model), "--list-styles"]) == 0
    assert capsys.readouterr().out.split() == ["0", "s1", "1", "s2"]


@pytest.mark.parametrize("style, source, extra, status, message", [
    ("zz", "in", [], 2, "error: unknown style 'zz' (available: 0=s1, 1=s2)"),
    ("s1", "notes.txt", [], 2, "error: input notes.txt is not an image file"),
    ("s1", "broken.png", [], 1, "failed: "),
    ("s1", "in", ["--max-size", "0"], 2, "error: --max-size must be >= 1"),
    ("s1", "in", ["--model", "model.pt"], 2,
     "error: --model model.pt: expected a .onnx, .safetensors"),
])
def test_errors_exit_nonzero_and_write_nothing(model, inputs, tmp_path, capsys, style, source,
                                               extra, status, message):
    """A bad option or model exits 2 (fststyle.cli); an image that fails exits 1."""
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    argv = ["--model", str(model), "--style", style, *extra, str(tmp_path / source),
            "--out", str(tmp_path / "out")]
    try:
        code = cli(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert code == status and f"fststyle.stylize: {message}" in err, err
    if status == 1:
        assert "broken.png: not a readable image" in err
    assert not (tmp_path / "out").exists()


def test_a_bad_file_in_a_folder_is_reported_and_skipped(model, inputs, tmp_path, capsys):
    (inputs / "sub" / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated")
    out = tmp_path / "out"
    assert main(["--model", str(model), "--style", "s2", str(inputs), "--out", str(out)]) == 1
    assert "corrupt.jpg" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*.*")) == ["gray.png", "photo.jpg", "rgba.png"]


TORCH_FREE_RUN = BLOCK_TORCH + """
import numpy as np
from PIL import Image
from fststyle.runtime import Stylizer
model, photo, out = sys.argv[1:]
s = Stylizer(model)
assert s.styles == ["s1", "s2"], s.styles
pil = s.stylize(Image.open(photo), style={"s1": 0.5, "s2": 0.5}, preserve_color=True)
array = s.stylize(np.asarray(Image.open(photo).convert("RGB")), style=1, max_size=20)
assert isinstance(pil, Image.Image) and pil.size == Image.open(photo).size
assert array.dtype == np.uint8 and max(array.shape) == 20 and array.shape[2] == 3
from fststyle.stylize import cli, main
assert main(["--model", model, "--style", "s2", photo, "--out", out]) == 0
assert not [m for m in sys.modules if m.split(".")[0] in ("torch", "pytorch_lightning")]
print("torch-free ok")
"""


def test_runtime_and_onnx_cli_run_with_torch_blocked(tiny_onnx, inputs, tmp_path):
    res = subprocess.run([sys.executable, "-c", TORCH_FREE_RUN, str(tiny_onnx),
                          str(inputs / "photo.jpg"), str(tmp_path / "o.png")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "torch-free ok" in res.stdout, res.stderr[-2000:]
    assert (tmp_path / "o.png").is_file()


@pytest.mark.parametrize("image, style, message", [
    (np.zeros((8, 8, 3), np.float32), "s1", "uint8"),
    (np.zeros((8, 8, 3), np.uint8), 5, "out of range"),
    (np.zeros((8, 8, 3), np.uint8), {"s1": -1.0}, ">= 0"),
    (np.zeros((8, 8, 3), np.uint8), None, "style must be"),
])
def test_runtime_rejects_bad_arguments(tiny_onnx, image, style, message):
    with pytest.raises(ValueError, match=message):
        Stylizer(tiny_onnx).stylize(image, style)


@pytest.mark.parametrize("onto", ["file", "folder"])
def test_out_onto_an_input_is_refused_and_the_input_kept(tiny_onnx, inputs, tmp_path, capsys,
                                                         onto):
    photo = inputs / "photo.jpg"
    before = {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()}
    source, out = (photo, photo) if onto == "file" else (inputs, inputs)
    with pytest.raises(SystemExit) as exit_info:
        cli(["--model", str(tiny_onnx), "--style", "0", str(source), "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is one of the inputs" in err[0], err
    assert {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()} == before


def test_with_strength_blends_with_the_identity_row():
    from fststyle.runtime.styles import with_strength

    names = ["a", "b", "identity"]
    assert with_strength("b", 1.0, names) == "b"
    mix = with_strength({"a": 1, "b": 3}, 0.4, names)
    assert mix == pytest.approx({"a": 0.1, "b": 0.3, "identity": 0.6})
    assert with_strength("a", 0.0, names) == {"identity": 1.0}
    with pytest.raises(ValueError, match="needs a model with an 'identity' style"):
        with_strength("a", 0.5, ["a", "b"])
    with pytest.raises(ValueError, match=r"--strength must be in \[0, 1\]"):
        with_strength("a", 1.5, names)


def test_strength_without_an_identity_style_exits_2(tiny_onnx, inputs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["--model", str(tiny_onnx), "--style", "s1", "--strength", "0.5",
             str(inputs / "photo.jpg"), "--out", str(tmp_path / "o.png")])
    assert exit_info.value.code == 2
    assert "needs a model with an 'identity' style" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
