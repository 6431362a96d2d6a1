"""Milliseconds per frame in the torch-free runtime: `Stylizer.stylize()` against
`stylize_frame()` (reused buffers, no PIL), session.run against IOBinding, and with --options
the onnxruntime session options that fststyle.runtime.frames.session_options picks between;
the reference network (fststyle.evaluation.yardstick) through the same paths as a yardstick.

    python scripts/bench_frames.py                           # an untrained TransformerNet(4)
    python scripts/bench_frames.py --model exports/demo.onnx --sizes 256x256 640x480 --runs 20
    python scripts/bench_frames.py --options                 # threads, levels, arena, mode
    python scripts/bench_frames.py --model exports/demo.onnx exports/demo-int8.onnx \\
        --sizes 256x256 512x512 --only IOBinding            # fp32 against int8, in turn

Batch 1. Per size, --warmup untimed rounds, then --runs rounds that time every variant once
each (after one untimed call), in turn (fststyle.runtime.bench), so that load from other
processes falls on all of them alike. Prints the date, the CPU and onnxruntime's version, each
variant's median and the ratios (each the median of per-round ratios): every model variant
over the reference's same variant, and with --options every option over fststyle's choice.
Timings do not depend on the weights' values, so untrained is fine.
"""

import argparse
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fststyle.evaluation.yardstick import export_reference, export_untrained
from fststyle.runtime import Stylizer
from fststyle.runtime.bench import header, interleaved, parse_size, sample_feed, table
from fststyle.runtime.frames import session_options

REFERENCE = "reference: "  # the prefix of the yardstick's variants
FSTSTYLE_OPTIONS = "fststyle (session_options)"


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
    variants = {FSTSTYLE_OPTIONS: session_options(threads)}
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
    fns = {}
    for name, options in option_variants(threads).items():
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        fns[name] = partial(session.run, None, sample_feed(session, size))
    return fns


def variants(args, paths: list[Path], reference: Path, size: tuple[int, int]) -> tuple:
    """({name: fn}, [(a, b) ratios]) of every model, then the reference's path variants."""
    fns, ratios = {}, []
    for path in paths:
        prefix = f"{path.name}: " if len(paths) > 1 else ""
        named = path_variants(path, size, args.threads)
        ratios += [(prefix + name, REFERENCE + name) for name in named]
        if args.options:
            named |= session_variants(path, size, args.threads)
            ratios += [(prefix + name, prefix + FSTSTYLE_OPTIONS)
                       for name in option_variants(args.threads) if name != FSTSTYLE_OPTIONS]
        fns |= {prefix + name: fn for name, fn in named.items() if wanted(args, name)}
    fns |= {REFERENCE + name: fn for name, fn in
            path_variants(reference, size, args.threads).items() if wanted(args, name)}
    return fns, ratios


def wanted(args, name: str) -> bool:
    return args.only is None or args.only in name


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, nargs="+",
                   help=".onnx exports, timed in turn (default: an untrained one, exported)")
    p.add_argument("--sizes", nargs="+", type=parse_size, default=[(256, 256), (640, 480)],
                   help="WIDTHxHEIGHT")
    p.add_argument("--runs", type=int, default=20, help="timed rounds; medians are reported")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    p.add_argument("--threads", type=int, help="intra-op threads (default: physical cores)")
    p.add_argument("--options", action="store_true", help="also time session options")
    p.add_argument("--only", help="time only the variants whose name contains this")
    args = p.parse_args(argv)
    line = header(onnxruntime=ort.__version__)
    print(line, flush=True)
    columns = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = args.model or [export_untrained(Path(folder) / "untrained.onnx", num_styles=4)]
        reference = export_reference(Path(folder) / "reference.onnx")
        for size in args.sizes:
            fns, ratios = variants(args, paths, reference, size)
            # settle=1: the previous variant's onnxruntime thread pool spins for a while after
            # its run (allow_spinning) and would slow this one's first call.
            columns[f"{size[0]}x{size[1]}"] = interleaved(fns, args.runs, args.warmup, settle=1)
    print(f"\n{table(columns, ratios)}")
    return {size: timings.medians() for size, timings in columns.items()}


if __name__ == "__main__":
    main()
