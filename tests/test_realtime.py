"""The real-time pieces that are not distillation itself: the slim architecture options, every
recipe under configs/ parsing, and a 32-style network (the size of Magenta's shipped
multi-style models) training a step, exporting and running."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from fststyle import export
from fststyle.core.network import TransformerNet
from fststyle.runtime import Stylizer
from fststyle.train import main as train

from helpers import tiny_args

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("arch", [
    {"downsamples": 3, "edge_kernel": 3},
    {"downsamples": 1, "edge_kernel": 5, "separable_blocks": True},
    {"alpha": 0.25, "downsamples": 3, "num_residual_blocks": 0},
])
@pytest.mark.parametrize("h, w", [(64, 64), (93, 67), (9, 11)])
def test_slim_options_keep_size_range_and_styles(arch, h, w):
    net = TransformerNet(3, **arch).eval()
    with torch.no_grad():
        for m in net.modules():
            if hasattr(m, "gamma"):
                m.gamma.add_(torch.randn_like(m.gamma) * 0.3)
    x = torch.rand(2, 3, h, w)
    y = net(x, torch.tensor([0, 2]))
    assert y.shape == (2, 3, h, w) and 0 <= y.min() and y.max() <= 1
    assert (y[0] - net(x[:1], torch.tensor([1]))[0]).abs().max() > 1e-3
    assert TransformerNet(**net.arch()).state_dict().keys() == net.state_dict().keys()


def test_slim_options_cut_the_cost():
    def macs(net):
        total = 0

        def count(module, inputs, out):
            nonlocal total
            total += out.numel() * module.weight[0].numel()
        hooks = [m.register_forward_hook(count) for m in net.modules()
                 if isinstance(m, torch.nn.Conv2d)]
        net(torch.rand(1, 3, 64, 64), torch.tensor([0]))
        [h.remove() for h in hooks]
        return total
    full = macs(TransformerNet(1))
    assert macs(TransformerNet(1, edge_kernel=3)) < full * 0.95
    assert macs(TransformerNet(1, downsamples=3)) < full * 0.7  # blocks at 1/8: 4x cheaper
    assert macs(TransformerNet(1, separable_blocks=True)) < full * 0.5


def test_old_model_files_load_with_johnsons_layer_names():
    names = set(TransformerNet(2).state_dict())
    assert {"conv2.conv.weight", "conv3.conv.weight", "up1.conv.conv.weight",
            "up2.conv.conv.weight", "out.conv.weight"} <= names
    assert not any(n.startswith(("conv4.", "up3.")) for n in names)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_recipe_parses(config, capsys):
    with pytest.raises(SystemExit) as done:
        train(["--config", str(config), "--print_config"])
    assert done.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["styles"]


@pytest.fixture(scope="module")
def styles32(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("styles32")
    rng = np.random.default_rng(32)
    paths = []
    for i in range(32):
        paths.append(folder / f"style{i:02d}.png")
        Image.fromarray(rng.integers(0, 256, (4, 4, 3), np.uint8)).resize((64, 64)).save(paths[-1])
    return paths


def test_32_styles_train_export_and_run(styles32, photo_dir, tmp_path):
    styles = "[" + ",".join(str(p) for p in styles32) + "]"
    model = train(tiny_args(photo_dir, styles32, tmp_path, "--model.styles", styles,
                            "--trainer.max_steps", "1", "--model.alpha", "0.25",
                            "--model.downsamples", "3", "--model.edge_kernel", "3"))
    onnx_path = export.main([str(model), "--out", str(tmp_path / "s32.onnx")])
    stylizer = Stylizer(onnx_path)
    assert stylizer.styles == [p.stem for p in styles32]
    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), np.uint8)
    last = stylizer.stylize(image, style=31)
    mix = stylizer.stylize(image, style={"style00": 0.5, "style31": 0.5})
    assert last.shape == mix.shape == image.shape
    assert stylizer.stylize(image, style="style31").tolist() == last.tolist()
