"""The recipe options added with the balanced objective: the cosine schedule, the objective's
normalisation recorded with the model, and the rule for models recorded without it."""

import pytest
import torch

from fststyle.core.model_io import load_model, save_model
from fststyle.evaluation.objective import REFERENCE, model_hparams, reference_hparams
from fststyle.train import main as train

from helpers import tiny_args


def test_cosine_schedule_decays_the_rate_to_zero(photo_dir, style_files, tmp_path):
    path = train(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "cos",
                           "--trainer.max_steps", "4", "--model.lr_schedule", "cosine",
                           "--model.objective.loss_normalization", "none"))
    assert model_hparams(path)["lr_schedule"] == "cosine"
    assert model_hparams(path)["loss_normalization"] == "none"
    ckpt = torch.load(path.parent / "last.ckpt", weights_only=True)
    (scheduler,) = ckpt["lr_schedulers"]
    assert scheduler["_last_lr"][0] == pytest.approx(0.0, abs=1e-12)  # cos(pi) at step 4 of 4
    assert scheduler["_last_lr"][1] == pytest.approx(0.0, abs=1e-12)  # the style tables too


def test_bad_schedule_is_refused(photo_dir, style_files, tmp_path):
    with pytest.raises(ValueError, match="--model.lr_schedule: constant or cosine"):
        train(tiny_args(photo_dir, style_files, tmp_path, "--model.lr_schedule", "step"))


def test_models_without_a_recorded_normalization_were_trained_on_raw_errors(tmp_path, models):
    net = load_model(models)
    meta = dict(net.metadata)
    # A file from before the objective group and loss_normalization: flat settings, no such key.
    flat = {k: v for k, v in meta["model"]["objective"].items() if k != "loss_normalization"}
    meta["model"] = {**{k: v for k, v in meta["model"].items() if k != "objective"}, **flat}
    old = save_model(net, net.style_names, tmp_path / "old.safetensors", extra=meta)
    assert model_hparams(old)["loss_normalization"] == "none"
    assert model_hparams(models)["loss_normalization"] == "target"


def test_reference_takes_only_the_styles_from_the_model(models):
    hp = reference_hparams(model_hparams(models), 200)
    assert hp["style_size"] == 200 and hp["styles"] == model_hparams(models)["styles"]
    assert {k: hp[k] for k in REFERENCE} == REFERENCE


@pytest.fixture(scope="module")
def models(tmp_path_factory, photo_dir, style_files):
    root = tmp_path_factory.mktemp("recipe")
    return train(tiny_args(photo_dir, style_files, root, "--run_name", "r",
                           "--trainer.max_steps", "1"))
