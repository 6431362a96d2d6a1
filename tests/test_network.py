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
