"""`python -m fststyle.export`: onnxruntime matches PyTorch at odd sizes, mixed styles and batch
2; baked and fp16 exports; metadata; refusal leaves no file. One tiny model, trained once."""

import functools
import json
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from fststyle import export
from fststyle.core.model_io import load_model
from fststyle.runtime import Stylizer

# Ops onnxruntime-web's WebGPU backend implements (onnxruntime.ai/docs/.../webgpu operators).
# onnxruntime-web's WebGPU operator list (docs/webgpu-operators.md; the JSEP kernel table
# of the bundled onnxruntime-web's dist/ort.mjs lists ConvTranspose).
WEBGPU_OPS = {"Add", "Cast", "Concat", "Constant", "Conv", "ConvTranspose", "Div", "Expand",
              "Gather", "InstanceNormalization", "MatMul", "Min", "Mul", "Pad", "Relu",
              "Reshape", "Resize", "Shape", "Sigmoid", "Slice", "Squeeze", "Sub", "Unsqueeze"}


@functools.lru_cache
def session_for(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_both(onnx_path, net, image, weights):
    session = session_for(onnx_path)
    got = session.run(None, {"image": image, "style_weights": weights})[0]
    with torch.inference_mode():
        want = net(torch.from_numpy(image), torch.from_numpy(weights)).numpy()
    return got, want


@pytest.mark.parametrize("b, h, w", [(1, 64, 64), (1, 67, 93), (2, 67, 93)])
def test_onnx_matches_torch_per_style(tiny_model, tiny_onnx, b, h, w):
    net = load_model(tiny_model)
    image = np.random.default_rng(h).random((b, 3, h, w), dtype=np.float32)
    weights = np.eye(2, dtype=np.float32)[[1, 0][:b]]  # batch 2: a different style per row
    got, want = run_both(tiny_onnx, net, image, weights)
    assert got.shape == (b, 3, h, w) and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-4
    if b == 2:  # the rows really are different styles
        other, _ = run_both(tiny_onnx, net, image[::-1].copy(), weights)
        assert np.abs(got[0] - other[1]).max() > 1e-3


def test_mixed_row_equals_torch_mix(tiny_model, tiny_onnx):
    net = load_model(tiny_model)
    image = np.random.default_rng(1).random((1, 3, 35, 29), dtype=np.float32)
    mix = np.array([[0.3, 0.7]], np.float32)
    got, want = run_both(tiny_onnx, net, image, mix)
    assert np.abs(got - want).max() <= 1e-4
    pure, _ = run_both(tiny_onnx, net, image, np.array([[0.0, 1.0]], np.float32))
    assert np.abs(got - pure).max() > 1e-3


def test_graph_is_dynamic_portable_and_described(tiny_onnx):
    model = onnx.load(tiny_onnx)
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in (*model.graph.input, *model.graph.output)}
    assert dims == {"image": ["batch", 3, "height", "width"], "style_weights": ["batch", 2],
                    "stylized": ["batch", 3, "height", "width"]}
    ops = {n.op_type for n in model.graph.node}
    assert "GatherND" not in ops and ops <= WEBGPU_OPS, ops - WEBGPU_OPS
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["styles"]) == ["s1", "s2"]
    assert props["fststyle_version"] and props["precision"] == "fp32"
    assert json.loads(props["training_config"])["arch"]["num_styles"] == 2
    assert "[0, 1]" in props["image"] and "convex" in props["style_weights"]


def test_baked_style_has_one_input_and_default_out(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = export.main([str(tiny_model), "--style", "s2"])
    assert path == Path("exports/tiny-s2.onnx") and (tmp_path / path).is_file()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert json.loads(session.get_modelmeta().custom_metadata_map["styles"]) == ["s2"]
    image = np.random.default_rng(2).random((2, 3, 33, 47), dtype=np.float32)
    with torch.inference_mode():
        want = load_model(tiny_model)(torch.from_numpy(image), torch.tensor([1, 1])).numpy()
    assert np.abs(session.run(None, {"image": image})[0] - want).max() <= 1e-4
    stylizer = Stylizer(tmp_path / path)  # the runtime needs no style for a baked model
    assert stylizer.styles == ["s2"]
    assert stylizer.stylize(np.zeros((9, 11, 3), np.uint8)).shape == (9, 11, 3)


def test_fp16_from_lightning_checkpoint(tiny_model, tiny_ckpt, tmp_path):
    ckpt = tiny_ckpt
    path = export.main([str(ckpt), "--fp16", "--out", str(tmp_path / "half.onnx")])
    model = onnx.load(path)
    assert {i.type.tensor_type.elem_type for i in (*model.graph.input, *model.graph.output)} \
        == {onnx.TensorProto.FLOAT}
    conv_weights = [t for t in model.graph.initializer if t.dims and len(t.dims) == 4]
    assert conv_weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in conv_weights)
    image = np.random.default_rng(3).random((1, 3, 41, 37), dtype=np.float32)
    got, want = run_both(path, load_model(ckpt), image, np.array([[0.5, 0.5]], np.float32))
    assert np.abs(got - want).max() <= 1e-2


def test_refuses_an_export_that_differs_from_torch(tiny_model, tiny_onnx, tmp_path,
                                                   monkeypatch):
    """A corrupted graph (one weight changed) must fail the check and leave no file."""
    bad = onnx.load(tiny_onnx)
    weight = next(t for t in bad.graph.initializer if len(t.dims) == 4)
    weight.CopyFrom(onnx.numpy_helper.from_array(
        onnx.numpy_helper.to_array(weight) + 0.1, weight.name))
    monkeypatch.setattr(export, "to_onnx", lambda *args: bad)
    out = tmp_path / "bad" / "model.onnx"
    with pytest.raises(ValueError, match="refusing to write"):
        export.main([str(tiny_model), "--out", str(out)])
    assert not list(out.parent.iterdir())  # neither the file nor its temporary


@pytest.mark.parametrize("args, message", [
    (["--style", "nope"], "unknown style 'nope' in .*tiny.safetensors .*available: s1, s2"),
    (["--out", "x.txt"], "--out x.txt: expected a .onnx"),
])
def test_bad_options_exit_2_naming_them(tiny_model, tmp_path, monkeypatch, capsys, args,
                                        message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        export.cli([str(tiny_model), *args])
    assert exit_info.value.code == 2
    assert re.search(f"fststyle.export: error: .*{message}", capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_out_onto_the_model_itself_is_refused(tiny_onnx, capsys):
    before = tiny_onnx.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        export.cli([str(tiny_onnx), "--out", str(tiny_onnx)])
    assert exit_info.value.code == 2
    assert "is the model being exported" in capsys.readouterr().err
    assert tiny_onnx.read_bytes() == before


def test_fp16_weights_shrink_the_file_and_match_the_fp16_network(tiny_model, tiny_onnx,
                                                                 tmp_path):
    path = export.main([str(tiny_model), "--fp16-weights", "--out", str(tmp_path / "h.onnx")])
    def weight_bytes(file):
        return sum(len(init.raw_data) for init in onnx.load(str(file)).graph.initializer)

    # Every weight fp16 holds exactly is stored fp16; the upsampling's kernels, sums of
    # weights (subpixel.upsample_conv), stay float32 and exact.
    floats = [init for init in onnx.load(str(path)).graph.initializer
              if init.data_type == onnx.TensorProto.FLOAT and np.prod(init.dims) > 1]
    assert floats and all(not np.array_equal(onnx.numpy_helper.to_array(init).astype(np.float16)
                                             .astype(np.float32), onnx.numpy_helper.to_array(init))
                          for init in floats)
    assert weight_bytes(path) < 0.7 * weight_bytes(tiny_onnx)  # 0.63 for this network
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(3).random((1, 3, 29, 35), dtype=np.float32)
    weights = np.array([[0.25, 0.75]], np.float32)
    net = load_model(tiny_model).half().float()  # the weights the file holds
    with torch.inference_mode():
        want = net(torch.from_numpy(image), torch.from_numpy(weights)).numpy()
    got = session.run(None, {"image": image, "style_weights": weights})[0]
    assert np.abs(got - want).max() <= 1e-4
