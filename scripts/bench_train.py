"""Training-step throughput: fststyle's step against the plain reference step, side by side.

    python scripts/bench_train.py --device cpu --size 256 --batch 4
    python scripts/bench_train.py --device cuda --size 256 --batch 16 --compile --json out.json

One step = network forward + backward, VGG on the output and the content, loss, Adam step.
fststyle's step: VGG truncated at the deepest loss layer, content features without autograd
and only up to relu4_2, style Grams precomputed (fp32), bf16 autocast where the hardware has
bf16, the VGG in the faster layout for the hardware (vgg.prefers_channels_last), the network's RGB
convolutions NHWC, in-place ReLUs, Grams with a one-matmul backward, fused Adam on CUDA, optionally
torch.compile. The reference, the yardstick: the plain formulation, two full VGG19 passes (to
relu5_4, both tracked by autograd), fp32, everything NCHW.
--warmup untimed rounds, then --steps rounds that run each step once, in turn
(fststyle.runtime.bench): each is its median over the rounds, the speed-up the median of the
per-round ratios (reference time / fststyle time). Prints the date and the machine first, then
images/s and peak memory (taken in each step's first, untimed run), and last `speedup: <ratio>`.
Random VGG weights by default: the speed does not depend on them.
"""

import argparse
import json
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import torch

from fststyle.core.losses import DEFAULTS, PerceptualLoss
from fststyle.core.network import ConvLayer, TransformerNet
from fststyle.core.vgg import VGGFeatures, deepest_layer, prefers_channels_last
from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.bench import header, interleaved
from fststyle.runtime.hardware import describe_cpu
from fststyle.training.trainer import bf16_supported


def build(args, device: str):
    torch.manual_seed(0)
    net = TransformerNet(4).to(device)
    layers = [*DEFAULTS.content_layers, *DEFAULTS.style_layers]
    vgg = VGGFeatures(args.vgg_weights, deepest_layer(layers)).to(device)
    loss = PerceptualLoss.with_defaults(vgg, 4).to(device)
    loss.set_style_targets([torch.rand(1, 3, args.size, args.size) for _ in range(4)])
    return net, loss


def make_step(args, device: str, optimised: bool):
    """A closure that runs one full training step; returns it and its formats."""
    net, loss = build(args, device)
    full_vgg = None if optimised else VGGFeatures(args.vgg_weights, "relu5_4").to(device)
    use_bf16 = optimised and bf16_supported(device) and not args.fp32
    # As StyleTransfer.configure_model: the VGG in the hardware's faster layout, its convs
    # bf16 if used. The plain formulation runs everything NCHW, the network's RGB convs too.
    channels_last = optimised and prefers_channels_last(device, use_bf16)
    loss.vgg.set_step_format(channels_last=channels_last, bf16=use_bf16)
    if not optimised:
        for layer in net.modules():
            if isinstance(layer, ConvLayer):
                layer.nhwc = False
    if optimised and args.compile:
        net.compile()
        loss.vgg.compile()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=optimised and device == "cuda")
    autocast = (torch.autocast(device, dtype=torch.bfloat16) if use_bf16 else nullcontext())
    content = torch.rand(args.batch, 3, args.size, args.size, device=device)
    style = torch.arange(args.batch, device=device) % 4

    def step() -> None:
        with autocast:
            out = net(content, style)
            total, _ = (loss(out, content, style) if optimised
                        else loss.plain_forward(full_vgg, out, content, style))
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
    return step, {"bf16": use_bf16, "vgg_channels_last": channels_last}


def first_step_peak_mb(step, device: str) -> float:
    """Peak memory of the step's first run, untimed (it allocates everything the next ones
    reuse); on CPU the process's peak resident set so far, which includes what ran before."""
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step()
    return peak_memory_mb(device)


def peak_memory_mb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    import resource  # peak resident set size of this process (Linux: KiB)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=20, help="timed rounds; medians are reported")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    p.add_argument("--compile", action="store_true", help="torch.compile fststyle's step")
    p.add_argument("--fp32", action="store_true", help="fststyle's step without bf16")
    p.add_argument("--vgg-weights", default="random", help="random | caffe | ...")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    results = {"device": args.device, "size": args.size, "batch": args.batch,
               "torch": torch.__version__, "machine": machine(args.device)}
    print(header(results["machine"], torch=torch.__version__), flush=True)
    steps, peaks, formats = {}, {}, {}
    for name in ("fststyle", "reference"):
        step, formats[name] = make_step(args, args.device, optimised=name == "fststyle")
        steps[name] = partial(synced, step, args.device)
        peaks[name] = first_step_peak_mb(steps[name], args.device)
    timings = interleaved(steps, args.steps, args.warmup)
    for name in steps:
        ms = timings.median(name)
        results[name] = {"images_per_sec": args.batch / ms * 1e3, "ms_per_step": ms,
                         "peak_memory_mb": peaks[name], **formats[name]}
        print(row(name, results[name]))
    results["fststyle"]["compile"] = args.compile
    results["speedup"] = timings.ratio("reference", "fststyle")
    if args.json:
        with atomic_path(Path(args.json)) as tmp:
            tmp.write_text(json.dumps(results, indent=2))
    print(f"speedup: {results['speedup']:.2f}")
    return results


def synced(step, device: str) -> None:
    """One step, waited for on CUDA (kernels run asynchronously)."""
    step()
    if device == "cuda":
        torch.cuda.synchronize()


def row(name: str, r: dict) -> str:
    return (f"{name:9s} {r['images_per_sec']:8.2f} images/s  {r['ms_per_step']:9.1f} ms/step  "
            f"peak {r['peak_memory_mb']:8.0f} MB")


def machine(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{describe_cpu()}, {torch.get_num_threads()} threads"


if __name__ == "__main__":
    main()
