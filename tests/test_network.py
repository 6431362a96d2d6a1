"""TransformerNet: sizes, range, style conditioning and mixing."""

import pytest
import torch
import torch.nn.functional as F

from fststyle.core.network import (
    ConditionalInstanceNorm2d,
    TransformerNet,
    identity_share,
    restore_colours,
)
from fststyle.core.subpixel import (
    depth_to_space,
    phased_conv,
    phased_kernel,
    shuffle_kernel,
    upsample_conv,
    upsample_kernel,
)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    n = TransformerNet(num_styles=3).eval()
    # Distinct (gamma, beta) per style, as after training (at init every style is identical).
    with torch.no_grad():
        for m in n.modules():
            if hasattr(m, "gamma"):
                m.gamma.add_(torch.randn_like(m.gamma) * 0.3)
                m.beta.add_(torch.randn_like(m.beta) * 0.3)
    return n


@pytest.mark.parametrize("h, w", [(64, 64), (93, 67), (17, 130), (9, 11)])
def test_output_has_input_size_and_range(net, h, w):
    y = net(torch.rand(2, 3, h, w), torch.tensor([0, 2]))
    assert y.shape == (2, 3, h, w)
    assert 0.0 <= y.min().item() and y.max().item() <= 1.0


def test_styles_give_different_outputs(net):
    x = torch.rand(1, 3, 48, 48)
    outs = [net(x, torch.tensor([i])) for i in range(3)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert (outs[i] - outs[j]).abs().max() > 1e-3


def test_one_hot_weights_equal_index(net):
    x = torch.rand(2, 3, 40, 36)
    idx = torch.tensor([1, 2])
    one_hot = torch.nn.functional.one_hot(idx, 3).float()
    assert torch.equal(net(x, idx), net(x, one_hot))


def test_half_half_mix_differs_from_both(net):
    x = torch.rand(1, 3, 40, 40)
    a, b = net(x, torch.tensor([0])), net(x, torch.tensor([1]))
    mix = net(x, torch.tensor([[0.5, 0.5, 0.0]]))
    assert (mix - a).abs().max() > 1e-3 and (mix - b).abs().max() > 1e-3


def test_width_multiplier_and_blocks_shrink_the_network():
    full = sum(p.numel() for p in TransformerNet(2).parameters())
    small = TransformerNet(2, alpha=0.5, num_residual_blocks=3)
    assert sum(p.numel() for p in small.parameters()) < full / 3
    assert small(torch.rand(1, 3, 33, 31), torch.tensor([1])).shape == (1, 3, 33, 31)


def test_bad_style_input_is_rejected(net):
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match=r"shape \(B, 3\)"):
        net(x, torch.rand(1, 2))
    with pytest.raises(ValueError, match="num_styles"):
        TransformerNet(0)


def test_the_fused_conditional_norm_is_norm_then_affine():
    """One instance_norm over the batch's (sample, channel) planes with (gamma, beta) inside
    it equals the plain norm followed by each sample's affine."""
    norm = ConditionalInstanceNorm2d(5, 3)
    with torch.no_grad():
        norm.gamma.normal_(), norm.beta.normal_()
    x, w = torch.randn(4, 5, 7, 9), torch.softmax(torch.randn(4, 3), 1)
    want = F.instance_norm(x) * (w @ norm.gamma)[:, :, None, None] + (w @ norm.beta)[:, :, None,
                                                                                    None]
    torch.testing.assert_close(norm(x, w), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("h, w", [(5, 7), (6, 4)])
def test_the_sub_pixel_upsampling_equals_upsample_pad_conv(h, w):
    """upsample_conv is Johnson et al.'s nearest x2, reflection pad and 3x3 conv, to float
    rounding, at twice the size; at an odd size only the last row and column differ."""
    torch.manual_seed(1)
    x, weight, bias = torch.rand(2, 4, h, w), torch.randn(3, 4, 3, 3), torch.randn(3)

    def plain(size):
        up = F.interpolate(x, size=size, mode="nearest")
        return F.conv2d(F.pad(up, (1, 1, 1, 1), mode="reflect"), weight, bias)

    torch.testing.assert_close(upsample_conv(x, (2 * h, 2 * w), upsample_kernel(weight), bias),
                               plain((2 * h, 2 * w)), atol=1e-5, rtol=1e-5)
    odd = upsample_conv(x, (2 * h - 1, 2 * w - 1), upsample_kernel(weight), bias)
    assert odd.shape[-2:] == (2 * h - 1, 2 * w - 1)
    torch.testing.assert_close(odd[..., :-1, :-1], plain((2 * h - 1, 2 * w - 1))[..., :-1, :-1],
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("h, w, k", [(9, 10, 9), (11, 7, 5), (6, 6, 3)])
def test_the_phased_convolution_equals_the_padded_one(h, w, k):
    """phased_conv (one stride-2 convolution over the four output phases) is the reflection-
    padded stride-1 convolution at even and odd sizes."""
    torch.manual_seed(2)
    x, weight, bias = torch.rand(2, 5, h, w), torch.randn(3, 5, k, k), torch.randn(3)
    want = F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), weight, bias)
    got = phased_conv(x, phased_kernel(weight), bias, k // 2)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size, border", [((10, 12), 1), ((9, 11), 1), ((12, 14), 0),
                                          ((11, 13), 0)])
def test_the_transposed_depth_to_space_is_pixel_shuffle_exactly(size, border):
    """The exports' depth-to-space (a depthwise transposed convolution with one-hot weights)
    moves the same numbers as pixel_shuffle and its crop, bit for bit."""
    y = torch.randn(2, 4 * 3, 6, 7)  # (B, 4C, h, w)
    shuffle = shuffle_kernel(3, y)
    assert shuffle.shape == (12, 1, 2, 2) and shuffle.sum() == 12
    want = F.pixel_shuffle(y, 2)[:, :, border:border + size[0], border:border + size[1]]
    assert torch.equal(depth_to_space(y, size, border, shuffle), want)
    assert torch.equal(depth_to_space(y, size, border), want)


def test_restoring_colours_inverts_a_per_channel_affine_change():
    photo = torch.rand(2, 3, 16, 20) * 0.5 + 0.25  # inside (0, 1): nothing is clipped
    changed = (photo - 0.5) * torch.tensor([0.5, 1.5, 1.0])[:, None, None] + 0.4  # in (0, 1)
    torch.testing.assert_close(restore_colours(changed, photo, torch.ones(2, 1, 1, 1)), photo,
                               atol=1e-4, rtol=0)
    half = restore_colours(changed, photo, torch.full((2, 1, 1, 1), 0.5))
    torch.testing.assert_close(half, (changed + photo) / 2, atol=1e-4, rtol=0)
    assert torch.equal(restore_colours(changed, photo, torch.zeros(2, 1, 1, 1)), changed)


def test_the_identity_rows_share_and_where_it_applies(net):
    assert identity_share(torch.tensor([[0.2, 0.8]]), 1, (4, 4)).shape == (1, 1, 1, 1)
    assert identity_share(torch.rand(2, 3, 5, 6), 2, (10, 12)).shape == (2, 1, 10, 12)
    assert TransformerNet(3).name_styles(["a", "identity", "b"]).identity_row == 1
    assert TransformerNet(2).name_styles(["a", "b"]).identity_row is None
    image = torch.rand(1, 3, 24, 28)
    plain = net(image, torch.tensor([0]))
    net.identity_row = 2
    try:
        assert torch.equal(net(image, torch.tensor([0])), plain)  # no identity share: no-op
        photo_like = net(image, torch.tensor([2]))  # all identity: the photo's channel means
        torch.testing.assert_close(photo_like.mean((2, 3)), image.mean((2, 3)), atol=0.05,
                                   rtol=0)
    finally:
        net.identity_row = None
