"""The feed-forward style network: Johnson et al. 2016's TransformerNet with every
normalisation a conditional instance norm (Dumoulin, Shlens & Kudlur 2017), so that one
network holds N styles as N (gamma, beta) pairs per normalisation layer.

Plain PyTorch: this module is what gets trained, saved, exported to ONNX and run.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from fststyle.core.subpixel import (
    phased_conv,
    phased_kernel,
    shuffle_kernel,
    upsample_conv,
    upsample_kernel,
)
from fststyle.runtime.imagefiles import IDENTITY


def style_weights_from(style: torch.Tensor, num_styles: int) -> torch.Tensor:
    """(B,) style indices, (B, N) style weights or (B, N, H', W') per-pixel style weights ->
    float weights: (B, N), or (B, N, H', W') for spatial mixing.

    An index becomes a one-hot row, so both paths go through the same MatMul below and a
    one-hot row gives exactly the index's output.
    """
    if style.dtype in (torch.int32, torch.int64):
        if style.ndim != 1:
            raise ValueError(f"style indices must have shape (B,), got {tuple(style.shape)}")
        return F.one_hot(style, num_styles).float()
    if style.ndim not in (2, 4) or style.shape[1] != num_styles:
        raise ValueError(f"style weights must have shape (B, {num_styles}) or (B, {num_styles}, "
                         f"H, W), got {tuple(style.shape)}")
    return style.float()


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm whose affine (gamma, beta) is chosen per sample by style.

    Dumoulin et al. 2017, eq. 5: z = gamma_s * (x - mu) / sigma + beta_s. With a weights row w
    instead of an index s, gamma = w @ gamma_table: their convex style interpolation (Sec. 4.4).
    With per-pixel weights (B, N, H', W'), each pixel gets its own mix: their spatial mixing
    (Fig. 8). The weights are resized bilinearly to this layer's (H, W): smooth across the
    stride-2 layers, and a constant map stays constant.
    """

    def __init__(self, num_features: int, num_styles: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(num_styles, num_features))  # (N, C)
        self.beta = nn.Parameter(torch.zeros(num_styles, num_features))  # (N, C)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        # x: (B, C, H, W); style_weights: (B, N) or (B, N, H', W')
        w = style_weights.to(self.gamma.dtype)
        if w.ndim == 4:
            x = F.instance_norm(x)
            w = F.interpolate(w, size=x.shape[-2:], mode="bilinear", align_corners=False)
            gamma = torch.einsum("bnhw,nc->bchw", w, self.gamma)  # (B, C, H, W)
            beta = torch.einsum("bnhw,nc->bchw", w, self.beta)
            return x * gamma.to(x.dtype) + beta.to(x.dtype)
        gamma, beta = w @ self.gamma, w @ self.beta  # (B, C) -- MatMul, not GatherND
        # One instance norm with the affine inside it, instead of a norm, a Mul and an Add
        # (two more passes over the activations: a quarter of the full network's time at
        # 1080p, docs/speed.md). Instance norm treats each (sample, channel) plane alike, so the
        # B samples' C channels are the B*C channels of one sample, each with its own
        # (gamma, beta): exact for any batch, and one InstanceNormalization in the ONNX graph.
        b, c, h, width = x.shape
        y = F.instance_norm(x.reshape(1, b * c, h, width), weight=gamma.reshape(-1).to(x.dtype),
                            bias=beta.reshape(-1).to(x.dtype))
        return y.reshape(b, c, h, width)


class ConvLayer(nn.Module):
    """Reflection-padded convolution followed by conditional instance norm (and ReLU).

    separable: a depthwise k x k then a pointwise 1 x 1 convolution (MobileNets, Howard et al.
    2017): about k² times fewer multiply-adds than a full k x k convolution for wide layers.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, num_styles: int,
                 relu: bool = True, separable: bool = False):
        super().__init__()
        # Reflection padding instead of zero padding: no dark borders (Johnson et al. supp.).
        self.pad = nn.ReflectionPad2d(kernel // 2)
        if separable:
            self.conv = nn.Sequential(nn.Conv2d(c_in, c_in, kernel, stride, groups=c_in),
                                      nn.Conv2d(c_in, c_out, 1))
        else:
            self.conv = nn.Conv2d(c_in, c_out, kernel, stride)
        self.norm = ConditionalInstanceNorm2d(c_out, num_styles)
        self.relu = relu
        # The RGB-side 9x9 convolutions run NHWC: oneDNN's NCHW kernels for 3 channels are
        # slow, the 32 -> 3 one's backward worst (profiled, 2-core AVX2, 256², batch 4: 1.0 s
        # NCHW vs 0.14 s NHWC, a fifth of the whole step). The rest stay NCHW for instance norm.
        self.nhwc = 3 in (c_in, c_out)
        # ONNX exports run the RGB output layer as phased_conv with these kernels
        # (bake_for_onnx); PyTorch keeps the plain convolution, whose NHWC form trains fastest.
        self.register_buffer("phased", None, persistent=False)
        self.register_buffer("shuffle", None, persistent=False)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        if self.phased is not None:
            y = phased_conv(x, self.phased, self.conv.bias, self.pad.padding[0], self.shuffle)
            return self.activate(y, style_weights)
        x = self.pad(x)  # (B, C_in, H + 2p, W + 2p)
        if self.nhwc:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.activate(self.conv(x), style_weights)  # (B, C_out, H', W') NCHW

    def activate(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        """The conditional instance norm and the ReLU of the convolution's output x."""
        x = self.norm(x.contiguous(), style_weights)
        # In place: the norm's backward does not need its output, so this saves a copy.
        return F.relu_(x) if self.relu else x


class ResidualBlock(nn.Module):
    """Two 3x3 conv layers with an identity shortcut (He et al. 2016, as in Johnson et al.)."""

    def __init__(self, channels: int, num_styles: int, separable: bool = False):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1, num_styles, separable=separable)
        self.conv2 = ConvLayer(channels, channels, 3, 1, num_styles, relu=False,
                               separable=separable)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x, style_weights), style_weights)


def bake_for_onnx(net: "TransformerNet") -> "TransformerNet":
    """Fix in `net` (an export's own copy) the kernels its forward derives from the weights,
    so that the graph holds them as weights (which int8 quantises per channel), run its RGB
    output layer as phased_conv, and every depth-to-space as the transposed convolution
    onnxruntime runs fastest (subpixel.depth_to_space). The same function; derived kernels sum
    weights, so an fp16 export's stay float32 (onnx_export.store_weights_fp16 keeps what fp16
    cannot hold)."""
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, UpsampleConvLayer):
                weight = layer.conv.conv.weight  # (O, I, 3, 3)
                layer.kernel = upsample_kernel(weight)
                layer.shuffle = shuffle_kernel(weight.shape[0], weight)
        weight = net.out.conv.weight  # (3, I, k, k)
        net.out.phased = phased_kernel(weight)
        net.out.shuffle = shuffle_kernel(weight.shape[0], weight)
    return net


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour x2 upsampling, cropped to a given size, then a conv layer.

    Upsample + conv instead of ConvTranspose2d: no checkerboard artefacts (Odena et al. 2016,
    distill.pub/2016/deconv-checkerboard). Cropping to the matching encoder resolution makes
    the output exactly the input's size for odd H, W too. Computed as upsample_conv.
    """

    def __init__(self, c_in: int, c_out: int, num_styles: int):
        super().__init__()
        self.conv = ConvLayer(c_in, c_out, 3, 1, num_styles)  # 3x3, as upsample_conv computes
        self.register_buffer("kernel", None, persistent=False)  # bake_for_onnx sets these
        self.register_buffer("shuffle", None, persistent=False)

    def forward(self, x, size: tuple[int, int], style_weights: torch.Tensor) -> torch.Tensor:
        conv = self.conv.conv
        kernel = upsample_kernel(conv.weight) if self.kernel is None else self.kernel
        y = upsample_conv(x, size, kernel, conv.bias, self.shuffle)  # (B, O, H, W)
        return self.conv.activate(y, style_weights)


def restore_colours(stylized: torch.Tensor, photo: torch.Tensor,
                    share: torch.Tensor) -> torch.Tensor:
    """Give back, in proportion to `share`, the photo's per-channel mean and standard deviation
    that every instance norm removed: no (gamma, beta) row can restore them, since they differ
    from photo to photo, so the identity row alone renders the photo in normalised colours
    (15-21 dB from the photo at 256 px). A colour transfer (Reinhard et al. 2001: matching
    each channel's mean and deviation) of the output to the photo, blended by the identity
    row's share of the style weights: exact no-op where that share is 0.

    stylized, photo: (B, 3, H, W) in [0, 1]; share: (B, 1, 1, 1) or (B, 1, H, W).
    """
    mean_y, mean_x = stylized.mean((2, 3), keepdim=True), photo.mean((2, 3), keepdim=True)
    std_y = ((stylized - mean_y) ** 2).mean((2, 3), keepdim=True).add(1e-6).sqrt()
    std_x = ((photo - mean_x) ** 2).mean((2, 3), keepdim=True).add(1e-6).sqrt()
    matched = (stylized - mean_y) / std_y * std_x + mean_x  # (B, 3, H, W)
    return (stylized + share * (matched - stylized)).clamp(0, 1)


def identity_share(weights: torch.Tensor, row: int, size) -> torch.Tensor:
    """The identity row's share of (B, N) or per-pixel (B, N, H', W') style weights, as
    (B, 1, 1, 1) or (B, 1, H, W) at the output's `size`."""
    share = weights[:, row:row + 1]
    if share.ndim == 2:
        return share[:, :, None, None]
    return F.interpolate(share, size=size, mode="bilinear", align_corners=False)


class TransformerNet(nn.Module):
    """Johnson et al. 2016 image transformation network with conditional instance norm.

    The defaults are Johnson et al.'s network. The other arguments make slim students for real
    time (docs/speed.md, configs/realtime.yaml):
        alpha: scales every channel count (Magenta's width multiplier: 0.5 is ~4x fewer FLOPs).
        num_residual_blocks: residual blocks at the lowest resolution.
        downsamples: stride-2 stages; 3 puts the residual blocks at 1/8 resolution, 64x fewer
            positions than full resolution (Johnson et al.: 2).
        edge_kernel: kernel of the full-resolution first and last convolutions (Johnson et
            al.: 9); at small widths these two dominate the cost.
        separable_blocks: depthwise-separable residual blocks (MobileNets).
    Layers keep Johnson et al.'s names (conv1, conv2, conv3, ..., up1, up2, ..., out), so
    model files from before these options load unchanged. `identity_row`, the index of a style
    named `identity` (set from the style names by whoever knows them), turns on
    restore_colours for that row's share.
    """

    def __init__(self, num_styles: int, alpha: float = 1.0, num_residual_blocks: int = 5,
                 downsamples: int = 2, edge_kernel: int = 9, separable_blocks: bool = False):
        super().__init__()
        if num_styles < 1:
            raise ValueError(f"num_styles must be >= 1, got {num_styles}")
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        if downsamples not in (1, 2, 3) or edge_kernel not in (1, 3, 5, 7, 9):
            raise ValueError(f"downsamples must be 1, 2 or 3 and edge_kernel one of 1, 3, 5, 7, "
                             f"9, got {downsamples} and {edge_kernel}")
        self.num_styles, self.alpha = num_styles, alpha
        self.num_residual_blocks, self.downsamples = num_residual_blocks, downsamples
        self.edge_kernel, self.separable_blocks = edge_kernel, separable_blocks
        # Channels per resolution: 32 at full size, doubling per stage up to 128 (Johnson et al.)
        c = [max(1, round(min(32 * 2 ** k, 128) * alpha)) for k in range(downsamples + 1)]
        self.conv1 = ConvLayer(3, c[0], edge_kernel, 1, num_styles)
        for k in range(downsamples):  # conv2, conv3, ...: stride 2, full res -> 1/2^downsamples
            self.add_module(f"conv{k + 2}", ConvLayer(c[k], c[k + 1], 3, 2, num_styles))
        self.residuals = nn.ModuleList(ResidualBlock(c[-1], num_styles, separable_blocks)
                                       for _ in range(num_residual_blocks))
        for k in range(downsamples):  # up1, up2, ...: back to full resolution
            j = downsamples - k
            self.add_module(f"up{k + 1}", UpsampleConvLayer(c[j], c[j - 1], num_styles))
        self.out = ConvLayer(c[0], 3, edge_kernel, 1, num_styles, relu=False)
        self.identity_row: int | None = None

    def name_styles(self, names: list[str]) -> "TransformerNet":
        """Record the style names; a style named `identity` (the 0 end of --strength) gets
        its colours restored (restore_colours)."""
        self.style_names = list(names)
        self.identity_row = self.style_names.index(IDENTITY) if IDENTITY in names else None
        return self

    def arch(self) -> dict:
        """The constructor arguments: enough to rebuild this network from a state dict."""
        return {"num_styles": self.num_styles, "alpha": self.alpha,
                "num_residual_blocks": self.num_residual_blocks,
                "downsamples": self.downsamples, "edge_kernel": self.edge_kernel,
                "separable_blocks": self.separable_blocks}

    def forward(self, image: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """image: (B, 3, H, W) RGB in [0, 1]; style: (B,) indices, (B, N) weights, or
        (B, N, H', W') per-pixel weights (any H', W': resized to every norm layer's size).

        Returns (B, 3, H, W) in [0, 1].
        """
        w = style_weights_from(style, self.num_styles)  # (B, N) or (B, N, H', W')
        y = self.conv1(image, w)  # (B, c0, H, W)
        sizes = [y.shape[-2:]]
        for k in range(self.downsamples):
            y = getattr(self, f"conv{k + 2}")(y, w)  # (B, c_k+1, ceil(H/2^k+1), ...)
            sizes.append(y.shape[-2:])
        for block in self.residuals:
            y = block(y, w)  # (B, c_d, ~H/2^d, ~W/2^d)
        for k in range(self.downsamples):
            # Upsampled to the matching encoder size: the output is the input's size.
            y = getattr(self, f"up{k + 1}")(y, sizes[-2 - k], w)
        # Sigmoid keeps the output in [0, 1] (Dumoulin et al. used a sigmoid output too).
        y = torch.sigmoid(self.out(y, w))  # (B, 3, H, W)
        if self.identity_row is None:
            return y
        return restore_colours(y, image.to(y.dtype),
                               identity_share(w, self.identity_row, y.shape[-2:]).to(y.dtype))
