"""Where an exported network's time goes on onnxruntime, per operator type, beside the reference
network's (the yardstick, fststyle.evaluation.yardstick): onnxruntime's own profiler (each
node's kernel time, after its graph optimisations: fused and NCHWc nodes as they run).

    python scripts/profile_onnx.py                                   # the shipped networks
    python scripts/profile_onnx.py --model exports/demo.onnx --sizes 256x256 1920x1080 \\
        --runs 5 --threads 2 --json profile.json

Prints, per size, a Markdown table: operator type, ms per run and share of the run for each
model. Kernel times only: the gaps between kernels (onnxruntime's own bookkeeping) are the
difference between the kernels' sum and the session's run time, printed as "(between kernels)".
"""

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from fststyle.evaluation.yardstick import export_reference
from fststyle.runtime.bench import header, parse_size, sample_feed
from fststyle.runtime.frames import session_options
from fststyle.runtime.shipped import shipped_model


def profile(model: Path, size: tuple[int, int], runs: int, threads: int | None) -> dict:
    """{op type: ms per run} of `runs` runs after one untimed, plus "(between kernels)"."""
    import onnxruntime as ort

    options = session_options(threads)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        feed = sample_feed(session, size)
        session.run(None, feed)  # untimed: the arena and the NCHWc reorders settle
        for _ in range(runs):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    return per_op(events, runs)


def per_op(events: list[dict], runs: int) -> dict[str, float]:
    """Kernel ms per run by operator type, from onnxruntime's profile events (the last `runs`
    model runs; the first is the untimed one)."""
    model_runs = [e for e in events if e.get("name") == "model_run"]
    timed = model_runs[-runs:]
    start = timed[0]["ts"]
    totals: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= start:
            totals[e["args"]["op_name"]] += e["dur"] / 1e3 / runs
    run_ms = sum(e["dur"] for e in timed) / 1e3 / runs
    totals["(between kernels)"] = max(0.0, run_ms - sum(totals.values()))
    totals["(run)"] = run_ms
    return dict(totals)


def table(results: dict[str, dict[str, float]]) -> str:
    """Markdown: op type rows, a ms and % column per model, largest first."""
    names = list(results)
    ops = sorted({op for r in results.values() for op in r if op != "(run)"},
                 key=lambda op: -max(r.get(op, 0) for r in results.values()))
    lines = ["| operator | " + " | ".join(f"{n} ms | {n} %" for n in names) + " |",
             "| --- |" + " ---: | ---: |" * len(names)]
    for op in [*ops, "(run)"]:
        cells = []
        for n in names:
            ms, run = results[n].get(op, 0.0), results[n]["(run)"]
            cells.append(f"{ms:.1f} | {100 * ms / run:.0f}%")
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, nargs="*",
                   help=".onnx files (default: the shipped network and its student)")
    p.add_argument("--sizes", type=parse_size, nargs="+", default=[(256, 256), (1920, 1080)])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    models = args.model or [shipped_model("full"), shipped_model("student")]
    print(header())
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        named = {"reference": export_reference(Path(tmp) / "reference.onnx"),
                 **{Path(m).stem: Path(m) for m in models}}
        for width, height in args.sizes:
            results = {name: profile(path, (width, height), args.runs, args.threads)
                       for name, path in named.items()}
            print(f"\n{width}×{height}, ms per run ({args.runs} runs):\n\n{table(results)}")
            found[f"{width}x{height}"] = results
    if args.json:
        args.json.write_text(json.dumps(found, indent=2))
    return found


if __name__ == "__main__":
    main()
