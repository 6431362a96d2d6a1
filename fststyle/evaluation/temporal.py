"""Flicker, measured: the warping error of a network on clips whose motion is known.

Each held-out photo becomes short clips (a pan, a zoom, a small rotation), every frame with its
own sensor noise and rounded to 8 bits as a decoded video frame would be. Since the motion
between frames t and t+1 is known exactly, the stylized frame t can be moved onto frame t+1;
the warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency", Eq. 9; here
the mean absolute error in [0, 1] RGB rather than the squared one, so that it reads as an
intensity change) is

    E = mean over pairs and valid pixels of | f(x_t+1) - warp(f(x_t)) |

where valid pixels are those whose source lies inside frame t. The same measure on the input
frames themselves (their noise and resampling) is the floor a perfectly stable network would
reach. A real clip (`frame_difference`) has no known motion: there the measure is the plain
frame-to-frame difference, which counts the scene's own motion too and is reported as such.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from fststyle.core.temporal import masked_mean, transform, warp

# Per-frame motion of each synthetic clip: (shift x, shift y) pixels, rotation degrees, zoom.
# Slow camera moves at 25-30 fps, where flicker is most visible (the scene barely changes).
MOTIONS = {"pan": ((1.5, 0.75), 0.0, 1.0), "zoom": ((0.0, 0.0), 0.0, 1.01),
           "rotate": ((0.0, 0.0), 0.5, 1.0)}
FRAMES = 8  # 7 frame pairs per clip
NOISE = 0.01  # per-frame sensor noise, std in [0, 1] (about 2.5/255)
MARGIN = 1.25  # the photo is loaded at this x the clip size: the moving window stays inside


@dataclass
class Clip:
    """frames: (T, 3, H, W) in [0, 1], 8-bit values; steps: (T-1, 3, 3), steps[t] maps a pixel of
    frame t+1 to where it was in frame t (`fststyle.core.temporal` convention); origin:
    (T, 3, 3), origin[t] maps a pixel of frame t to where it was in frame 0."""

    name: str
    frames: torch.Tensor
    steps: torch.Tensor
    origin: torch.Tensor


def synthetic_clip(photo: torch.Tensor, size: int, motion: str, frames: int = FRAMES,
                   noise: float = NOISE, seed: int = 0) -> Clip:
    """A `size` x `size` clip moving over `photo` (3, H, W) (H, W >= size) by MOTIONS[motion]."""
    (sx, sy), degrees, zoom = MOTIONS[motion]
    t = torch.arange(frames, dtype=torch.float32)  # (T,)
    shift = torch.stack([sx * t, sy * t], dim=1)  # (T, 2)
    paths = transform(shift, torch.deg2rad(degrees * t), zoom ** t, (size, size),
                      tuple(photo.shape[1:]))  # (T, 3, 3): frame pixel -> photo pixel
    moved, _ = warp(photo.expand(frames, -1, -1, -1), paths, (size, size))  # (T, 3, S, S)
    grain = torch.randn(moved.shape, generator=torch.Generator().manual_seed(seed))
    moved = ((moved + noise * grain).clamp(0, 1) * 255).round() / 255
    steps = torch.linalg.inv(paths[:-1]) @ paths[1:]  # (T-1, 3, 3): frame t+1 -> frame t
    return Clip(motion, moved, steps, torch.linalg.inv(paths[:1]) @ paths)


def warping_error(frames: torch.Tensor, steps: torch.Tensor) -> float:
    """Mean |frame t+1 - warp(frame t)| over pairs and valid pixels; frames (T, 3, H, W)."""
    predicted, inside = warp(frames[:-1], steps)  # (T-1, 3, H, W), (T-1, 1, H, W)
    return float(masked_mean((frames[1:] - predicted).abs(), inside))


def stable_floor(first: torch.Tensor, clip: Clip) -> float:
    """The warping error of a perfectly stable network: its first frame (3, H, W), carried
    along the clip's motion. Not 0: bilinear resampling blurs fine texture (and the border
    enters as the view moves), so this is the floor a network's error can approach."""
    carried, _ = warp(first.expand(len(clip.origin), -1, -1, -1), clip.origin)  # (T, 3, H, W)
    return warping_error(carried, clip.steps)


def frame_difference(frames: torch.Tensor) -> float:
    """Mean |frame t+1 - frame t| over (T, 3, H, W) frames (no motion compensation)."""
    return float((frames[1:] - frames[:-1]).abs().mean())


def to_frame(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> uint8 (H, W, 3), as a video decoder delivers frames."""
    return (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def from_frame(frame: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> (3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float() / 255


def stylize_clip(stylizer, frames: torch.Tensor, style) -> torch.Tensor:
    """(T, 3, H, W) -> (T, 3, H, W) through `stylizer.stylize_frames`, the video path (uint8 in
    and out), so the measure sees what a stylized video holds."""
    outputs = stylizer.stylize_frames((to_frame(f) for f in frames), style)
    return torch.stack([from_frame(o) for o in outputs])


def temporal_scores(stylizer, styles: list[str], photos: list[torch.Tensor],
                    size: int) -> dict:
    """Warping errors over every photo (3, H', W') x MOTIONS clip, `size` px square: "input"
    (the input frames'), and per style "network" and "floor" (`stable_floor`)."""
    clips = [synthetic_clip(p, size, m, seed=i) for i, (p, m) in
             enumerate((p, m) for p in photos for m in MOTIONS)]
    scores = {}
    for style in styles:
        outputs = [stylize_clip(stylizer, c.frames, style) for c in clips]  # (T, 3, S, S)
        scores[style] = {"network": _mean(warping_error(o, c.steps)
                                          for o, c in zip(outputs, clips)),
                         "floor": _mean(stable_floor(o[0], c) for o, c in zip(outputs, clips))}
    return {"input": _mean(warping_error(c.frames, c.steps) for c in clips), "styles": scores,
            "clips": len(clips), "frames_per_clip": FRAMES, "motions": list(MOTIONS),
            "noise": NOISE, "size": size}


def clip_scores(stylizer, styles: list[str], frames: list[np.ndarray]) -> dict:
    """A real clip's uint8 (H, W, 3) frames: the frame-to-frame difference of the input and of
    each style's output (motion unknown, so the scene's motion counts too)."""
    clip = torch.stack([from_frame(f) for f in frames])  # (T, 3, H, W)
    return {"input": frame_difference(clip), "frames": len(frames),
            "styles": {s: frame_difference(stylize_clip(stylizer, clip, s)) for s in styles}}


def _mean(values) -> float:
    values = list(values)
    return math.fsum(values) / len(values)
