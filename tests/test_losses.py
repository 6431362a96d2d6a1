"""Known-value checks of the Gatys objective's pieces."""

import pytest
import torch

from fststyle.core.losses import (
    PerceptualLoss,
    content_loss,
    gram_matrix,
    style_loss,
    total_variation,
)
from fststyle.core.vgg import VGGFeatures


def test_gram_of_ones_is_one_over_c():
    # F F^T sums H*W ones per entry; normalised by C*H*W -> 1/C everywhere.
    g = gram_matrix(torch.ones(2, 4, 3, 5))
    assert g.shape == (2, 4, 4)
    torch.testing.assert_close(g, torch.full((2, 4, 4), 0.25))


def test_gram_of_known_tensor():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C=2, H=1, W=2
    expected = torch.tensor([[1 + 4, 3 + 8], [3 + 8, 9 + 16]]) / (2 * 1 * 2)
    torch.testing.assert_close(gram_matrix(f)[0], expected)


def test_gram_is_fp32_under_bf16_autocast():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram_matrix(torch.randn(1, 8, 4, 4).bfloat16())
    assert g.dtype == torch.float32


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_gradient_matches_autograd_of_the_plain_formula(layout):
    # gram_matrix has its own backward (one matmul, in the features' layout): check it against
    # autograd through F F^T / (C H W), and numerically in float64.
    x = torch.randn(2, 5, 4, 3, dtype=torch.float64).contiguous(memory_format=layout)
    assert torch.autograd.gradcheck(gram_matrix, (x.clone().requires_grad_(),))
    weights = torch.randn(2, 5, 5, dtype=torch.float64)
    fast = x.clone().requires_grad_()
    (gram_matrix(fast) * weights).sum().backward()
    plain = x.clone().requires_grad_()
    f = plain.reshape(2, 5, 12)
    ((f @ f.transpose(1, 2) / 60) * weights).sum().backward()
    torch.testing.assert_close(fast.grad, plain.grad)
    assert fast.grad.is_contiguous(memory_format=layout)  # no layout copy on the way back


def test_content_loss_zero_on_identical_input():
    x = torch.randn(2, 16, 8, 8)
    assert content_loss(x, x.clone()).item() == 0.0
    assert content_loss(x, x + 1).item() == pytest.approx(1.0)


def test_style_loss_per_sample():
    a, b = torch.zeros(2, 3, 3), torch.zeros(2, 3, 3)
    b[1] = 2.0
    torch.testing.assert_close(style_loss(a, b), torch.tensor([0.0, 4.0]))


def test_total_variation_of_checkerboard():
    # Every neighbour differs by 1 in both directions: mean |dh| + mean |dw| = 2.
    i = torch.arange(6)
    board = ((i[:, None] + i[None, :]) % 2).float().expand(1, 3, 6, 6)
    assert total_variation(board).item() == pytest.approx(2.0)
    assert total_variation(torch.full((1, 3, 6, 6), 0.3)).item() == 0.0


def make_loss(**kw):
    vgg = VGGFeatures("random", "relu3_1")
    args = dict(content_layers={"relu2_2": 1.0}, style_layers={"relu1_1": 0.5, "relu3_1": 0.5},
                content_weight=2.0, style_weight=3.0, tv_weight=0.1, num_styles=2)
    return PerceptualLoss(vgg, **{**args, **kw})


def test_perceptual_loss_terms_add_up_and_content_is_zero_on_itself():
    loss = make_loss()
    loss.set_style_targets([torch.rand(1, 3, 32, 40), torch.rand(1, 3, 48, 32)])
    x = torch.rand(2, 3, 32, 32)
    total, terms = loss(x, x, torch.tensor([0, 1]))
    assert terms["content"].item() == 0.0
    assert set(terms) == {"content", "style", "tv", "style/relu1_1", "style/relu3_1"}
    torch.testing.assert_close(total, terms["content"] + terms["style"] + terms["tv"])
    torch.testing.assert_close(terms["style"], terms["style/relu1_1"] + terms["style/relu3_1"])


def test_identity_row_has_no_style_term_and_the_pixel_term_known():
    loss = make_loss(identity_weight=4.0, tv_weight=0.0)
    loss.set_style_targets([torch.rand(1, 3, 32, 32), None])  # style 1: identity
    photo = torch.rand(2, 3, 32, 32)
    total, terms = loss(photo, photo, torch.tensor([1, 1]))
    assert total.item() == 0.0  # the photo itself is the identity row's optimum
    shifted = (photo + 0.1).clamp(0, 1)
    total, terms = loss(shifted, photo, torch.tensor([0, 1]))
    # Only the second sample is an identity sample: its MSE, over the batch of 2, times 4.
    mse = (shifted[1] - photo[1]).pow(2).mean()
    torch.testing.assert_close(terms["identity"], 4.0 * mse / 2)
    style_only_first = loss(shifted[:1], photo[:1], torch.tensor([0]))[1]["style"]
    torch.testing.assert_close(terms["style"], style_only_first / 2)
    torch.testing.assert_close(total, terms["content"] + terms["style"] + terms["tv"]
                               + terms["identity"])


def test_style_coefficients_scale_each_style():
    loss = make_loss(style_coefficients=[1.0, 0.0])
    loss.set_style_targets([torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)])
    x = torch.rand(1, 3, 32, 32)
    assert loss(x, x, torch.tensor([0]))[1]["style"].item() > 0
    assert loss(x, x, torch.tensor([1]))[1]["style"].item() == 0.0


def test_relative_content_loss_known_values():
    x = torch.rand(2, 4, 5, 5) + 0.1
    assert content_loss(2 * x, x, relative=True).item() == pytest.approx(1.0)
    assert content_loss(x, x, relative=True).item() == 0.0
    # Per sample relative: a sample 10x brighter with the same relative error weighs the same.
    y = torch.cat([x[:1], 10 * x[:1]])
    assert content_loss(1.5 * y, y, relative=True).item() == pytest.approx(0.25)


def test_target_normalization_makes_every_layer_pull_alike():
    """Zero features have a zero Gram: each layer's relative error is exactly 1, whatever the
    magnitude of its target, so each weighted term is style_weight x w_l; raw errors differ."""
    loss = make_loss(loss_normalization="target", tv_weight=0.0)
    loss.set_style_targets([torch.rand(1, 3, 32, 40), torch.rand(1, 3, 48, 32)])
    feats = {n: torch.zeros(2, loss.vgg.convs[loss.vgg.names.index(n)].out_channels, 8, 8)
             for n in ("relu1_1", "relu2_2", "relu3_1")}
    content = {"relu2_2": torch.ones(2, 128, 8, 8)}
    _, terms = loss.objective(torch.rand(2, 3, 32, 32), feats, content, torch.tensor([0, 1]))
    for name in ("relu1_1", "relu3_1"):
        assert terms[f"style/{name}"].item() == pytest.approx(3.0 * 0.5, rel=1e-5)
    assert terms["content"].item() == pytest.approx(2.0)  # (0 - 1)^2 / 1^2, weight 2
    raw = make_loss(loss_normalization="none", tv_weight=0.0)
    raw.set_style_targets([torch.rand(1, 3, 32, 40), torch.rand(1, 3, 48, 32)])
    _, raw_terms = raw.objective(torch.rand(2, 3, 32, 32), feats, content, torch.tensor([0, 1]))
    assert raw_terms["style/relu1_1"].item() != pytest.approx(raw_terms["style/relu3_1"].item())


@pytest.mark.parametrize("kw, match", [
    ({"loss_normalization": "bogus"}, "loss_normalization must be one of"),
    ({"style_layers": {"relu9_9": 1.0}}, "unknown VGG layer 'relu9_9'"),
    ({"content_weight": -1.0}, "content_weight must be >= 0"),
    ({"style_layers": {"relu1_1": -0.5}}, "weight of relu1_1"),
    ({"style_coefficients": [1.0]}, "style_coefficients needs 2"),
])
def test_bad_loss_options_fail_early(kw, match):
    with pytest.raises(ValueError, match=match):
        make_loss(**kw)
