"""Inference speed, side by side in one run: the full network (onnxruntime fp32 and int8), the
real-time student of configs/realtime.yaml (fp32 and int8), and the reference, a plain
single-style Johnson et al. TransformerNet (fststyle.evaluation.yardstick; PyTorch eager and
onnxruntime fp32); batch 1; a browser table (onnxruntime-web, WASM, headless Chromium) when
Chromium and the page's onnxruntime-web are present; CUDA rows where a GPU is.

    python scripts/bench_inference.py
    python scripts/bench_inference.py --full checkpoints/demo/model.safetensors \\
        --student checkpoints/zoo-realtime/model.safetensors --runs 20 --json bench.json

Per size, --warmup untimed rounds, then --runs rounds that time every row once each, in turn
(fststyle.runtime.bench): each row is its median over the rounds, each ratio (int8 / fp32,
network / reference) the median of its per-round ratios, so that load from other processes
falls on both sides alike. Prints the date, the CPU (model, AVX2/AVX-512/VNNI/BF16 flags) and
the versions first. Timings do not depend on the weights: a missing --full/--student model is
replaced by an untrained network of its architecture (int8 then calibrated on it, unchecked).
"""

import argparse
import gc
import json
import sys
import tempfile
from contextlib import ExitStack
from functools import partial
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
from fststyle.evaluation.yardstick import JohnsonNet, export_reference, untrained
from fststyle.runtime import browser
from fststyle.runtime.atomic import atomic_path
from fststyle.runtime.bench import Timings, header, interleaved, parse_size, style_feed, table
from fststyle.runtime.frames import releasing_run
from fststyle.runtime.hardware import describe_cpu
from fststyle.runtime.imagefiles import demo_photos
from fststyle.runtime.shipped import shipped_model

ROOT = Path(__file__).resolve().parents[1]
SIZES = [(256, 256), (512, 512), (640, 480), (1920, 1080)]
SHRINK_PIXELS = 1_000_000  # see ort_runner
REFERENCE = "reference ort-fp32"
# (a, b): a's time over b's, each the median of per-round ratios; rows not timed are skipped.
RATIOS = [("full ort-int8", "full ort-fp32"), ("student ort-int8", "student ort-fp32"),
          ("full ort-fp32", REFERENCE), ("full ort-int8", REFERENCE),
          ("student ort-fp32", REFERENCE), ("student ort-int8", REFERENCE),
          *((f"full ort-{p}-{tag}", f"reference ort-fp32-{tag}") for tag in ("cuda", "tensorrt")
            for p in ("fp32", "fp16"))]
WEB = "web-wasm"
WEB_RATIOS = [(f"student {WEB}-int8", f"student {WEB}-fp32"),
              (f"student {WEB}-fp32", f"reference {WEB}-fp32")]


def realtime_arch(num_styles: int) -> dict:
    """The student's TransformerNet arguments, as configs/realtime.yaml names them."""
    model = yaml.safe_load((ROOT / "configs/realtime.yaml").read_text())["model"]
    return {"num_styles": num_styles, **{k: model[k] for k in ARCH_OPTIONS if k in model}}


def network(path: Path | None, arch: dict) -> tuple[TransformerNet, str]:
    """The trained network at `path` if it exists, else an untrained one of `arch`."""
    if path is not None and path.is_file():
        return load_model(path), str(path)
    return untrained(**arch), "untrained"


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
    style = style_feed(session)
    # Every row's session lives through all the rounds; at 1080p each arena holds 2-9 GB
    # (int8 the most), more than 24 GB together, so above SHRINK_PIXELS each run hands its
    # arena back at its end. The cost (fresh allocations every run) falls on every row alike.
    release = releasing_run()

    def run(image: np.ndarray) -> None:
        options = release if image[0, 0].size > SHRINK_PIXELS else None
        session.run(None, {"image": image, **style}, options)
    return run


def torch_runner(net: nn.Module, device: str):
    net = net.to(device).eval()

    def run(image: np.ndarray) -> None:
        with torch.inference_mode():
            net(torch.from_numpy(image).to(device)).cpu()  # back to the host: a real result
    return run


def runners(args, folder: Path) -> dict:
    """{row name: run(image)}, every backend this machine has."""
    full, full_src = network(args.full, {"num_styles": 4})
    student, student_src = network(args.student, realtime_arch(full.num_styles))
    print(f"full network: {full_src}; student: {student_src} {student.arch()}", file=sys.stderr)
    reference = JohnsonNet().eval()
    args.onnx["reference fp32"] = export_reference(folder / "reference.onnx", reference)
    found = {"reference torch-cpu": torch_runner(reference, "cpu"),
             REFERENCE: ort_runner(args.onnx["reference fp32"], threads=args.threads)}
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
        found[f"reference ort-fp32-{tag}"] = ort_runner(args.onnx["reference fp32"], provider)
        for precision in ("fp32", "fp16"):
            found[f"full ort-{precision}-{tag}"] = ort_runner(args.onnx[f"full {precision}"],
                                                              provider)
    return found


def native_timings(args, found: dict) -> dict[str, Timings]:
    """{"WxH": Timings of every row}: interleaved rounds per size, on one random image."""
    timed = {}
    for w, h in args.sizes:
        image = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
        fns = {name: partial(run, image) for name, run in found.items()}
        # settle=1: each timed run after an untimed one, which absorbs the previous row's
        # thread pool (onnxruntime's and OpenMP's spin a while after their run).
        timed[f"{w}x{h}"] = interleaved(fns, args.runs, args.warmup, settle=1)
        print(f"{w}x{h}: {len(fns)} rows timed", file=sys.stderr, flush=True)
    return timed


def browser_timings(args) -> tuple[dict[str, Timings], str]:
    """The student (fp32, int8) and the reference on onnxruntime-web's WASM backend (2
    threads) in headless Chromium, at the square sizes up to 512: ({"SxS": Timings},
    "Chromium <version>"), or ({}, "") without Chromium, Playwright or onnxruntime-web."""
    if why := browser.missing():
        print(f"no browser rows: {why}", file=sys.stderr)
        return {}, ""
    squares = [w for w, h in args.sizes if w == h and w <= 512]
    models = {f"student {WEB}-fp32": args.onnx["student fp32"],
              f"student {WEB}-int8": args.onnx["student int8"],
              f"reference {WEB}-fp32": args.onnx["reference fp32"]}
    with ExitStack() as stack:
        chromium = stack.enter_context(browser.chromium())
        pages = {name: browser.open_page(chromium, stack.enter_context(browser.served(path)),
                                         "wasm", 2) for name, path in models.items()}
        timed = browser.bench_pages(pages, squares, args.runs, args.warmup)
        return {f"{s}x{s}": t for s, t in timed.items()}, f"Chromium {chromium.version}"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", type=Path, default=shipped_model("torch"),
                   help="the full network's model file (default: the shipped one)")
    p.add_argument("--student", type=Path,
                   default=Path("checkpoints/realtime/model.safetensors"),
                   help="the student's model file (default: configs/realtime.yaml's run)")
    p.add_argument("--sizes", nargs="+", type=parse_size, default=SIZES, help="WIDTHxHEIGHT")
    p.add_argument("--runs", type=int, default=10, help="timed rounds; medians are reported")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
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
    line = header(onnxruntime=ort.__version__, torch=torch.__version__)
    print(line, file=sys.stderr)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        native = native_timings(args, runners(args, Path(folder)))
        # The native sessions' thread pools go before the browser runs: idle onnxruntime
        # threads spin for a while and would take the cores from Chromium's WASM threads.
        gc.collect()
        web, chromium = ({}, "") if args.no_browser else browser_timings(args)
    print(f"{line}\n\n{table(native, RATIOS, ms_fps, 'ms (fps)')}")
    if web:
        print(f"\n{chromium}, onnxruntime-web {browser.ort_web_version()}:\n\n"
              f"{table(web, WEB_RATIOS, ms_fps, 'ms (fps)')}")
    rows = results(native) + results(web, chromium)
    report = {"machine": line, "cpu": describe_cpu(), "onnxruntime": ort.__version__,
              "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
              "batch": 1, "runs": args.runs, "warmup": args.warmup,
              "statistic": "median of interleaved rounds; ratios: median of per-round ratios",
              "results": rows, "ratios": ratio_rows(native, RATIOS) + ratio_rows(web, WEB_RATIOS)}
    with atomic_path(args.json) as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return rows


def ms_fps(ms: float) -> str:
    return f"{ms:.1f} ({1e3 / ms:.1f})"


def results(columns: dict[str, Timings], chromium: str = "") -> list[dict]:
    """One JSON row per (backend, size): its median ms and fps."""
    return [{"backend": name, "size": size, "ms": round(ms, 2), "fps": round(1e3 / ms, 2),
             **({"browser": chromium} if chromium else {})}
            for size, timings in columns.items() for name, ms in timings.medians().items()]


def ratio_rows(columns: dict[str, Timings], ratios) -> list[dict]:
    """One JSON row per ratio and size whose two sides were both timed."""
    return [{"ratio": f"{a} / {b}", "size": size, "value": round(t.ratio(a, b), 4)}
            for size, t in columns.items() for a, b in ratios if {a, b} <= t.times.keys()]


if __name__ == "__main__":
    main()
