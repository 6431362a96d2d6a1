"""TransformerNet: sizes, range, style conditioning and mixing."""

import pytest
import torch

from fststyle.core.network import TransformerNet


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
