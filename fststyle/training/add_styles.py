"""Add styles to a trained network by training only their (gamma, beta) rows.

Dumoulin, Shlens & Kudlur 2017 (Sec. 4.3): with every convolution of a trained N-style network
frozen, a new style is learned from its conditional-instance-norm parameters alone (about 3k
numbers for the full-width net). The old styles' rows and every other weight stay bit-identical.

    python -m fststyle.train --config configs/add_style.yaml --model.styles+=my_painting.jpg
    python -m fststyle.train --config configs/add_style.yaml \\
        --model.init_from checkpoints/demo/model.safetensors \\
        --model.styles [starry_night,great_wave,udnie,the_scream,kandinsky.jpg]

--model.init_from shipped is the 11-style network that ships in the package
(fststyle.runtime.shipped), configs/add_style.yaml's default. A whole-network fine-tune may
also ask for fewer residual blocks than its init_from base has: its first ones are kept.
"""

from pathlib import Path

import torch

from fststyle.core.model_io import load_model
from fststyle.core.network import ConditionalInstanceNorm2d, TransformerNet
from fststyle.runtime.shipped import resolve


def style_tables(net: TransformerNet) -> list[torch.nn.Parameter]:
    """Every conditional instance norm's gamma and beta, each (N, C)."""
    norms = [m for m in net.modules() if isinstance(m, ConditionalInstanceNorm2d)]
    return [p for m in norms for p in (m.gamma, m.beta)]


def load_base(path: str | Path, style_names: list[str], arch: dict,
              fewer_blocks: bool = False) -> TransformerNet:
    """The trained network at `path`, checked against the requested styles and architecture
    (`arch`: TransformerNet's arguments but num_styles); `shipped`: the shipped network.
    fewer_blocks: `arch` may ask for fewer residual blocks than the base has (its first ones:
    for a fine-tune of the whole network, never for new styles alone on frozen weights)."""
    base = load_model(resolve(path))
    old = base.style_names
    if style_names[:len(old)] != old:
        raise ValueError(f"--model.init_from {path}: its styles {old} must be the first entries "
                         f"of --model.styles (got {style_names})")
    have = {k: v for k, v in base.arch().items() if k != "num_styles"}
    blocks = arch.get("num_residual_blocks", have["num_residual_blocks"])
    if fewer_blocks and {**have, "num_residual_blocks": blocks} == arch \
            and blocks < have["num_residual_blocks"]:
        return first_residual_blocks(base, blocks)
    if have != arch:
        differ = ", ".join(f"{k}={have[k]} (got {arch[k]})" for k in have if have[k] != arch[k])
        raise ValueError(f"--model.init_from {path} has {differ}; pass the same --model.* "
                         "architecture options")
    return base


def first_residual_blocks(base: TransformerNet, blocks: int) -> TransformerNet:
    """A copy of `base` with only its first `blocks` residual blocks: a shallower network to
    fine-tune. Each block adds to the identity path, so the rest still computes nearly what it
    did (residual networks behave like ensembles of shallower ones: deleting one block moves
    the output little, Veit et al. 2016)."""
    net = TransformerNet(**{**base.arch(), "num_residual_blocks": blocks})
    net.load_state_dict({k: v for k, v in base.state_dict().items()
                         if not k.startswith("residuals.")
                         or int(k.split(".")[1]) < blocks})
    net.name_styles(base.style_names)
    return net


def extend_styles(base: TransformerNet, num_styles: int) -> TransformerNet:
    """A copy of `base` with num_styles rows per (gamma, beta) table; the old rows are copied
    and each new row starts at the mean of the old rows (a blend of the learned styles, a nearer
    start than the identity affine that a fresh network begins with)."""
    net = TransformerNet(**{**base.arch(), "num_styles": num_styles})
    n_old = base.num_styles
    state = base.state_dict()
    with torch.no_grad():
        for name, table in net.state_dict().items():
            if name.endswith((".gamma", ".beta")):
                table[:n_old] = state[name]  # (N_old, C)
                table[n_old:] = state[name].mean(0)
            else:
                table.copy_(state[name])
    return net


def freeze_all_but_new_styles(net: TransformerNet) -> list[torch.nn.Parameter]:
    """requires_grad off everywhere except the (gamma, beta) tables; returns those tables.

    The tables keep their (N, C) layout (model files and the export are unchanged), so their
    old rows are trainable tensors too: `zero_old_style_grads` keeps them still."""
    net.requires_grad_(False)
    tables = style_tables(net)
    for p in tables:
        p.requires_grad_(True)
    return tables


def zero_old_style_grads(net: TransformerNet, num_old: int) -> None:
    """Zero the old styles' gradient rows. With exactly-zero gradients and no weight decay,
    Adam's moments stay 0 and its update is 0 * lr / eps = 0: those rows never move
    (tests/test_add_styles.py checks bit-identity)."""
    for p in style_tables(net):
        if p.grad is not None:
            p.grad[:num_old] = 0
