"""Temporal stability: the warps (fststyle.core.temporal) on known values, the stability term of
Eilertsen et al. 2019, the flicker measure (fststyle.evaluation.temporal), and training with
--model.temporal_weight end to end."""

import csv
import math

import numpy as np
import pytest
import torch

from fststyle.core.network import TransformerNet
from fststyle.core.temporal import (
    Motion,
    move,
    random_transforms,
    stability_loss,
    transform,
    warp,
)
from fststyle.evaluation.temporal import (
    MOTIONS,
    clip_scores,
    synthetic_clip,
    temporal_scores,
    warping_error,
)

from helpers import tiny_args


def shifts(*xy: tuple[float, float], size=(16, 16), angle=0.0, scale=1.0) -> torch.Tensor:
    b = len(xy)
    return transform(torch.tensor(xy, dtype=torch.float32), torch.full((b,), angle),
                     torch.full((b,), scale), size)


def test_identity_warp_returns_the_image_and_all_valid():
    image = torch.rand(2, 3, 9, 13)
    moved, inside = warp(image, torch.eye(3).expand(2, 3, 3))
    torch.testing.assert_close(moved, image, atol=1e-5, rtol=0)  # float32 grid rounding
    assert inside.shape == (2, 1, 9, 13) and bool(inside.all())


def test_whole_pixel_shift_moves_the_content_and_masks_what_came_from_outside():
    image = torch.rand(1, 3, 16, 16)
    moved, inside = warp(image, shifts((3.0, 2.0)))  # content moves right 3, down 2
    torch.testing.assert_close(moved[..., 2:, 3:], image[..., :-2, :-3], atol=1e-5, rtol=0)
    assert not inside[..., :2, :].any() and not inside[..., :, :3].any()
    assert inside[..., 2:, 3:].all()


def test_rotation_about_the_centre_keeps_the_centre_and_four_quarter_turns_are_identity():
    image = torch.rand(1, 1, 15, 15)
    quarter = shifts((0.0, 0.0), size=(15, 15), angle=math.pi / 2)
    once, _ = warp(image, quarter)
    assert once[0, 0, 7, 7] == pytest.approx(float(image[0, 0, 7, 7]), abs=1e-5)
    torch.testing.assert_close(once, image.rot90(1, dims=(2, 3)), atol=1e-5, rtol=0)
    assert torch.allclose(torch.linalg.matrix_power(quarter, 4), torch.eye(3), atol=1e-5)


def test_random_transforms_stay_within_the_motion_ranges():
    motion = Motion(shift=2.0, rotation=1.0, zoom=0.02)
    m = random_transforms(64, (32, 32), motion, torch.Generator().manual_seed(0))
    linear = m[:, :2, :2]
    scale = 1 / linear.det().sqrt()  # the zoom (the rotation has determinant 1)
    assert ((scale - 1).abs() <= 0.02 + 1e-6).all()
    angle = torch.atan2(linear[:, 1, 0], linear[:, 0, 0]).rad2deg().abs()
    assert (angle <= 1.0 + 1e-4).all() and angle.max() > 0.5  # drawn across the range
    assert not torch.allclose(m[0], m[1])


def test_stability_term_is_zero_for_the_identity_transform_and_positive_otherwise():
    torch.manual_seed(0)
    net = TransformerNet(2, alpha=0.25, num_residual_blocks=1).eval()
    x, style = torch.rand(2, 3, 32, 32), torch.tensor([0, 1])

    def term(matrix, noise):
        with torch.no_grad():
            moved_x, inside = move(x, matrix, noise)
            return float(stability_loss(net(moved_x, style), warp(net(x, style), matrix)[0],
                                        inside))

    identity = term(torch.eye(3).expand(2, 3, 3), 0.0)
    assert identity < 1e-11  # zero up to the float32 rounding of the sampling grid
    assert term(random_transforms(2, (32, 32), Motion()), 0.0) > 1e4 * max(identity, 1e-12)
    assert term(torch.eye(3).expand(2, 3, 3), 0.02) > 1e4 * max(identity, 1e-12)  # noise


def test_stability_term_is_zero_for_an_equivariant_function():
    """f(x) = 1 - x commutes with any warp: the term only sees what f adds."""
    x = torch.rand(2, 3, 24, 24)
    matrix = shifts((1.0, -2.0), (0.0, 3.0), size=(24, 24))
    moved_x, inside = move(x, matrix)
    assert float(stability_loss(1 - moved_x, warp(1 - x, matrix)[0], inside)) < 1e-10


@pytest.mark.parametrize("motion", list(MOTIONS))
def test_synthetic_clip_steps_undo_the_motion(motion):
    y, x = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    wave = 2 * math.pi / 10  # a 10 px period: smooth enough to resample, detailed enough to move
    photo = 0.5 + 0.4 * torch.stack([(x * wave).sin(), (y * wave).cos(), ((x + y) * wave).sin()])
    clip = synthetic_clip(photo, 32, motion, frames=5, noise=0.0)
    assert clip.frames.shape == (5, 3, 32, 32) and clip.steps.shape == (4, 3, 3)
    assert torch.equal(clip.frames, (clip.frames * 255).round() / 255)  # 8-bit values
    known = warping_error(clip.frames, clip.steps)
    ignored = warping_error(clip.frames, torch.eye(3).expand(4, 3, 3))
    assert known < 0.2 * ignored  # the steps explain the motion; ignoring it does not


class Noisy:
    """A stand-in network on the video path: the frame, plus fresh noise on every call."""

    def __init__(self, sigma: float):
        self.sigma, self.rng = sigma, np.random.default_rng(0)

    def stylize_frames(self, frames, style):
        for frame in frames:
            noise = self.rng.normal(0, self.sigma * 255, frame.shape)
            yield np.clip(frame + noise, 0, 255).round().astype(np.uint8)


def test_flicker_measure_ranks_a_network_that_adds_frame_noise_above_one_that_does_not():
    photo = torch.rand(3, 4, 4).repeat_interleave(12, 1).repeat_interleave(12, 2)  # (3, 48, 48)
    stable, flickering = Noisy(0.0), Noisy(0.05)
    calm = temporal_scores(stable, ["a"], [photo], 32)
    noisy = temporal_scores(flickering, ["a"], [photo], 32)
    assert calm["clips"] == len(MOTIONS)
    assert calm["styles"]["a"]["network"] == pytest.approx(calm["input"], abs=1e-6)  # f = id
    assert noisy["styles"]["a"]["network"] > 2 * calm["styles"]["a"]["network"]
    for scores in (calm, noisy):  # a stable network's floor is below what either scores
        assert scores["styles"]["a"]["floor"] < calm["styles"]["a"]["network"]
    frames = [np.full((8, 8, 3), 100, np.uint8)] * 4
    still = clip_scores(stable, ["a"], frames)
    assert still == {"input": 0.0, "frames": 4, "styles": {"a": 0.0}}
    assert clip_scores(flickering, ["a"], frames)["styles"]["a"] > 0.02


def test_training_with_temporal_weight_logs_the_term(tiny_model, photo_dir, style_files,
                                                     tmp_path):
    from fststyle.train import main as train

    path = train(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "stable",
                           "--model.alpha", "0.5", "--model.num_residual_blocks", "1",
                           "--model.init_from", str(tiny_model),
                           "--model.temporal_weight", "100",
                           "--model.temporal_motion", "{shift: 1.0, noise: 0.01}",
                           "--trainer.log_every_n_steps", "1"))
    rows = list(csv.DictReader(open(path.parent / "metrics.csv")))
    temporal = [float(r["train/temporal"]) for r in rows if r.get("train/temporal")]
    assert len(temporal) == 3 and all(v > 0 for v in temporal)
    for r in rows:  # the total includes the term
        if r.get("train/temporal"):
            parts = float(r["train/content"]) + float(r["train/style"]) + float(r["train/tv"])
            assert float(r["train/loss"]) == pytest.approx(parts + float(r["train/temporal"]),
                                                           rel=1e-4)


@pytest.mark.parametrize("extra, message", [
    (["--model.temporal_weight", "-1"], "--model.temporal_weight must be >= 0"),
    (["--model.temporal_motion", "{spin: 2}"], "--model.temporal_motion: keys are"),
    (["--model.temporal_motion", "{shift: -1}"], "--model.temporal_motion: ranges must be"),
])
def test_bad_temporal_options_fail_naming_them(photo_dir, style_files, tmp_path, capsys,
                                               extra, message):
    from fststyle.train import cli

    with pytest.raises(SystemExit) as exit_:
        cli(tiny_args(photo_dir, style_files, tmp_path, *extra))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"fststyle.train: error: {message}" in err and "Traceback" not in err
