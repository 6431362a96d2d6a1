"""Style transfer by optimisation (Gatys, Ecker & Bethge 2015): the image itself is optimised
against the training objective, so its result is the teacher's answer that the fast network
approximates. `python -m fststyle.gatys` runs it on one photo; `fststyle.evaluate` scores the
network against it."""

import sys

import torch
from tqdm import tqdm

from fststyle.core.losses import PerceptualLoss

LR = {"lbfgs": 1.0, "adam": 0.1}  # L-BFGS: the line search's first try along its quasi-Newton
# step; Adam: per logit step, 0.1 is about 0.025 per pixel near mid-grey.
EPS = 0.01  # pixels start within [EPS, 1 - EPS]: the sigmoid is too flat at 0 and 1 to move
HISTORY = 50  # L-BFGS curvature pairs: enough at a few hundred steps, 50 x 4 bytes x pixels


def quantize(image: torch.Tensor) -> torch.Tensor:
    """Round to 8 bits, as the image will be saved: everything is measured as it is shipped."""
    return image.mul(255).round().div(255)


def initial_logits(content: torch.Tensor, init: str, seed: int) -> torch.Tensor:
    """z with sigmoid(z) = the content image (squeezed into [EPS, 1 - EPS]) or white noise."""
    gen = torch.Generator().manual_seed(seed)
    start = content if init == "content" else torch.rand(content.shape, generator=gen)
    return torch.logit(start.clamp(EPS, 1 - EPS)).to(content.device)


def make_optimizer(z: torch.Tensor, optimizer: str, lr: float | None, steps: int):
    lr = LR[optimizer] if lr is None else lr
    if optimizer == "adam":
        return torch.optim.Adam([z], lr=lr)
    # Strong-Wolfe line search: plain unit steps diverge at 256 px from the content image.
    return torch.optim.LBFGS([z], lr=lr, max_iter=steps, history_size=HISTORY,
                             line_search_fn="strong_wolfe")


def optimise(objective: PerceptualLoss, content: torch.Tensor, style: int, steps: int = 500,
             init: str = "content", optimizer: str = "lbfgs", lr: float | None = None,
             seed: int = 0, progress: bool = True) -> torch.Tensor:
    """Minimise objective(image, content, style) over the pixels of one image.

    content: (1, 3, H, W) in [0, 1]; steps counts objective evaluations (gradient steps for
    Adam). The image is sigmoid(z) with z free, so it stays in (0, 1) and L-BFGS (Gatys et
    al.'s choice) needs no bounds. Returns the (1, 3, H, W) result in [0, 1].
    """
    if init not in ("content", "noise") or optimizer not in LR or steps < 1:
        raise ValueError(f"--init content|noise, --optimizer lbfgs|adam, --steps >= 1; got "
                         f"{init!r}, {optimizer!r}, {steps}")
    z = initial_logits(content, init, seed).requires_grad_()
    opt = make_optimizer(z, optimizer, lr, steps)
    content_feats = objective.content_features(content)  # fixed: compute once
    style_index = torch.tensor([style], device=content.device)
    bar = tqdm(total=steps, unit="step", disable=not progress, file=sys.stderr, leave=False)
    done = [0]  # evaluations so far (a disabled bar does not count)

    def closure():
        opt.zero_grad()
        total, _ = objective(torch.sigmoid(z), content, style_index, content_feats)
        total.backward()
        done[0] += 1
        bar.update()
        bar.set_postfix(loss=f"{total.item():.4g}", refresh=False)
        return total

    while done[0] < steps:  # L-BFGS runs up to max_eval evaluations per step() call
        if optimizer == "lbfgs":
            opt.param_groups[0].update(max_iter=steps - done[0], max_eval=steps - done[0])
            opt.step(closure)
        else:
            closure()
            opt.step()
    bar.close()
    return torch.sigmoid(z).detach()
