"""`python -m fststyle.gatys` and fststyle.evaluation.objective: the teacher optimises the
training objective itself, and lowers it below the content image's."""

import re

import pytest
import torch
from PIL import Image

from fststyle import gatys
from fststyle.core.objective_settings import Objective
from fststyle.evaluation.gatys import optimise
from fststyle.evaluation.objective import objective_from_hparams, training_defaults
from fststyle.runtime.imagefiles import demo_photos
from fststyle.training.module import StyleTransfer

from helpers import tiny_args

PHOTO = demo_photos("heldout")[1]  # skimage_coffee.png, 600 x 400


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, photo_dir, style_files):
    """A 3-step 2-style model (random VGG); returns its model.safetensors path."""
    from fststyle.train import main as train

    root = tmp_path_factory.mktemp("gatys_model")
    return train(tiny_args(photo_dir, style_files, root, "--run_name", "g",
                           "--model.alpha", "0.5", "--model.num_residual_blocks", "1",
                           "--model.objective.content_weight", "2.5",
                           "--model.objective.tv_weight", "0.5"))


def test_objective_is_the_training_loss(style_files):
    """Same hyperparameters -> the same number as StyleTransfer's loss_fn, defaults included."""
    settings = {"vgg_weights": "random", "style_size": 48, "style_weight": 7.0}
    hparams = {"styles": [str(f) for f in style_files], **settings}
    module = StyleTransfer(styles=hparams["styles"], objective=Objective(**settings))
    objective = objective_from_hparams(hparams)
    image, content = torch.rand(2, 1, 3, 40, 56).unbind(0)
    for style in (0, 1):
        want, want_terms = module.loss_fn(image, content, torch.tensor([style]))
        got, got_terms = objective(image, content, torch.tensor([style]))
        torch.testing.assert_close(got, want)
        assert got_terms.keys() == want_terms.keys()
    assert objective.style_names == ["s1", "s2"]
    assert training_defaults()["content_weight"] == module.loss_fn.content_weight


def test_teacher_lowers_objective_below_content(tmp_path, style_files):
    """Caffe VGG at 48 px, 20 L-BFGS steps: the result is closer to the style than the photo."""
    out = tmp_path / "out.png"
    terms = gatys.main(["--content", str(PHOTO), "--style", str(style_files[0]), "--out",
                        str(out), "--size", "48", "--steps", "20", "--style-size", "48"])
    content, result = terms["content_image"], terms["result"]
    assert content["content"] == 0 and content["style"] > 0
    assert result["total"] < 0.8 * content["total"]
    assert result["total"] == pytest.approx(result["content"] + result["style"] + result["tv"])
    assert Image.open(out).size == (72, 48)  # shorter side --size, aspect kept


def test_recipe_options_reach_the_objective(tmp_path, style_files, capsys):
    argv = ["--content", str(PHOTO), "--style", str(style_files[1]), "--out",
            str(tmp_path / "o.jpg"), "--size", "32", "--steps", "3", "--init", "noise",
            "--optimizer", "adam", "--lr", "0.05", "--seed", "3", "--content-weight", "2",
            "--style-weight", "9", "--tv-weight", "0.25", "--style-size", "40",
            "--vgg-weights", "random", "--vgg-pooling", "avg",
            "--content-layers", '{"relu3_1": 1.0}', "--style-layers", '{"relu1_1": 0.5}']
    objective, style = gatys.objective_from_args(gatys.parse_args(argv))
    assert (objective.content_weight, objective.style_weight, objective.tv_weight) == (2, 9, 0.25)
    assert objective.content_layers == {"relu3_1": 1.0}
    assert objective.style_layers == {"relu1_1": 0.5} and style == 0
    assert objective.vgg.source == "random" and isinstance(objective.vgg.pool, torch.nn.AvgPool2d)
    assert objective.vgg.names[-1] == "relu3_1"  # built no deeper than the objective reads
    terms = gatys.main(argv)
    assert terms["result"]["content"] > 0  # noise init: far from the content image
    assert (tmp_path / "o.jpg").is_file()
    assert "result: total" in capsys.readouterr().out


def test_optimise_counts_steps_for_both_optimizers(style_files):
    objective = objective_from_hparams({"styles": [str(style_files[0])], "vgg_weights": "random",
                                        "style_size": 32})
    content = torch.rand(1, 3, 24, 24)
    calls = []
    forward = objective.forward
    objective.forward = lambda *a: calls.append(1) or forward(*a)
    for optimizer, steps in (("lbfgs", 7), ("adam", 4)):
        calls.clear()
        out = optimise(objective, content, 0, steps, optimizer=optimizer, progress=False)
        assert len(calls) == steps
        assert out.shape == content.shape and 0 < out.min() and out.max() < 1


def test_model_objective_and_style_choice(tmp_path, tiny_model, style_files):
    """--model: the model's training weights; --style by name or index; --style-files."""
    base = ["--content", str(PHOTO), "--out", str(tmp_path / "m.png"), "--model",
            str(tiny_model), "--size", "32", "--steps", "2"]
    objective, style = gatys.objective_from_args(gatys.parse_args([*base, "--style", "s2"]))
    assert style == 1 and (objective.content_weight, objective.tv_weight) == (2.5, 0.5)
    assert objective.vgg.source == "random"
    files = f"{style_files[1]},{style_files[0]}"  # swapped: s1 now gets s2's Grams
    swapped, style = gatys.objective_from_args(gatys.parse_args([*base, "--style", "0",
                                                             "--style-files", files]))
    assert style == 0
    torch.testing.assert_close(swapped.gram_relu1_1[0], objective.gram_relu1_1[1])
    assert gatys.main([*base, "--style", "s1", "--tv-weight", "3"])["result"]["tv"] > 0
    assert (tmp_path / "m.png").is_file()


@pytest.mark.parametrize("extra, message", [
    (["--out", "x.txt"], "expected an image file name"),
    (["--style", "nope"], "with --model, name one of its styles (s1, s2)"),
    (["--content", "missing.jpg"], "--content: no file at missing.jpg"),
    (["--model", "none.safetensors"], "model file not found"),
])
def test_errors_name_the_option(tmp_path, tiny_model, capsys, extra, message):
    argv = ["--content", str(PHOTO), "--style", "s1", "--out", str(tmp_path / "e.png"),
            "--model", str(tiny_model), "--steps", "1", *extra]
    with pytest.raises(SystemExit) as exit_info:
        gatys.cli(argv)
    assert exit_info.value.code == 2
    assert re.search("fststyle.gatys: error: .*" + re.escape(message), capsys.readouterr().err)
    assert not (tmp_path / "e.png").exists()


def test_style_files_need_model(tmp_path, style_files):
    with pytest.raises(ValueError, match="--style-files goes with --model"):
        gatys.main(["--content", str(PHOTO), "--style", str(style_files[0]), "--out",
                   str(tmp_path / "x.png"), "--style-files", str(style_files[0])])


def test_out_onto_the_content_photo_is_refused(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    photo.write_bytes(PHOTO.read_bytes())
    with pytest.raises(SystemExit) as exit_info:
        gatys.cli(["--content", str(photo), "--style", "udnie", "--out", str(photo),
                   "--steps", "1"])
    assert exit_info.value.code == 2
    assert "is the --content photo" in capsys.readouterr().err
    assert photo.read_bytes() == PHOTO.read_bytes()
