"""The Gatys et al. 2015 objective ("A Neural Algorithm of Artistic Style"), as the teacher that
the feed-forward network is trained against (Johnson et al. 2016's "perceptual loss").

Small pure functions plus one module that holds the frozen VGG and the style Gram targets.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from fststyle.core.images import load_image
from fststyle.core.objective_settings import DEFAULTS
from fststyle.core.vgg import VGGFeatures, deepest_layer, layer_names

LOSS_NORMALIZATIONS = ("target", "none")
EPS = 1e-12  # a black photo's features are all zero: keep its relative content error finite


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) Gram matrix F F^T normalised by C*H*W.

    Computed in fp32 even under bf16 autocast: a sum over H*W products loses too much in bf16.
    Reads channels_last features in place, as (B, HW, C), instead of copying them to (B, C, HW).
    """
    b, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        x = features.to(torch.promote_types(features.dtype, torch.float32))  # keeps the layout
        if c > 1 and h * w > 1 and x.is_contiguous(memory_format=torch.channels_last):
            f, positions_first = x.permute(0, 2, 3, 1).reshape(b, h * w, c), True  # a view
        else:
            f, positions_first = x.reshape(b, c, h * w), False  # (B, C, HW)
        return _Gram.apply(f, positions_first) / (c * h * w)  # (B, C, C)


class _Gram(torch.autograd.Function):
    """G = F F^T with a one-matmul backward: G is symmetric, so dL/dF = (dG + dG^T) F.

    Autograd's generic bmm backward does two large matmuls on transposed views (profiled at
    relu1_1, 256², batch 4: ~110 ms each against ~13 ms for the forward); this does one.
    """

    @staticmethod
    def forward(ctx, f: torch.Tensor, positions_first: bool) -> torch.Tensor:
        # f: (B, HW, C) if positions_first else (B, C, HW)
        ctx.save_for_backward(f)
        ctx.positions_first = positions_first
        return torch.bmm(f.mT, f) if positions_first else torch.bmm(f, f.mT)  # (B, C, C)

    @staticmethod
    def backward(ctx, grad_gram: torch.Tensor):
        (f,) = ctx.saved_tensors
        s = grad_gram + grad_gram.mT  # (B, C, C)
        return (torch.bmm(f, s) if ctx.positions_first else torch.bmm(s, f)), None


def content_loss(output: torch.Tensor, target: torch.Tensor,
                 relative: bool = False) -> torch.Tensor:
    """Mean squared feature distance (Gatys et al. eq. 1, as a mean instead of half a sum);
    relative: per sample divided by the target's mean square, then averaged over the batch."""
    output, target = output.float(), target.float()
    if not relative:
        return F.mse_loss(output, target)
    error = (output - target).pow(2).flatten(1).mean(1)  # (B,)
    return (error / target.pow(2).flatten(1).mean(1).clamp_min(EPS)).mean()


def style_loss(output_gram: torch.Tensor, target_gram: torch.Tensor,
               relative: bool = False) -> torch.Tensor:
    """(B, C, C), (B, C, C) -> (B,) mean squared Gram distance per sample (Gatys et al. eq. 4);
    relative: divided by the target Gram's mean square."""
    error = (output_gram - target_gram).pow(2).mean(dim=(1, 2))  # (B,)
    return error / target_gram.pow(2).mean(dim=(1, 2)).clamp_min(EPS) if relative else error


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic TV), (B, C, H, W)."""
    dh = (image[:, :, 1:, :] - image[:, :, :-1, :]).abs().mean()
    dw = (image[:, :, :, 1:] - image[:, :, :, :-1]).abs().mean()
    return dh + dw


class PerceptualLoss(nn.Module):
    """Weighted content + style + TV loss against a frozen VGG.

    Style Gram targets are computed once per style image (`set_style_targets`) and kept as
    buffers of shape (N, C, C) per layer, so no step recomputes them.
    """

    def __init__(self, vgg: VGGFeatures, content_layers: dict[str, float],
                 style_layers: dict[str, float], content_weight: float, style_weight: float,
                 tv_weight: float, num_styles: int, style_coefficients: list[float] | None = None,
                 loss_normalization: str = DEFAULTS.loss_normalization,
                 identity_weight: float = DEFAULTS.identity_weight):
        super().__init__()
        if loss_normalization not in LOSS_NORMALIZATIONS:
            raise ValueError(f"--model.objective.loss_normalization must be one of "
                             f"{LOSS_NORMALIZATIONS}, got {loss_normalization!r}")
        _check_layers(content_layers, "content_layers", vgg.arch)
        _check_layers(style_layers, "style_layers", vgg.arch)
        for name, value in (("content_weight", content_weight), ("style_weight", style_weight),
                            ("tv_weight", tv_weight), ("identity_weight", identity_weight)):
            if value < 0:
                raise ValueError(f"--model.objective.{name} must be >= 0, got {value}")
        coefficients = style_coefficients or [1.0] * num_styles
        if len(coefficients) != num_styles or min(coefficients) < 0:
            raise ValueError(f"--model.objective.style_coefficients needs {num_styles} "
                             f"non-negative values (one per style), got {coefficients}")
        self.vgg = vgg
        self.content_layers, self.style_layers = dict(content_layers), dict(style_layers)
        self.content_weight, self.style_weight = content_weight, style_weight
        self.tv_weight, self.loss_normalization = tv_weight, loss_normalization
        self.identity_weight = identity_weight
        self.register_buffer("style_coefficients", torch.tensor(coefficients))
        # (N,) True for identity rows (no painting); set by set_style_targets.
        self.register_buffer("identity", torch.zeros(num_styles, dtype=torch.bool))
        for name in style_layers:
            c = vgg.convs[vgg.names.index(name)].out_channels
            self.register_buffer(f"gram_{name}", torch.zeros(num_styles, c, c))

    @classmethod
    def with_defaults(cls, vgg: VGGFeatures, num_styles: int) -> "PerceptualLoss":
        """The default recipe's objective (objective_settings.DEFAULTS) on `vgg`, targets not
        yet set."""
        d = DEFAULTS
        return cls(vgg, d.content_layers, d.style_layers, d.content_weight, d.style_weight,
                   d.tv_weight, num_styles, loss_normalization=d.loss_normalization)

    @torch.no_grad()
    def set_style_targets(self, style_images: list[torch.Tensor | None]) -> None:
        """One (1, 3, H, W) image in [0, 1] per style (sizes may differ), or None for an
        identity row: no Gram targets, the pixel term instead of the style term."""
        for i, image in enumerate(style_images):
            self.identity[i] = image is None
            if image is None:
                continue
            feats = self.vgg(image.to(self.style_coefficients.device), set(self.style_layers))
            for name, f in feats.items():
                getattr(self, f"gram_{name}")[i] = gram_matrix(f)[0]  # (C, C)

    def target_gram(self, name: str, style: torch.Tensor) -> torch.Tensor:
        """(B,) style indices -> (B, C, C) target Grams of layer `name`."""
        return getattr(self, f"gram_{name}")[style]

    def content_features(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        # The content image only needs features up to the deepest content layer, without grad.
        with torch.no_grad():
            return self.vgg(content, set(self.content_layers))

    def forward(self, output: torch.Tensor, content: torch.Tensor, style: torch.Tensor,
                content_feats: dict[str, torch.Tensor] | None = None,
                strength: torch.Tensor | None = None):
        """output, content: (B, 3, H, W) in [0, 1]; style: (B,) indices; strength: (B,) in
        [0, 1] or None (1 each): the style term times s, the identity pixel term times 1 - s
        (fststyle.training.strength).

        Returns (total, {name: weighted term}); the terms add up to the total.
        """
        if content_feats is None:
            content_feats = self.content_features(content)
        feats = self.vgg(output, set(self.content_layers) | set(self.style_layers))
        return self.objective(output, feats, content_feats, style, content, strength)

    def plain_forward(self, vgg_full: VGGFeatures, output: torch.Tensor,
                      content: torch.Tensor, style: torch.Tensor):
        """The same objective, formulated plainly: two full VGG passes (to the network's last
        layer, the content one tracked by autograd too). For benchmarks, and for checking that
        the optimised path (`forward`) computes the same numbers."""
        layers = set(self.content_layers) | set(self.style_layers)
        feats = vgg_full(output, layers, stop_at=vgg_full.names[-1])
        content_feats = vgg_full(content, layers, stop_at=vgg_full.names[-1])
        return self.objective(output, feats, content_feats, style, content)

    def objective(self, output: torch.Tensor, feats: dict, content_feats: dict,
                  style: torch.Tensor, content: torch.Tensor | None = None,
                  strength: torch.Tensor | None = None):
        """Weighted terms from VGG features of the output and of the content (and, for
        identity rows and strengths below 1, the content image itself)."""
        terms, relative = {}, self.loss_normalization == "target"
        content_term = sum(w * content_loss(feats[n], content_feats[n], relative)
                           for n, w in self.content_layers.items())
        terms["content"] = self.content_weight * content_term
        identity = self.identity[style]  # (B,) bool
        s = torch.ones(len(style), device=output.device) if strength is None else strength
        coeff = torch.where(identity, 0.0, self.style_coefficients[style] * s)  # (B,)
        for name, w in self.style_layers.items():
            per_sample = style_loss(gram_matrix(feats[name]), self.target_gram(name, style),
                                    relative)  # (B,)
            terms[f"style/{name}"] = self.style_weight * w * (coeff * per_sample).mean()
        terms["style"] = sum(terms[f"style/{n}"] for n in self.style_layers)
        terms["tv"] = self.tv_weight * total_variation(output.float())
        total = terms["content"] + terms["style"] + terms["tv"]
        if self.identity.any():
            pixel = (output.float() - content.float()).pow(2).flatten(1).mean(1)  # (B,)
            toward_photo = torch.where(identity, 1.0, 1 - s)  # (B,): the identity row's share
            terms["identity"] = self.identity_weight * (toward_photo * pixel).mean()
            total = total + terms["identity"]
        return total, terms


def build_objective(style_files: list, style_size: int, content_layers: dict[str, float],
                    style_layers: dict[str, float], content_weight: float, style_weight: float,
                    tv_weight: float, style_coefficients: list[float] | None, vgg_weights: str,
                    vgg_pooling: str,
                    loss_normalization: str = DEFAULTS.loss_normalization,
                    identity_weight: float = DEFAULTS.identity_weight,
                    device: str | torch.device = "cpu") -> PerceptualLoss:
    """The training objective, built one way for training (fststyle.training.module) and for
    measuring (fststyle.evaluation.objective): the VGG truncated at the deepest loss layer, and
    one style's Gram targets per image in `style_files`, its shorter side resized to
    `style_size` (no crop); None for an identity row."""
    layers = list(content_layers) + list(style_layers)
    vgg = VGGFeatures(vgg_weights, deepest_layer(layers), vgg_pooling)
    loss = PerceptualLoss(vgg, content_layers, style_layers, content_weight, style_weight,
                          tv_weight, len(style_files), style_coefficients,
                          loss_normalization, identity_weight).to(device)
    loss.set_style_targets([None if f is None else load_image(f, style_size)[None]
                            for f in style_files])
    return loss


def _check_layers(layers: dict[str, float], option: str, arch: str) -> None:
    known = layer_names(arch)
    if not layers:
        raise ValueError(f"--model.objective.{option} is empty: name at least one VGG layer")
    for name, weight in layers.items():
        if name not in known:
            raise ValueError(f"--model.objective.{option}: unknown VGG layer {name!r}; {arch} "
                             f"has {known}")
        if weight < 0:
            raise ValueError(f"--model.objective.{option}: weight of {name} must be >= 0, got "
                             f"{weight}")
