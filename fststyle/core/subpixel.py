"""Convolutions laid out for onnxruntime's blocked (NCHWc) kernels, each the same function as
the plain layer it computes (docs/speed.md, "Where the time goes"): the nearest-x2 upsampling
with its 3x3 convolution as a sub-pixel convolution (Shi et al. 2016), and a convolution with
few output channels as one stride-2 convolution over its four output phases. Plain PyTorch."""

import torch
import torch.nn.functional as F

# Tap a (0, 1, 2) of a 3x3 kernel over a nearest-x2 upsampled map reads one of two rows of the
# map before upsampling. Window t over rows (t - 1, t) of that map, edge-replicated, gives the
# output rows 2t - 1 (phase 0: taps 0 + 1 on row t - 1, tap 2 on row t) and 2t (phase 1: tap
# 0, then taps 1 + 2). UPSAMPLE_TAPS[phase, row of the window, tap].
UPSAMPLE_TAPS = torch.tensor([[[1., 1, 0], [0, 0, 1]], [[1, 0, 0], [0, 1, 1]]])  # (2, 2, 3)


def upsample_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, 3, 3) -> (4 * O, I, 2, 2): output channel o's phase (p, q) at 4o + 2p + q,
    pixel_shuffle's order."""
    taps = UPSAMPLE_TAPS.to(weight)
    return torch.einsum("pta,oiab,qsb->opqits", taps, weight, taps).flatten(0, 2)


def upsample_conv(x: torch.Tensor, size: tuple[int, int], kernel: torch.Tensor,
                  bias: torch.Tensor) -> torch.Tensor:
    """conv3x3(reflection_pad(nearest_upsample_x2(x), 1)), cropped to `size`, computed at x's
    resolution (sub-pixel convolution, Shi et al. 2016): a 2x2 convolution with four outputs per
    channel, one per output phase (kernel: upsample_kernel of the 3x3 weight), then depth-to-
    space. 4/9 of the multiply-adds, and neither the upsampled map nor its padding is ever made
    (a quarter of the full network's onnxruntime time went to those, docs/speed.md). Exact
    where size is twice x's; at an odd size the last row (column) sees the edge replicated
    where the padding reflected it.

    x: (B, I, h, w); size: (H, W), H in (2h - 1, 2h); bias: (O,). Returns (B, O, H, W).
    """
    y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel,
                 bias.repeat_interleave(4))  # (B, 4O, h + 1, w + 1)
    return F.pixel_shuffle(y, 2)[:, :, 1:1 + size[0], 1:1 + size[1]]  # rows -1, 0, ..., 2h


def phased_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, k, k) -> (4 * O, I, k + 1, k + 1): the kernel shifted by each output phase."""
    o, i, k, _ = weight.shape
    kernel = weight.new_zeros(o, 2, 2, i, k + 1, k + 1)
    for p in (0, 1):
        for q in (0, 1):
            kernel[:, p, q, :, p:p + k, q:q + k] = weight
    return kernel.flatten(0, 2)


def phased_conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor,
                pad: int) -> torch.Tensor:
    """conv(reflection_pad(x, pad), weight) at stride 1, exactly, as one stride-2 convolution
    with four outputs per channel (kernel: phased_kernel of the weight), then depth-to-space:
    for a convolution with few output channels, which onnxruntime's blocked layout pads to 8 or
    16 lanes (3 RGB channels: 5x the work at AVX-512), where 4 x 3 pad far less.

    x: (B, I, H, W); bias: (O,). Returns (B, O, H, W).
    """
    height, width = x.shape[-2:]
    x = F.pad(F.pad(x, (pad,) * 4, mode="reflect"), (0, 1, 0, 1))  # + 1: ceil(H / 2) outputs
    y = F.conv2d(x, kernel, bias.repeat_interleave(4), stride=2)  # (B, 4O, ceil(H/2), ...)
    return F.pixel_shuffle(y, 2)[:, :, :height, :width]
