"""Speed never changes the objective: the optimised training-step loss (truncated VGG, content
features without autograd, bf16 autocast, a channels_last VGG) equals the plain formulation's."""

import pytest
import torch

from fststyle.core.losses import PerceptualLoss
from fststyle.core.network import TransformerNet
from fststyle.core.vgg import VGGFeatures


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    vgg = VGGFeatures("caffe", "relu5_1")
    loss = PerceptualLoss.with_defaults(vgg, 2)
    loss.set_style_targets([torch.rand(1, 3, 64, 80), torch.rand(1, 3, 72, 64)])
    net = TransformerNet(2, alpha=0.5, num_residual_blocks=2)
    content = torch.rand(2, 3, 64, 64)
    return loss, VGGFeatures("caffe", "relu5_4"), net, content, torch.tensor([0, 1])


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs() / b.abs().clamp_min(1e-12)).item()  # 0 for two zero terms (tv off)


def test_fp32_optimised_step_equals_plain_formulation(setup):
    loss, full_vgg, net, content, style = setup
    out = net(content, style)
    fast, fast_terms = loss(out, content, style)
    plain, plain_terms = loss.plain_forward(full_vgg, out, content, style)
    assert rel(fast, plain) <= 1e-4
    for k in plain_terms:
        assert rel(fast_terms[k], plain_terms[k]) <= 1e-4, k
    g_fast = torch.autograd.grad(fast, out, retain_graph=True)[0]
    g_plain = torch.autograd.grad(plain, out)[0]
    torch.testing.assert_close(g_fast, g_plain, rtol=1e-3, atol=1e-6 * g_plain.abs().max().item())


def test_bf16_channels_last_step_within_2e_2_of_plain_fp32(setup):
    loss, full_vgg, net, content, style = setup
    out = net(content, style)
    plain, _ = loss.plain_forward(full_vgg, out, content, style)
    g_plain = torch.autograd.grad(plain, out)[0]
    loss.vgg.set_step_format(channels_last=True, bf16=True)  # as under bf16-mixed
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(content, style)
            fast, _ = loss(out, content, style)
        g_fast = torch.autograd.grad(fast, out)[0]
    finally:
        loss.vgg.set_step_format(channels_last=False, bf16=False)
    assert fast.dtype == torch.float32  # Grams and losses stay fp32 under autocast
    assert rel(fast, plain) <= 2e-2
    # The gradient the network learns from points the same way (bf16 noise aside).
    cosine = torch.nn.functional.cosine_similarity(g_fast.flatten().float(), g_plain.flatten(), 0)
    assert cosine > 0.97  # 0.991 measured here
