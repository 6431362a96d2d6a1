"""Convolutions laid out for onnxruntime's blocked (NCHWc) kernels, each the same function as
the plain layer it computes (docs/speed.md, "Where the time goes"): the nearest-x2 upsampling
with its 3x3 convolution as a sub-pixel convolution (Shi et al. 2016), a convolution with few
output channels as one stride-2 convolution over its four output phases, and, in exports, the
depth-to-space after each as a transposed convolution. Plain PyTorch."""

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


def shuffle_kernel(channels: int, like: torch.Tensor) -> torch.Tensor:
    """(4 * C, 1, 2, 2) one-hot: input channel 4c + 2p + q to output channel c's phase (p, q),
    pixel_shuffle's order, as the weight of a depthwise (groups C) stride-2 transposed conv."""
    kernel = like.new_zeros(channels, 2, 2, 1, 2, 2)
    for p in (0, 1):
        for q in (0, 1):
            kernel[:, p, q, 0, p, q] = 1
    return kernel.flatten(0, 2)


def depth_to_space(y: torch.Tensor, size: tuple[int, int], border: int,
                   shuffle: torch.Tensor | None = None) -> torch.Tensor:
    """pixel_shuffle(y, 2) cropped to rows (columns) border ... border + size - 1.

    With `shuffle` (shuffle_kernel), as a depthwise stride-2 transposed convolution whose
    padding crops the border: the same numbers (each output takes one input times 1), but
    onnxruntime runs it at memory speed, where its DepthToSpace ran at a third of that
    (1080p, 128 -> 32 channels: 54 against 144 ms; a plain copy 21 ms). For exports: PyTorch's
    pixel_shuffle trains faster (bf16 autocast makes the transposed convolution slow).

    y: (B, 4C, h, w). Returns (B, C, size).
    """
    if shuffle is None:
        return F.pixel_shuffle(y, 2)[:, :, border:border + size[0], border:border + size[1]]
    y = F.conv_transpose2d(y, shuffle, stride=2, padding=border, groups=shuffle.shape[0] // 4)
    return y[:, :, :size[0], :size[1]]  # (B, C, 2h - 2 border, ...) -> size


def upsample_conv(x: torch.Tensor, size: tuple[int, int], kernel: torch.Tensor,
                  bias: torch.Tensor, shuffle: torch.Tensor | None = None) -> torch.Tensor:
    """conv3x3(reflection_pad(nearest_upsample_x2(x), 1)), cropped to `size`, computed at x's
    resolution (sub-pixel convolution, Shi et al. 2016): a 2x2 convolution with four outputs per
    channel, one per output phase (kernel: upsample_kernel of the 3x3 weight), then depth-to-
    space. 4/9 of the multiply-adds, and neither the upsampled map nor its padding is ever made
    (a quarter of the full network's onnxruntime time went to those, docs/speed.md). Exact
    where size is twice x's; at an odd size the last row (column) sees the edge replicated
    where the padding reflected it.

    x: (B, I, h, w); size: (H, W), H in (2h - 1, 2h); bias: (O,); shuffle: depth_to_space's.
    Returns (B, O, H, W).
    """
    y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel,
                 bias.repeat_interleave(4))  # (B, 4O, h + 1, w + 1)
    return depth_to_space(y, size, 1, shuffle)  # of rows -1, 0, ..., 2h: 0 ... H - 1


def phased_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(O, I, k, k) -> (4 * O, I, k + 1, k + 1): the kernel shifted by each output phase."""
    o, i, k, _ = weight.shape
    kernel = weight.new_zeros(o, 2, 2, i, k + 1, k + 1)
    for p in (0, 1):
        for q in (0, 1):
            kernel[:, p, q, :, p:p + k, q:q + k] = weight
    return kernel.flatten(0, 2)


def phased_conv(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor, pad: int,
                shuffle: torch.Tensor | None = None) -> torch.Tensor:
    """conv(reflection_pad(x, pad), weight) at stride 1, exactly, as one stride-2 convolution
    with four outputs per channel (kernel: phased_kernel of the weight), then depth-to-space:
    for a convolution with few output channels, which onnxruntime's blocked layout pads to 8 or
    16 lanes (3 RGB channels: 5x the work at AVX-512), where 4 x 3 pad far less.

    x: (B, I, H, W); bias: (O,); shuffle: depth_to_space's. Returns (B, O, H, W).
    """
    size = x.shape[-2:]
    x = F.pad(F.pad(x, (pad,) * 4, mode="reflect"), (0, 1, 0, 1))  # + 1: ceil(H / 2) outputs
    y = F.conv2d(x, kernel, bias.repeat_interleave(4), stride=2)  # (B, 4O, ceil(H/2), ...)
    return depth_to_space(y, size, 0, shuffle)
