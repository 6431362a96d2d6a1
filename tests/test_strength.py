"""Style strength as a trained condition (fststyle.training.strength): the draws, the mix the
network sees, the loss that strength asks for (known values), and the training option end to
end."""

import pytest
import torch

from fststyle.core.losses import PerceptualLoss
from fststyle.core.model_file import read_model
from fststyle.core.vgg import VGGFeatures
from fststyle.train import cli
from fststyle.train import main as train
from fststyle.training.strength import random_strengths, step_generator, strength_weights

from helpers import tiny_args

IDENTITY_ROW = torch.tensor([False, False, True])  # styles 0, 1 painted; 2 the identity row


def test_no_fraction_draws_full_strength_and_every_fraction_spares_identity_crops():
    style = torch.tensor([0, 1, 2] * 100)
    none = random_strengths(style, IDENTITY_ROW, 0.0, step_generator(0, 5, 0, 1))
    assert torch.equal(none, torch.ones(300))
    every = random_strengths(style, IDENTITY_ROW, 1.0, step_generator(0, 5, 0, 1))
    assert torch.equal(every[style == 2], torch.ones(100))  # the identity row's own crops
    painted = every[style != 2]
    assert painted.min() >= 0 and painted.max() < 1 and 0.4 < painted.mean() < 0.6  # U(0, 1)
    half = random_strengths(style, IDENTITY_ROW, 0.5, step_generator(0, 5, 0, 1))
    assert 0.3 < (half[style != 2] < 1).float().mean() < 0.7


def test_draws_repeat_for_a_step_and_differ_across_steps_and_ranks():
    style = torch.tensor([0, 1] * 8)
    draw = [random_strengths(style, IDENTITY_ROW, 1.0, step_generator(0, step, rank, 2))
            for step, rank in ((3, 0), (3, 0), (4, 0), (3, 1))]
    assert torch.equal(draw[0], draw[1])
    assert not torch.equal(draw[0], draw[2]) and not torch.equal(draw[0], draw[3])


def test_the_mix_is_the_runtimes_style_and_identity_blend():
    weights = strength_weights(torch.tensor([0, 1, 2]), torch.tensor([0.25, 1.0, 1.0]), 2, 3)
    torch.testing.assert_close(weights, torch.tensor([[0.25, 0.0, 0.75],   # 0 at strength 1/4
                                                      [0.0, 1.0, 0.0],     # full strength
                                                      [0.0, 0.0, 1.0]]))   # the identity row


def make_loss() -> PerceptualLoss:
    loss = PerceptualLoss(VGGFeatures("random", "relu2_1"), {"relu2_1": 1.0},
                          {"relu1_1": 0.5, "relu2_1": 0.5}, content_weight=1.0,
                          style_weight=3.0, tv_weight=0.0, num_styles=3, identity_weight=4.0)
    loss.set_style_targets([torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), None])
    return loss


def test_a_strength_scales_the_style_term_by_s_and_the_pixel_term_by_one_minus_s():
    loss, photo = make_loss(), torch.rand(2, 3, 32, 32)
    output = (photo + 0.1 * torch.randn_like(photo)).clamp(0, 1)
    style = torch.tensor([0, 1])
    _, full = loss(output, photo, style)
    _, mixed = loss(output, photo, style, strength=torch.tensor([0.25, 1.0]))
    each = [loss(output[i:i + 1], photo[i:i + 1], style[i:i + 1])[1] for i in range(2)]
    # Per-sample terms, averaged over the batch of 2: sample 0 at 1/4, sample 1 whole.
    torch.testing.assert_close(mixed["style"], (0.25 * each[0]["style"] + each[1]["style"]) / 2)
    torch.testing.assert_close(mixed["content"], full["content"])
    mse = (output[0] - photo[0]).pow(2).mean()
    torch.testing.assert_close(mixed["identity"], 4.0 * 0.75 * mse / 2)
    assert full["identity"].item() == 0.0  # strength 1: no pixel term for painted crops
    _, zero = loss(output, photo, style, strength=torch.zeros(2))
    assert zero["style"].item() == 0.0  # strength 0 is the identity row's objective


def test_training_with_random_strength_records_it_and_needs_an_identity_style(
        photo_dir, style_files, tmp_path, capsys):
    path = train(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "strength",
                           "--model.random_strength", "0.5", "--model.styles",
                           f"[{style_files[0]},{style_files[1]},identity]"))
    assert read_model(path).hparams["random_strength"] == 0.5
    with pytest.raises(SystemExit) as stop:
        cli(tiny_args(photo_dir, style_files, tmp_path, "--model.random_strength", "0.5"))
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "fststyle.train: error: --model.random_strength must be in [0, 1] and needs an "
        "'identity' style in --model.styles, got 0.5")
