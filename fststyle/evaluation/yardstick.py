"""What every scripts/bench_*.py times besides its own rows: the reference network as a
yardstick, so that a reader can scale a figure to their own machine, and untrained networks of
fststyle's architectures (speed does not depend on the weights).

    net = JohnsonNet().eval()                       # PyTorch, e.g. for a torch-cpu row
    path = export_reference(folder / "reference.onnx")  # runs in Stylizer and the web page
    path = export_untrained(folder / "full.onnx", num_styles=4)
"""

import json
from pathlib import Path

import onnx
import torch
import torch.nn as nn

from fststyle.core.network import TransformerNet
from fststyle.core.onnx_export import to_onnx

# What the reference export records: the fststyle file contract's metadata (docs/onnx.md) for
# one baked style, so fststyle.runtime.Stylizer and the web page take it like any export.
REFERENCE_METADATA = {
    "styles": json.dumps(["reference"]),
    "baked_style": "reference",
    "training_config": json.dumps({"arch": {"edge_kernel": 9, "downsamples": 2}}),
    "reference": "Johnson et al. 2016 TransformerNet as in pytorch/examples "
                 "fast_neural_style, untrained: a speed yardstick",
}


class JohnsonNet(nn.Module):
    """The common single-style reference (Johnson et al. 2016, as in pytorch/examples'
    fast_neural_style): reflection-padded convs, affine InstanceNorm, 5 residual blocks,
    nearest x2 upsampling + conv. Its output is 4 * ceil(H / 4) high (and wide)."""

    def __init__(self):
        super().__init__()

        def conv(c_in, c_out, k, stride=1, norm=True, relu=True):
            layers = [nn.ReflectionPad2d(k // 2), nn.Conv2d(c_in, c_out, k, stride)]
            layers += [nn.InstanceNorm2d(c_out, affine=True)] if norm else []
            return nn.Sequential(*layers, *([nn.ReLU()] if relu else []))

        self.encoder = nn.Sequential(conv(3, 32, 9), conv(32, 64, 3, 2), conv(64, 128, 3, 2))
        self.blocks = nn.ModuleList(nn.Sequential(conv(128, 128, 3), conv(128, 128, 3,
                                                                            relu=False))
                                    for _ in range(5))
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2), conv(128, 64, 3),
                                     nn.Upsample(scale_factor=2), conv(64, 32, 3),
                                     conv(32, 3, 9, norm=False, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.encoder(x)  # (B, 128, ceil(H/4), ceil(W/4))
        for block in self.blocks:
            y = y + block(y)
        return self.decoder(y)  # (B, 3, 4 ceil(H/4), 4 ceil(W/4))


class _Cropped(nn.Module):
    """The reference with its output cropped to the input's size, as the file contract says
    (a no-op where H and W are multiples of 4, every published size)."""

    def __init__(self, net: JohnsonNet):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)[:, :, :image.shape[2], :image.shape[3]]  # (B, 3, H, W)


def export_reference(path: Path, net: JohnsonNet | None = None) -> Path:
    """`net` (default: an untrained JohnsonNet) as an fststyle .onnx with its style baked in:
    input `image` (B, 3, H, W), output `stylized`, B, H and W symbolic."""
    net = net or JohnsonNet()
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"),
            3: torch.export.Dim("width")}
    program = torch.onnx.export(_Cropped(net).eval(), (torch.rand(2, 3, 64, 64),),
                                input_names=["image"], output_names=["stylized"], dynamo=True,
                                dynamic_shapes=(dims,), verbose=False)
    model = program.model_proto
    onnx.helper.set_model_props(model, REFERENCE_METADATA)
    onnx.save(model, path)
    return path


def untrained(**arch) -> TransformerNet:
    """An untrained TransformerNet(**arch) with the style names and metadata an export needs."""
    net = TransformerNet(**arch).eval()
    net.name_styles([f"style{i}" for i in range(net.num_styles)])
    net.metadata = {}
    return net


def export_untrained(path: Path, **arch) -> Path:
    """untrained(**arch) exported to `path` (fststyle.export's fp32 file)."""
    onnx.save(to_onnx(untrained(**arch)), path)
    return path
