"""`--model.distill_from`: a slim student trained from a trained network keeps its styles, has
its own architecture, leaves the teacher out of checkpoint and optimiser, and exports and runs."""

import csv

import numpy as np
import pytest
import torch

from fststyle.core.model_io import load_model
from fststyle.core.objective_settings import Objective
from fststyle.runtime import Stylizer
from fststyle.train import main as train
from fststyle.training.distill import distillation_loss

from helpers import tiny_args


def test_distillation_loss_known_values():
    a = torch.zeros(2, 3, 4, 5)
    assert distillation_loss(a, a).item() == 0
    assert distillation_loss(a, a + 0.5).item() == pytest.approx(0.25)
    assert distillation_loss(a.bfloat16(), (a + 0.5).bfloat16()).dtype == torch.float32


def test_student_keeps_the_teachers_styles_with_its_own_arch(tiny_model, tiny_student):
    teacher, net = load_model(tiny_model), load_model(tiny_student)
    assert net.style_names == teacher.style_names
    assert net.arch() == {"num_styles": 2, "alpha": 0.25, "num_residual_blocks": 2,
                          "downsamples": 3, "edge_kernel": 3, "separable_blocks": True}
    assert sum(p.numel() for p in net.parameters()) < sum(
        p.numel() for p in teacher.parameters()) / 3
    assert net.metadata["model"]["distill_from"] == str(tiny_model)


def test_distill_term_is_logged_and_teacher_left_out(tiny_student):
    with open(tiny_student.parent / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/distill")]
    assert len(rows) == 3 and all(float(r["train/distill"]) > 0 for r in rows)
    ckpt = torch.load(tiny_student.parent / "last.ckpt", weights_only=True)
    assert not any(k.startswith("teacher.") for k in ckpt["state_dict"])
    assert any(k.startswith("net.conv4.") for k in ckpt["state_dict"])  # the third stage
    from_ckpt = load_model(tiny_student.parent / "last.ckpt")
    assert from_ckpt.arch() == load_model(tiny_student).arch()


def test_teacher_is_not_trained(tiny_model, photo_dir, style_files, tmp_path):
    from fststyle.training.module import StyleTransfer

    module = StyleTransfer(styles=[str(f) for f in style_files],
                           objective=Objective(vgg_weights="random", style_size=64),
                           distill_from=str(tiny_model), alpha=0.25)
    optimised = {id(p) for g in module.configure_optimizers().param_groups for p in g["params"]}
    assert not any(id(p) in optimised or p.requires_grad for p in module.teacher.parameters())
    assert not module.teacher.training


def test_student_exports_fp32_and_int8_and_runs(tiny_student, student_onnx):
    for precision, path in student_onnx.items():
        stylizer = Stylizer(path)
        assert stylizer.styles == load_model(tiny_student).style_names
        assert stylizer.metadata["precision"] == precision
        image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), np.uint8)
        out = stylizer.stylize(image, style={"s1": 0.3, "s2": 0.7})
        assert out.shape == image.shape and out.dtype == np.uint8


@pytest.mark.parametrize("extra, message", [
    (["--model.styles", "[{s2},{s1}]"], "must be the teacher's, in order"),
    (["--model.distill_from", "missing.safetensors"], "missing.safetensors"),
    (["--model.downsamples", "4"], "downsamples must be 1, 2 or 3"),
])
def test_bad_distill_options_fail_naming_them(tiny_model, photo_dir, style_files, tmp_path,
                                              extra, message):
    extra = [e.format(s1=style_files[0], s2=style_files[1]) for e in extra]
    args = tiny_args(photo_dir, style_files, tmp_path, "--model.distill_from", str(tiny_model),
                     *extra)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        train(args)
