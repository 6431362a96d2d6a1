"""Reliability: bad images, pre-emption, crashes, non-finite losses, untrusted files."""

import csv
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from corrupt_images import make_fixture_set

import fststyle
from fststyle.runtime.imagefiles import open_rgb
from fststyle.train import main
from fststyle.training.health import NonFiniteLossError

from helpers import tiny_args


@pytest.fixture(scope="module")
def fixture_set(tmp_path_factory):
    return make_fixture_set(tmp_path_factory.mktemp("corrupt"))


def test_each_odd_image_is_converted_or_rejected_by_name(fixture_set):
    for name, (path, readable) in fixture_set.items():
        if readable:
            image = open_rgb(path)
            assert image.mode == "RGB", name
        else:
            with pytest.raises(ValueError, match=name):
                open_rgb(path)
    assert open_rgb(fixture_set["exif_rotated.jpg"][0]).size == (40, 80)  # rotated upright
    gray16 = np.asarray(open_rgb(fixture_set["gray16.png"][0]))
    assert gray16.max() > 200 and gray16.min() < 10  # scaled from 16 bits, not clipped
    assert np.asarray(open_rgb(fixture_set["rgba.png"][0])).mean() > 100  # on white


def test_training_over_a_corrupt_folder_skips_and_counts(tmp_path, photo_dir, style_files,
                                                         fixture_set, capfd):
    source = tmp_path / "mixed"
    shutil.copytree(photo_dir, source)
    for path, _ in fixture_set.values():
        shutil.copy(path, source / path.name)
    main(tiny_args(photo_dir, style_files, tmp_path, "--data.source", str(source),
                   "--run_name", "mixed", "--trainer.max_steps", "12",
                   "--data.batch_size", "4", "--data.max_bad_fraction", "0.5",
                   "--trainer.log_every_n_steps", "1"))
    rows = list(csv.DictReader(open(tmp_path / "checkpoints/mixed/metrics.csv")))
    skipped = max(float(r["data/skipped"]) for r in rows if r.get("data/skipped"))
    assert skipped == 4  # zero-byte, truncated, not-an-image, bomb: each counted once
    err = capfd.readouterr().err
    assert "skipped unreadable training image" in err and "not_an_image.jpg" in err
    assert int(rows[-1]["step"]) == 11


def test_too_many_bad_images_stop_with_a_clear_message(tmp_path, style_files, fixture_set):
    source = tmp_path / "bad"
    source.mkdir()
    for name in ("zero_byte.jpg", "not_an_image.jpg", "truncated.jpg"):
        shutil.copy(fixture_set[name][0], source / name)
    shutil.copy(fixture_set["gray.jpg"][0], source / "gray.jpg")
    with pytest.raises(ValueError, match="max_bad_fraction 0.05"):
        main(tiny_args(source, style_files, tmp_path, "--trainer.max_steps", "20"))


def test_unreadable_style_image_names_the_file(tmp_path, photo_dir, style_files):
    bad = tmp_path / "style.jpg"
    bad.write_text("not an image")
    res = subprocess.run([sys.executable, "-m", "fststyle.train",
                          *tiny_args(photo_dir, style_files, tmp_path),
                          "--model.styles", f"[{style_files[0]},{bad}]"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert f"{bad}: not a readable image" in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("fststyle.train: error:")


def _start(tmp_path, photo_dir, style_files, *extra, env=None):
    args = tiny_args(photo_dir, style_files, tmp_path, "--run_name", "job",
                     "--trainer.log_every_n_steps", "1", *extra)
    return subprocess.Popen([sys.executable, "-m", "fststyle.train", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(path, proc, timeout=240):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def _logged(path, step: int) -> bool:
    with open(path) as f:
        return any(r["step"] == str(step) and r.get("train/loss") for r in csv.DictReader(f))


def test_sigkill_then_resume_continues_the_logged_steps(tmp_path, photo_dir, style_files):
    run = tmp_path / "checkpoints/job"
    # The process kills itself with SIGKILL as step 10 starts (tests/kill_callback.py): steps
    # 0-9 are done, the last checkpoint (every 3 steps) holds global step 9.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = _start(tmp_path, photo_dir, style_files, "--trainer.max_steps", "400",
                  "--checkpoint_every_n_steps", "3",
                  "--trainer.callbacks+=kill_callback.KillAtStep",
                  "--trainer.callbacks.step", "10", env=env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, err[-3000:]
    assert _logged(run / "metrics.csv", 8) and not _logged(run / "metrics.csv", 10)
    resumed_from = torch.load(run / "last.ckpt", weights_only=True)["global_step"]
    assert resumed_from == 9
    main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "job",
                   "--trainer.log_every_n_steps", "1", "--ckpt_path", "last",
                   "--trainer.max_steps", str(resumed_from + 4)))
    assert torch.load(run / "last.ckpt", weights_only=True)["global_step"] == resumed_from + 4
    steps = [int(r["step"]) for r in csv.DictReader(open(run / "metrics.csv"))
             if r.get("train/loss")]
    assert steps == list(range(resumed_from + 4))  # continuous: no gap, no repeat


def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path, photo_dir, style_files):
    run = tmp_path / "checkpoints/job"
    proc = _start(tmp_path, photo_dir, style_files, "--trainer.max_steps", "400")
    _wait_for(run / "metrics.csv", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "received SIGTERM" in err
    ckpt = torch.load(run / "last.ckpt", weights_only=True)
    assert 1 <= ckpt["global_step"] < 400
    assert not (run / "model.safetensors").exists()  # an interrupted run is not a model


def _nan_after(module, good_steps):
    real = module.loss_fn.forward
    calls = {"n": 0}

    def forward(*a, **k):
        total, terms = real(*a, **k)
        calls["n"] += 1
        return (total * float("nan") if calls["n"] > good_steps else total), terms

    module.loss_fn.forward = forward


def test_repeated_nonfinite_loss_stops_with_last_good_checkpoint(tmp_path, photo_dir,
                                                                  style_files, monkeypatch):
    from fststyle.training import module as module_mod

    init = module_mod.StyleTransfer.__init__

    @functools.wraps(init)  # keeps the signature LightningCLI reads the options from
    def patched(self, *a, **k):
        init(self, *a, **k)
        _nan_after(self, good_steps=2)

    monkeypatch.setattr(module_mod.StyleTransfer, "__init__", patched)
    with pytest.raises(NonFiniteLossError, match="3 non-finite losses in a row"):
        main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "nan",
                       "--trainer.max_steps", "10", "--model.max_nonfinite_steps", "3",
                       "--checkpoint_every_n_steps", "2"))
    run = tmp_path / "checkpoints/nan"
    last = torch.load(run / "last.ckpt", weights_only=True)
    good = torch.load(run / "step_000002.ckpt", weights_only=True)
    assert last["global_step"] == 4  # 2 good steps + 2 skipped; the 3rd NaN in a row stops
    for k, v in last["state_dict"].items():  # skipped steps never touched the weights
        assert torch.isfinite(v).all() and torch.equal(v, good["state_dict"][k]), k


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['FSTSTYLE_MARKER']}",))


def test_crafted_pickle_checkpoint_is_refused_and_runs_nothing(tmp_path, photo_dir,
                                                               style_files, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("FSTSTYLE_MARKER", str(marker))
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"styles": ["a"]}, "x": _Evil()}, evil)
    with pytest.raises(ValueError, match="refused to load"):
        fststyle.load_model(evil)
    res = subprocess.run([sys.executable, "-m", "fststyle.train",
                          *tiny_args(photo_dir, style_files, tmp_path), "--ckpt_path", str(evil)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "FSTSTYLE_MARKER": str(marker)})
    assert res.returncode != 0
    assert "Weights only load failed" in res.stderr or "weights_only" in res.stderr
    assert not marker.exists()  # no code ran


def test_safetensors_model_with_foreign_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="not an fststyle model"):
        fststyle.load_model(path)


def _onnx_identity(path, input_names, styles=None):
    import onnx
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["B", 3, "H", "W"])
              for n in input_names]
    out = helper.make_tensor_value_info("stylized", TensorProto.FLOAT, ["B", 3, "H", "W"])
    graph = helper.make_graph([helper.make_node("Identity", [input_names[0]], ["stylized"])],
                              "g", inputs, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if styles is not None:
        helper.set_model_props(model, {"styles": json.dumps(styles)})
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("inputs, styles, match", [
    (["image"], None, "no 'styles' metadata"),
    (["pixels"], ["a"], r"inputs \['pixels'\]"),
    (["image", "style_weights"], ["a", "b"], "'style_weights' has 3 columns"),
])
def test_runtime_rejects_foreign_onnx_models(tmp_path, inputs, styles, match):
    from fststyle.runtime import Stylizer

    path = _onnx_identity(tmp_path / "foreign.onnx", inputs, styles)
    with pytest.raises(ValueError, match=match) as e:
        Stylizer(path)
    assert str(path) in str(e.value)


def test_runtime_rejects_a_file_that_is_not_onnx(tmp_path):
    from fststyle.runtime import Stylizer

    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        Stylizer(path)
