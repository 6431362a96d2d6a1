"""Milliseconds per frame in the torch-free runtime: `Stylizer.stylize()` against
`stylize_frame()` (reused buffers, no PIL), session.run against IOBinding, and with --options
the onnxruntime session options that fststyle.runtime.frames.session_options picks between.

    python scripts/bench_frames.py                           # an untrained TransformerNet(4)
    python scripts/bench_frames.py --model exports/demo.onnx --sizes 256x256 640x480 --runs 20
    python scripts/bench_frames.py --options                 # threads, levels, arena, mode
    python scripts/bench_frames.py --model exports/demo.onnx exports/demo-int8.onnx \
        --sizes 256x256 512x512 --only IOBinding            # fp32 against int8, in turn

Batch 1; --warmup untimed rounds, then --runs rounds that time every variant once each (after
one untimed call), in turn, so that load from other processes falls on all of them alike.
Prints the fastest run (the least disturbed: Python's timeit docs recommend the minimum) and
the median of each, and the CPU (timings do not depend on the weights' values, so untrained
is fine).
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


def interleaved_ms(fns: dict, runs: int, warmup: int) -> dict[str, tuple[float, float]]:
    """{name: (min ms, median ms)}, timing each of `fns` once per round."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            # One untimed call first: the previous variant's onnxruntime thread pool spins
            # for a while after its run (allow_spinning) and would slow this one's first call.
            fn()
            start = time.perf_counter()
            fn()
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def path_variants(path: Path, size: tuple[int, int], threads: int | None) -> dict:
    """stylize() vs stylize_frame(), and the network call alone with and without IOBinding."""
    stylizer = Stylizer(path, threads=threads)
    frame = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    style, out = stylizer.styles[0], np.empty_like(frame)
    stylizer.stylize_frame(frame, style, out=out)  # allocates the buffers once
    buffers, row = stylizer._buffers, stylizer._row(style)
    return {"stylize()": lambda: stylizer.stylize(frame, style),
            "stylize_frame()": lambda: stylizer.stylize_frame(frame, style, out=out),
            "network, session.run": lambda: stylizer._run(buffers.image, row),
            "network, IOBinding": lambda: stylizer._run(buffers.image, row, buffers.output)}


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


def session_variants(path: Path, size: tuple[int, int], threads: int | None) -> dict:
    """session.run with each option_variants entry, on a (1, 3, H, W) image and style 0."""
    image = np.random.default_rng(0).random((1, 3, size[1], size[0]), dtype=np.float32)
    num_styles = len(Stylizer(path).styles)
    feed = {"image": image, "style_weights": np.eye(num_styles, dtype=np.float32)[:1]}
    fns = {}
    for name, options in option_variants(threads).items():
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        fns[name] = lambda session=session: session.run(None, feed)
    return fns


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, nargs="+",
                   help=".onnx exports, timed in turn (default: an untrained one, exported)")
    p.add_argument("--sizes", nargs="+", default=["256x256", "640x480"], help="WxH")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, help="intra-op threads (default: physical cores)")
    p.add_argument("--options", action="store_true", help="also time session options")
    p.add_argument("--only", help="time only the variants whose name contains this")
    args = p.parse_args(argv)
    print(describe_cpu(), f"onnxruntime {ort.__version__}", sep="; ")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = args.model or [export_untrained(Path(folder))]
        for text in args.sizes:
            size = tuple(int(v) for v in text.split("x"))
            fns = {}
            for path in paths:
                named = path_variants(path, size, args.threads)
                if args.options:
                    named |= session_variants(path, size, args.threads)
                prefix = f"{path.name}: " if len(paths) > 1 else ""
                fns |= {prefix + name: fn for name, fn in named.items()
                        if args.only is None or args.only in name}
            timed = interleaved_ms(fns, args.runs, args.warmup)
            for name, (best, median) in timed.items():
                print(f"{text}\t{name}\t{best:.1f} ms (median {median:.1f})", flush=True)
            results[text] = timed
    return results


if __name__ == "__main__":
    main()
