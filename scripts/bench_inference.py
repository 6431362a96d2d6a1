"""Inference speed of one network: PyTorch eager vs onnxruntime fp32 and fp16 (and CUDA when
present), batch 1, median of --runs timed runs after --warmup untimed ones.

    python scripts/bench_inference.py                       # an untrained 4-style network
    python scripts/bench_inference.py --model checkpoints/demo/model.safetensors \\
        --sizes 256x256 512x512 1920x1080 --runs 10 --json bench_inference.json

Timings do not depend on the weights, so the default untrained network (alpha 1, 5 residual
blocks: the shipped architecture) is as good as a trained one. Prints a Markdown table and
writes the numbers as JSON.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from fststyle.core.model_io import load_model
from fststyle.core.network import TransformerNet
from fststyle.core.onnx_export import TOLERANCE, check_against_torch, to_onnx
from fststyle.runtime.atomic import atomic_path

BACKENDS = ["torch", "ort-fp32", "ort-fp16"]  # each also "-cuda" where a GPU is present


def build_net(path: str | None) -> TransformerNet:
    if path:
        return load_model(path)
    net = TransformerNet(num_styles=4).eval()
    net.style_names, net.metadata = [f"style{i}" for i in range(4)], {}
    return net


def export_to(net: TransformerNet, folder: Path, fp16: bool) -> Path:
    """Export and check like `python -m fststyle.export`, into a temporary folder."""
    path = folder / f"bench-{'fp16' if fp16 else 'fp32'}.onnx"
    onnx.save(to_onnx(net, fp16=fp16), path)
    check_against_torch(path, net, TOLERANCE["fp16" if fp16 else "fp32"])
    return path


def torch_runner(net: TransformerNet, device: str):
    net = net.to(device)

    def run(image: np.ndarray, weights: np.ndarray) -> None:
        with torch.inference_mode():
            net(torch.from_numpy(image).to(device), torch.from_numpy(weights).to(device)).cpu()
    return run


def ort_runner(path: Path, provider: str, threads: int | None):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default (physical cores)
    session = ort.InferenceSession(str(path), options, providers=[provider])
    if session.get_providers()[0] != provider:
        raise RuntimeError(f"onnxruntime fell back from {provider} to {session.get_providers()}")
    return lambda image, weights: session.run(None, {"image": image, "style_weights": weights})


def runners(net: TransformerNet, folder: Path, names: list[str], threads: int | None) -> dict:
    """{backend name: run(image, weights)} for the requested backends this machine has."""
    cuda = torch.cuda.is_available()
    ort_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    found = {}
    for name in names:
        if name == "torch":
            found["torch-cpu"] = torch_runner(net, "cpu")
            if cuda:
                found["torch-cuda"] = torch_runner(net, "cuda")
        elif name in ("ort-fp32", "ort-fp16"):
            path = export_to(net, folder, fp16=name.endswith("16"))
            found[f"{name}-cpu"] = ort_runner(path, "CPUExecutionProvider", threads)
            if ort_cuda:
                found[f"{name}-cuda"] = ort_runner(path, "CUDAExecutionProvider", threads)
        else:
            raise ValueError(f"--backends: unknown backend {name!r} (choose from {BACKENDS})")
    return found


def time_ms(run, image, weights, warmup: int, runs: int) -> float:
    """Median wall time of `runs` calls, in ms; results come back to the host each call."""
    for _ in range(warmup):
        run(image, weights)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(image, weights)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected WIDTHxHEIGHT") from None
    return w, h


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "onnxruntime": ort.__version__,
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", help="model.safetensors or .ckpt (default: untrained 4 styles)")
    p.add_argument("--sizes", nargs="+", type=parse_size,
                   default=[(256, 256), (512, 512), (1920, 1080)], help="WIDTHxHEIGHT ...")
    p.add_argument("--backends", nargs="+", default=BACKENDS, help=f"from {BACKENDS}")
    p.add_argument("--runs", type=int, default=10, help="timed runs; the median is reported")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    p.add_argument("--threads", type=int, help="CPU threads for both (default: all cores)")
    p.add_argument("--json", type=Path, default=Path("bench_inference.json"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    net = build_net(args.model)
    weights = np.eye(net.num_styles, dtype=np.float32)[:1]  # (1, N): style 0
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for backend, run in runners(net, Path(folder), args.backends,
                                     args.threads).items():
            for w, h in args.sizes:
                image = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
                ms = time_ms(run, image, weights, args.warmup, args.runs)
                rows.append({"backend": backend, "size": f"{w}x{h}", "ms": round(ms, 2),
                             "fps": round(1e3 / ms, 3)})
                print(f"{backend:>14} {w}x{h}: {ms:9.1f} ms", file=sys.stderr, flush=True)
    print(table(rows))
    report = {"machine": machine(), "arch": net.arch(), "batch": 1, "runs": args.runs,
              "warmup": args.warmup, "results": rows}
    with atomic_path(args.json) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: one row per backend, `ms (fps)` per size."""
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    lines = ["| backend | " + " | ".join(f"{s} ms (fps)" for s in sizes) + " |",
             "| --- |" + " ---: |" * len(sizes)]
    for backend in dict.fromkeys(r["backend"] for r in rows):
        cells = {r["size"]: f"{r['ms']:.1f} ({r['fps']:.2f})" for r in rows
                 if r["backend"] == backend}
        lines.append(f"| {backend} | " + " | ".join(cells[s] for s in sizes) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
