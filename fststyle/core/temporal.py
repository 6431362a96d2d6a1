"""Temporal stability without optical flow or video data: small known motions of one image.

A feed-forward style network turns small changes between video frames (noise, sub-pixel motion)
into large changes of its painted texture: flicker. Eilertsen et al. 2019 ("Single-frame
regularization for temporally stable CNNs", CVPR) train it away from single images: for a random
small transform T of the input (sub-pixel shift, slight zoom and rotation, sensor noise), the
output of the moved input should be the moved output,

    L_stability = || f(T(x)) - T(f(x)) ||^2     over the pixels T keeps inside the frame,

which is 0 for an equivariant, noise-blind network. The same warps, with motion known by
construction, measure flicker (`fststyle.evaluation.temporal`).

Transforms are affine maps in pixel coordinates, (B, 3, 3) matrices that take an *output* pixel
centre (u, v, 1) to the *source* pixel it samples (x, y, 1) — the convention grid_sample needs.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Motion:
    """The range of one random transform (each drawn uniformly in +-range): how much a camera
    or a subject moves, and how much the sensor's noise changes, between two frames at 25-30
    fps. noise is the standard deviation of Gaussian noise added to the moved input, in [0, 1]
    units (Eilertsen et al. 2019 Sec. 4: motion and noise both; 0.02 is about 5/255)."""

    shift: float = 2.0  # pixels, each axis
    rotation: float = 1.0  # degrees
    zoom: float = 0.02  # relative scale change
    noise: float = 0.02


def motion_from(options: dict[str, float] | None) -> Motion:
    """--model.temporal_motion (None: the defaults) -> Motion; unknown keys and negative
    ranges refused."""
    try:
        motion = Motion(**(options or {}))
    except TypeError:
        raise ValueError(f"--model.temporal_motion: keys are shift, rotation, zoom, noise; got "
                         f"{sorted(options)}") from None
    if min(vars(motion).values()) < 0:
        raise ValueError(f"--model.temporal_motion: ranges must be >= 0, got {options}")
    return motion


def transform(shift: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor,
              size: tuple[int, int], source: tuple[int, int] | None = None) -> torch.Tensor:
    """(B, 3, 3) maps from output to source pixels: rotate by `angle` (radians) and scale by
    `scale` about the centre, then shift by `shift` (B, 2) pixels (x, y); (B,) each. `size` is
    the output's (H, W), `source` the source's (default: the same; a larger source puts the
    output window in its middle)."""
    def centre(hw):
        return torch.tensor([(hw[1] - 1) / 2, (hw[0] - 1) / 2], device=shift.device)  # x, y

    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale  # (B,)
    m = torch.zeros(len(shift), 3, 3, device=shift.device)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, -sin, sin, cos
    # The output's centre samples the source's centre, moved by -shift: content moves by +shift.
    m[:, :2, 2] = centre(source or size) - (m[:, :2, :2] @ centre(size)) - shift
    m[:, 2, 2] = 1
    return m


def random_transforms(batch: int, size: tuple[int, int], motion: Motion,
                      generator: torch.Generator | None = None,
                      device: torch.device | str = "cpu") -> torch.Tensor:
    """(batch, 3, 3) random transforms within `motion`'s ranges."""
    u = torch.rand(batch, 4, generator=generator) * 2 - 1  # (B, 4) in [-1, 1)
    shift = u[:, :2] * motion.shift
    angle = u[:, 2] * math.radians(motion.rotation)
    scale = 1 + u[:, 3] * motion.zoom
    return transform(shift, angle, scale, size).to(device)


def warp(image: torch.Tensor, matrix: torch.Tensor,
         size: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample (B, C, H, W) `image` through (B, 3, 3) `matrix` into (B, C, h, w) (`size`,
    default the input's), bilinearly; returns it and the (B, 1, h, w) mask of pixels whose
    source lies inside the image (1) or outside it (0, clamped to the border)."""
    b, _, height, width = image.shape
    h, w = size or (height, width)
    v, u = torch.meshgrid(torch.arange(h, device=image.device, dtype=torch.float32),
                          torch.arange(w, device=image.device, dtype=torch.float32),
                          indexing="ij")  # (h, w) each
    pixels = torch.stack([u, v, torch.ones_like(u)], dim=-1).reshape(1, -1, 3)  # (1, hw, 3)
    source = (pixels @ matrix.float().transpose(1, 2))[..., :2]  # (B, hw, 2): x, y
    inside = ((source[..., 0] >= 0) & (source[..., 0] <= width - 1)
              & (source[..., 1] >= 0) & (source[..., 1] <= height - 1))  # (B, hw)
    # grid_sample's normalised coordinates (align_corners=False): pixel x -> (2x + 1) / W - 1.
    scale = torch.tensor([2 / width, 2 / height], device=image.device)
    grid = (source * scale + scale / 2 - 1).reshape(b, h, w, 2)
    moved = F.grid_sample(image.float(), grid, mode="bilinear", padding_mode="border",
                          align_corners=False)  # (B, C, h, w)
    return moved.to(image.dtype), inside.reshape(b, 1, h, w).to(image.dtype)


def move(image: torch.Tensor, matrix: torch.Tensor, noise: float = 0.0,
         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """T(image): `warp`, plus Gaussian sensor noise of std `noise`, clipped to [0, 1]."""
    moved, inside = warp(image, matrix)
    if noise > 0:
        grain = torch.randn(moved.shape, generator=generator).to(moved.device, moved.dtype)
        moved = (moved + noise * grain).clamp(0, 1)
    return moved, inside


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (B, C, H, W) `values` over the pixels where (B, 1, H, W) `mask` is 1."""
    return (values * mask).sum() / (mask.sum() * values.shape[1]).clamp_min(1)


def stability_loss(moved_output: torch.Tensor, output_moved: torch.Tensor,
                   inside: torch.Tensor) -> torch.Tensor:
    """Eilertsen et al. 2019's term: the mean squared difference between f(T(x)) and T(f(x)),
    both (B, 3, H, W), over the pixels T keeps inside the frame."""
    return masked_mean((moved_output.float() - output_moved.float()).square(), inside)
