"""`python -m fststyle.export --int8`: a static int8 QDQ file (int8 Conv weights; instance
norm and the style MatMuls float) that passes its check against the fp32 export on held-out
photos, runs in the torch-free runtime and says so in its metadata; a failed check, a forced
threshold or a bad option writes nothing and exits 2 with one line."""

import json
import re

import numpy as np
import onnx
import pytest

from fststyle import export
from fststyle.core import quantize
from fststyle.runtime import Stylizer
from fststyle.runtime.imagefiles import demo_photos
from fststyle.runtime.variants import choose

# The tiny model is 3 training steps plus gamma and beta perturbed by N(0, 0.5^2) so that its
# styles differ, judged by a random VGG: wilder activations than a trained network's, so int8
# lands near 25 dB and +3% objective on it (the trained demo model: 38 dB and at most +0.6%,
# docs/onnx.md). Its tests pass their own thresholds; the defaults are for trained models.
TINY = ["--int8-min-psnr", "20", "--int8-max-increase", "0.1"]


@pytest.fixture(scope="module")
def int8_onnx(tiny_model, tmp_path_factory):
    """The tiny model's --int8 export, under its default name exports/tiny-int8.onnx."""
    folder = tmp_path_factory.mktemp("int8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        path = export.main([str(tiny_model), "--int8", *TINY])
    assert str(path) == "exports/tiny-int8.onnx"
    return folder / path


def initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def test_int8_graph_quantises_convs_only(int8_onnx):
    model = onnx.load(int8_onnx)
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    inits, producers = initializers(model), {o: n for n in model.graph.node for o in n.output}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) > 2 and convs[0].input[1] in inits  # the RGB-side first Conv stays float
    for conv in convs[1:]:  # weight: DequantizeLinear of an int8 per-channel initializer
        dq = producers[conv.input[1]]
        assert dq.op_type == "DequantizeLinear"
        assert inits[dq.input[0]].data_type == onnx.TensorProto.INT8
        assert len(inits[dq.input[1]].dims) == 1  # one scale per output channel
    for node in model.graph.node:  # instance norm and the style MatMuls stay float
        if node.op_type in ("InstanceNormalization", "MatMul"):
            for name in node.input:
                assert name not in inits or inits[name].data_type == onnx.TensorProto.FLOAT
                assert name not in producers or producers[name].op_type != "DequantizeLinear" \
                    or node.op_type == "InstanceNormalization"
    assert "QLinearConv" not in ops  # QDQ format: the runtime fuses the pairs at load time


def test_int8_metadata_and_check(int8_onnx, tiny_onnx):
    props = {p.key: p.value for p in onnx.load(int8_onnx).metadata_props}
    fp32 = {p.key: p.value for p in onnx.load(tiny_onnx).metadata_props}
    assert props["precision"] == "int8" and props["styles"] == fp32["styles"]
    check = json.loads(props["int8_check"])
    assert check["psnr_min"] >= 20 and check["objective_increase"] <= 0.1
    assert set(check["objective_increase_per_style"]) == {"s1", "s2"}
    assert check["photos"] == len(demo_photos("heldout"))
    calibration = json.loads(props["int8_calibration"])
    assert calibration["method"] == "Percentile" and calibration["ops"] == ["Conv"]
    assert int8_onnx.stat().st_size < 0.6 * tiny_onnx.stat().st_size
    speed = check["speed"]  # measured at export, on this machine, against the fp32 file
    assert set(speed["time_ratios"]) == {"256x256", "1280x720"} and speed["cpu"]
    assert speed["time_ratio"] == max(speed["time_ratios"].values()) > 0  # the worst decides


@pytest.mark.parametrize("times, chosen", [
    ({"fp32": 10.0, "int8": 12.0}, "fp32"),  # int8 slower here (an AVX2-only EPYC's case)
    ({"fp32": 10.0, "int8": 7.0}, "int8"),
    ({"fp32": 1.0, "int8": 1.0}, "fp32"),  # a tie keeps the exact variant, listed first
    ({"int8": 1.3}, "int8"),
])
def test_the_chosen_variant_is_never_the_slower(times, chosen):
    assert choose(times) == chosen
    rng = np.random.default_rng(0)
    for _ in range(100):  # any measured pair: the choice is the faster one
        a, b = rng.uniform(1, 100, 2)
        assert {"fp32": a, "int8": b}[choose({"fp32": a, "int8": b})] == min(a, b)
    with pytest.raises(ValueError):
        choose({})


def test_int8_runs_in_the_runtime_close_to_fp32(int8_onnx, tiny_onnx):
    frame = np.random.default_rng(0).integers(0, 256, (37, 29, 3), np.uint8)
    int8, fp32 = Stylizer(int8_onnx, threads=1), Stylizer(tiny_onnx, threads=1)
    assert int8.metadata["precision"] == "int8" and int8.styles == ["s1", "s2"]
    for style in ("s1", {"s1": 0.5, "s2": 0.5}):
        got, want = int8.stylize_frame(frame, style), fp32.stylize(frame, style)
        assert got.shape == want.shape
        assert quantize.psnr(got / 255, want / 255) > 20


def test_forced_threshold_writes_nothing(tiny_model, tmp_path, capsys):
    out = tmp_path / "out" / "model.onnx"
    with pytest.raises(SystemExit) as info:
        export.cli([str(tiny_model), "--int8", "--int8-min-psnr", "99", "--out", str(out)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1
    assert re.match(r"fststyle.export: error: int8 PSNR against fp32 is [\d.]+ dB .*below "
                    r"--int8-min-psnr 99; refusing to write", err)
    assert not list(out.parent.iterdir())  # neither the file nor its temporary


def test_broken_calibration_is_refused(tiny_model, tmp_path, monkeypatch):
    """Calibrated on black frames only, the activation ranges miss real photos: refused."""
    class Black(quantize.Calibration):
        def __init__(self, fp32_path, num_styles):
            super().__init__(fp32_path, num_styles, demo_photos("train")[:1])
            self.feeds = iter([{**feed, "image": np.zeros_like(feed["image"])}
                               for feed in self.feeds])

    monkeypatch.setattr(export, "Calibration", Black)
    out = tmp_path / "model.onnx"
    with pytest.raises(ValueError, match="int8 .* refusing to write"):
        export.main([str(tiny_model), "--int8", *TINY, "--out", str(out)])
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--int8", "--fp16"], "--int8 and --fp16 exclude each other"),
    (["--int8", "--int8-min-psnr", "-1"], "--int8-min-psnr and --int8-max-increase must be"),
    (["--int8", "--int8-max-increase", "nan"], "must be >= 0, got 30 and nan"),
    (["--int8", "--style-files", "a.jpg"], r"--style-files: 1 file\(s\) for 2 styles"),
])
def test_bad_int8_options_exit_2(tiny_model, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        export.cli([str(tiny_model), *args])
    assert info.value.code == 2
    assert re.search(f"fststyle.export: error: .*{message}", capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_int8_with_a_baked_style_and_style_files(tiny_model, style_files, tmp_path):
    path = export.main([str(tiny_model), "--int8", "--style", "s2", *TINY, "--out",
                        str(tmp_path / "s2.onnx"), "--style-files", *map(str, style_files)])
    stylizer = Stylizer(path, threads=1)
    assert stylizer.baked and stylizer.styles == ["s2"]
    check = json.loads(stylizer.metadata["int8_check"])
    assert list(check["objective_increase_per_style"]) == ["s2"]
    assert stylizer.stylize_frame(np.zeros((3, 2, 3), np.uint8)).shape == (3, 2, 3)


def test_int8_spatial_takes_masks(tiny_model, tmp_path):
    path = export.main([str(tiny_model), "--int8", "--spatial", *TINY, "--out",
                        str(tmp_path / "spatial.onnx")])
    stylizer = Stylizer(path, threads=1)
    assert stylizer.spatial and stylizer.metadata["precision"] == "int8"
    mask = np.zeros((9, 14), np.uint8)
    mask[:, :7] = 255  # left: s1, right: s2
    image = np.random.default_rng(1).integers(0, 256, (9, 14, 3), np.uint8)
    out = stylizer.stylize(image, "s1,s2", mask=mask)
    assert out.shape == (9, 14, 3)
    assert np.array_equal(stylizer.stylize_frame(image, "s2"), stylizer.stylize(image, "s2"))
