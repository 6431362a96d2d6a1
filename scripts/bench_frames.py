"""Milliseconds per frame in the torch-free runtime: `Stylizer.stylize()` against
`stylize_frame()` (reused buffers, no PIL), session.run against IOBinding, and with --options
the onnxruntime session options that fststyle.runtime.frames.session_options picks between.

    python scripts/bench_frames.py                           # an untrained TransformerNet(4)
    python scripts/bench_frames.py --model exports/demo.onnx --sizes 256x256 640x480 --runs 20
    python scripts/bench_frames.py --options                 # threads, levels, arena, mode

Median of --runs after --warmup untimed runs, batch 1; prints one line per measurement and the
CPU it ran on (timings depend on the weights' values not at all, so untrained is fine).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fststyle.runtime import Stylizer
from fststyle.runtime.frames import session_options
from fststyle.runtime.hardware import describe_cpu


def export_untrained(folder: Path) -> Path:
    """The shipped architecture (alpha 1, 5 residual blocks), 4 styles, untrained, as .onnx."""
    import onnx

    from fststyle.core.network import TransformerNet
    from fststyle.core.onnx_export import to_onnx

    net = TransformerNet(num_styles=4).eval()
    net.style_names, net.metadata = [f"style{i}" for i in range(4)], {}
    path = folder / "untrained.onnx"
    onnx.save(to_onnx(net), path)
    return path


def median_ms(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench_paths(path: Path, size: tuple[int, int], args) -> dict[str, float]:
    """stylize() vs stylize_frame(), and the network call alone with and without IOBinding."""
    stylizer = Stylizer(path, threads=args.threads)
    frame = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    style, out = stylizer.styles[0], np.empty_like(frame)
    stylizer.stylize_frame(frame, style, out=out)  # allocates the buffers once
    buffers, row = stylizer._buffers, stylizer._row(style)
    return {
        "stylize()": median_ms(lambda: stylizer.stylize(frame, style), args.runs, args.warmup),
        "stylize_frame()": median_ms(lambda: stylizer.stylize_frame(frame, style, out=out),
                                     args.runs, args.warmup),
        "network, session.run": median_ms(lambda: stylizer._run(buffers.image, row),
                                          args.runs, args.warmup),
        "network, IOBinding": median_ms(lambda: stylizer._run(buffers.image, row, buffers.output),
                                        args.runs, args.warmup)}


def option_variants(threads: int | None) -> dict[str, ort.SessionOptions]:
    """fststyle's choice and one change of it at a time."""
    variants = {"fststyle (session_options)": session_options(threads)}
    for n in (1, 2, 4):
        variants[f"intra_op_num_threads={n}"] = session_options(n)
    changes = {
        "ORT_ENABLE_EXTENDED": ("graph_optimization_level",
                                ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
        "enable_mem_pattern=False": ("enable_mem_pattern", False),
        "enable_cpu_mem_arena=False": ("enable_cpu_mem_arena", False),
        "ORT_PARALLEL, inter_op 2": ("execution_mode", ort.ExecutionMode.ORT_PARALLEL)}
    for name, (attribute, value) in changes.items():
        options = session_options(threads)
        setattr(options, attribute, value)
        if value is ort.ExecutionMode.ORT_PARALLEL:
            options.inter_op_num_threads = 2
        variants[name] = options
    return variants


def bench_options(path: Path, size: tuple[int, int], args) -> dict[str, float]:
    """session.run with each option_variants entry, on a (1, 3, H, W) image and style 0."""
    image = np.random.default_rng(0).random((1, 3, size[1], size[0]), dtype=np.float32)
    num_styles = len(Stylizer(path).styles)
    results = {}
    for name, options in option_variants(args.threads).items():
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {"image": image, "style_weights": np.eye(num_styles, dtype=np.float32)[:1]}
        results[name] = median_ms(lambda: session.run(None, feed), args.runs, args.warmup)
    return results


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, help="an .onnx export (default: untrained, exported)")
    p.add_argument("--sizes", nargs="+", default=["256x256", "640x480"], help="WxH")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, help="intra-op threads (default: physical cores)")
    p.add_argument("--options", action="store_true", help="also time session options")
    args = p.parse_args(argv)
    print(describe_cpu(), f"onnxruntime {ort.__version__}", sep="; ")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = args.model or export_untrained(Path(folder))
        for text in args.sizes:
            size = tuple(int(v) for v in text.split("x"))
            timed = bench_paths(path, size, args)
            if args.options:
                timed |= bench_options(path, size, args)
            for name, ms in timed.items():
                print(f"{text}\t{name}\t{ms:.1f} ms")
            results[text] = timed
    return results


if __name__ == "__main__":
    main()
