"""Style strength as a trained condition (Babaeizadeh & Ghiasi 2018, "Adjustable Real-time Style
Transfer": one network conditioned on the loss weights it was trained with).

`--strength s` at run time mixes a style's (gamma, beta) with the identity row's, {style: s,
identity: 1 - s} (fststyle.runtime.styles.with_strength). A network trained at s = 1 and
s = 0 only never sees the mixes in between: the first shipped network's style term rose at
s = 0.5 for 8 of its 11 styles (fststyle/models/MODEL_CARD.md). With `--model.random_strength
f`, a fraction f of the painting crops is trained at a random s ~ U(0, 1), through the mix the
runtime will use and with the loss that strength asks for: the style term times s and the
identity row's pixel term times 1 - s, the content term whole (core.losses.PerceptualLoss). So
s = 1 is the style's own objective and s = 0 the identity row's, and the identity row, which
otherwise trains on 1/N of the crops, learns from every mixed one.
"""

import torch
import torch.nn.functional as F

from fststyle.runtime.imagefiles import IDENTITY


def check_fraction(fraction: float, style_names: list[str]) -> None:
    """--model.random_strength: in [0, 1], and above 0 only with an identity style."""
    if not 0 <= fraction <= 1 or (fraction and IDENTITY not in style_names):
        raise ValueError(f"--model.random_strength must be in [0, 1] and needs an {IDENTITY!r} "
                         f"style in --model.styles, got {fraction}")


def step_condition(style: torch.Tensor, is_identity: torch.Tensor, fraction: float,
                   identity_row: int | None, where: tuple[int, int, int, int]):
    """One step's strengths and the network's condition: (None, the (B,) indices) where
    fraction is 0, else ((B,) strengths, (B, N) mixes). `is_identity`: (N,) bool; where: the
    run's seed, the step, this rank and the world size (step_generator's draws)."""
    if not fraction:
        return None, style
    strength = random_strengths(style, is_identity, fraction, step_generator(*where))
    return strength, strength_weights(style, strength, identity_row, len(is_identity))


def random_strengths(style: torch.Tensor, is_identity: torch.Tensor, fraction: float,
                     generator: torch.Generator) -> torch.Tensor:
    """(B,) style indices -> (B,) strengths: U(0, 1) for about `fraction` of the painting crops,
    1 for the others and for the identity row's own crops. `is_identity`: (N,) bool."""
    draw = torch.rand(2, len(style), generator=generator)  # (2, B): whether, and which s
    mixed = (draw[0] < fraction).to(style.device) & ~is_identity[style]
    return torch.where(mixed, draw[1].to(style.device), 1.0)


def strength_weights(style: torch.Tensor, strength: torch.Tensor, identity_row: int,
                     num_styles: int) -> torch.Tensor:
    """(B,) indices and strengths -> (B, N) style weights {style: s, identity: 1 - s}, the
    runtime's mix (a one-hot row where s = 1)."""
    weights = F.one_hot(style, num_styles).float() * strength[:, None]  # (B, N)
    weights[:, identity_row] += 1 - strength
    return weights


def step_generator(seed: int, step: int, rank: int, world_size: int) -> torch.Generator:
    """A generator for one step on one rank: the draws repeat when a run resumes."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step * world_size + rank)
