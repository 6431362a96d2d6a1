"""Inference speed, side by side in one run: the full network (onnxruntime fp32 and int8), the
real-time student of configs/realtime.yaml (fp32 and int8), and a plain single-style Johnson et
al. TransformerNet written below as the reference (PyTorch eager and onnxruntime fp32); batch 1,
median of --runs after --warmup; a browser row (onnxruntime-web, WASM, headless Chromium) when
Chromium and the page's onnxruntime-web are present; CUDA rows where a GPU is.

    python scripts/bench_inference.py
    python scripts/bench_inference.py --full checkpoints/demo/model.safetensors \\
        --student checkpoints/realtime/model.safetensors --runs 20 --json bench.json

Timings do not depend on the weights: a missing --full/--student model is replaced by an
untrained network of its architecture (int8 then calibrated on it, unchecked). Speed-ups are
ratios of rows of this one run. Prints the CPU (model, AVX2/AVX-512/VNNI/BF16 flags) first.
"""

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import yaml

from fststyle.core.model_file import ARCH_OPTIONS
from fststyle.core.model_io import load_model
from fststyle.core.network import TransformerNet
from fststyle.core.onnx_export import to_onnx
from fststyle.core.quantize import Calibration, quantize
from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.hardware import describe_cpu
from fststyle.runtime.imagefiles import demo_photos

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(256, 256), (512, 512), (640, 480), (1920, 1080)]


class JohnsonNet(nn.Module):
    """The common single-style reference (Johnson et al. 2016, as in pytorch/examples'
    fast_neural_style): reflection-padded convs, affine InstanceNorm, 5 residual blocks,
    nearest x2 upsampling + conv. Even H, W only (its decoder doubles sizes)."""

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
        y = self.encoder(x)  # (B, 128, H/4, W/4)
        for block in self.blocks:
            y = y + block(y)
        return self.decoder(y)  # (B, 3, H, W)


def realtime_arch(num_styles: int) -> dict:
    """The student's TransformerNet arguments, as configs/realtime.yaml names them."""
    model = yaml.safe_load((ROOT / "configs/realtime.yaml").read_text())["model"]
    return {"num_styles": num_styles, **{k: model[k] for k in ARCH_OPTIONS if k in model}}


def network(path: Path | None, arch: dict) -> tuple[TransformerNet, str]:
    """The trained network at `path` if it exists, else an untrained one of `arch`."""
    if path is not None and path.is_file():
        return load_model(path), str(path)
    net = TransformerNet(**arch).eval()
    net.style_names = [f"style{i}" for i in range(net.num_styles)]
    net.metadata = {}
    return net, "untrained"


def exports(net: TransformerNet, name: str, folder: Path, photos: int) -> dict[str, Path]:
    """{"fp32": path, "int8": path}: the export and its static int8 quantisation, as
    `fststyle.export --int8` makes it (without its quality check: timing needs none)."""
    fp32, int8 = folder / f"{name}.onnx", folder / f"{name}-int8.onnx"
    onnx.save(to_onnx(net), fp32)
    quantize(fp32, int8, Calibration(fp32, net.num_styles, demo_photos("train")[:photos]))
    return {"fp32": fp32, "int8": int8}


def ort_runner(path: Path, provider: str = "CPUExecutionProvider", threads: int = 0):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # 0: onnxruntime's default, the physical cores
    session = ort.InferenceSession(str(path), options, providers=[provider])
    if session.get_providers()[0] != provider:
        raise RuntimeError(f"onnxruntime fell back from {provider} to {session.get_providers()}")
    names = [i.name for i in session.get_inputs()]
    num_styles = session.get_inputs()[1].shape[1] if len(names) == 2 else 0
    weights = np.eye(max(num_styles, 1), dtype=np.float32)[:1]  # (1, N): style 0

    def run(image: np.ndarray) -> None:
        session.run(None, dict(zip(names, (image, weights))))
    return run


def torch_runner(net: nn.Module, device: str):
    net = net.to(device).eval()

    def run(image: np.ndarray) -> None:
        with torch.inference_mode():
            net(torch.from_numpy(image).to(device)).cpu()
    return run


def export_reference(net: JohnsonNet, path: Path) -> Path:
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"),
            3: torch.export.Dim("width")}
    program = torch.onnx.export(net, (torch.rand(2, 3, 64, 64),), input_names=["image"],
                                dynamo=True, dynamic_shapes=(dims,), verbose=False)
    program.save(str(path))
    return path


def runners(args, folder: Path) -> dict:
    """{row name: run(image)}, every backend this machine has."""
    full, full_src = network(args.full, {"num_styles": 4})
    student, student_src = network(args.student, realtime_arch(full.num_styles))
    print(f"full network: {full_src}; student: {student_src} {student.arch()}", file=sys.stderr)
    reference = JohnsonNet().eval()
    found = {"reference torch-cpu": torch_runner(reference, "cpu"),
             "reference ort-fp32": ort_runner(export_reference(reference,
                                                               folder / "reference.onnx"))}
    for name, net in (("full", full), ("student", student)):
        for precision, path in exports(net, name, folder, args.calibration_photos).items():
            found[f"{name} ort-{precision}"] = ort_runner(path, threads=args.threads)
            args.onnx[f"{name} {precision}"] = path
    found.update(cuda_runners(args, full, reference))
    return found


def cuda_runners(args, full: TransformerNet, reference: JohnsonNet) -> dict:
    """PyTorch CUDA and onnxruntime CUDA / TensorRT rows, where there is a GPU."""
    found = {}
    if torch.cuda.is_available():
        found["reference torch-cuda"] = torch_runner(reference, "cuda")
    gpu_providers = [p for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
                     if p in ort.get_available_providers()]
    if gpu_providers:  # fp16: half the memory traffic on GPUs (on CPUs it only halves the file)
        args.onnx["full fp16"] = args.onnx["full fp32"].with_name("full-fp16.onnx")
        onnx.save(to_onnx(full, fp16=True), args.onnx["full fp16"])
    for provider in gpu_providers:
        tag = provider.removesuffix("ExecutionProvider").lower()
        for precision in ("fp32", "fp16"):
            found[f"full ort-{precision}-{tag}"] = ort_runner(args.onnx[f"full {precision}"],
                                                              provider)
    return found


def time_ms(run, image: np.ndarray, warmup: int, runs: int) -> float:
    """Median wall time of `runs` calls, in ms; results come back to the host each call."""
    for _ in range(warmup):
        run(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(image)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def browser_rows(args) -> list[dict]:
    """The student (fp32 and int8) on onnxruntime-web's WASM backend (2 threads) in headless
    Chromium, at the square sizes up to 512, when Chromium, Playwright and the page's
    onnxruntime-web are all here."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import playwright  # noqa: F401 -- only to know whether it is installed
        from bench_web import bench_browser, find_chromium

        from fststyle.runtime.webserver import ort_dist

        find_chromium(), ort_dist()
    except (ImportError, FileNotFoundError) as e:
        print(f"no browser row: {e}", file=sys.stderr)
        return []
    finally:
        sys.path.pop(0)
    squares = [w for w, h in args.sizes if w == h and w <= 512]
    rows = []
    for precision in ("fp32", "int8"):
        for row in bench_browser(args.onnx[f"student {precision}"], squares, args.runs, (2,)):
            rows.append({"backend": f"student web-{row['backend']}-{precision}",
                         "size": f"{row['size']}x{row['size']}", "ms": round(row["ms"], 2),
                         "fps": round(1e3 / row["ms"], 2), "browser": row["browser"]})
            print(f"{rows[-1]['backend']:>26} {rows[-1]['size']}: {row['ms']:9.1f} ms",
                  file=sys.stderr, flush=True)
    return rows


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected WIDTHxHEIGHT") from None
    return w, h


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", type=Path, default=Path("checkpoints/demo/model.safetensors"),
                   help="the full network's model file (default: the demo's)")
    p.add_argument("--student", type=Path,
                   default=Path("checkpoints/realtime/model.safetensors"),
                   help="the student's model file (default: configs/realtime.yaml's run)")
    p.add_argument("--sizes", nargs="+", type=parse_size, default=SIZES, help="WIDTHxHEIGHT")
    p.add_argument("--runs", type=int, default=10, help="timed runs; the median is reported")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--no-browser", action="store_true", help="skip the Chromium rows")
    p.add_argument("--calibration-photos", type=int, default=8,
                   help="int8 calibration photos (times every style)")
    p.add_argument("--json", type=Path, default=Path("bench_inference.json"))
    args = p.parse_args(argv)
    args.onnx = {}
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    cpu = describe_cpu()
    print(f"CPU: {cpu}; onnxruntime {ort.__version__}, torch {torch.__version__}",
          file=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for backend, run in runners(args, Path(folder)).items():
            for w, h in args.sizes:
                image = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
                ms = time_ms(run, image, args.warmup, args.runs)
                rows.append({"backend": backend, "size": f"{w}x{h}", "ms": round(ms, 2),
                             "fps": round(1e3 / ms, 2)})
                print(f"{backend:>26} {w}x{h}: {ms:9.1f} ms", file=sys.stderr, flush=True)
        # The native sessions' thread pools go before the browser runs: idle onnxruntime
        # threads spin for a while and would take the cores from Chromium's WASM threads.
        del run
        gc.collect()
        if not args.no_browser:
            rows += browser_rows(args)
    print(f"CPU: {cpu}\n\n{table(rows)}\n\n{speedups(rows)}")
    report = {"cpu": cpu, "onnxruntime": ort.__version__, "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
              "batch": 1, "runs": args.runs, "warmup": args.warmup, "results": rows}
    with atomic_path(args.json) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: one row per backend, `ms (fps)` per size."""
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    lines = ["| network backend | " + " | ".join(f"{s} ms (fps)" for s in sizes) + " |",
             "| --- |" + " ---: |" * len(sizes)]
    for backend in dict.fromkeys(r["backend"] for r in rows):
        cells = {r["size"]: f"{r['ms']:.1f} ({r['fps']:.1f})" for r in rows
                 if r["backend"] == backend}
        lines.append(f"| {backend} | " + " | ".join(cells.get(s, "") for s in sizes) + " |")
    return "\n".join(lines)


def speedups(rows: list[dict]) -> str:
    """The full network's int8 export against the reference's best CPU row, per size."""
    ms = {(r["backend"], r["size"]): r["ms"] for r in rows}
    lines = []
    for size in dict.fromkeys(r["size"] for r in rows):
        best = min((ms.get((b, size), float("inf")) for b in
                    ("reference torch-cpu", "reference ort-fp32")))
        if ("full ort-int8", size) in ms and best < float("inf"):
            lines.append(f"{size}: full int8 is {best / ms[('full ort-int8', size)]:.2f}x the "
                         f"reference's best CPU time ({best:.1f} ms)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
