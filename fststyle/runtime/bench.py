"""The one way every scripts/bench_*.py times: interleaved rounds, medians, per-round ratios.

    timings = interleaved({"fp32": run_fp32, "int8": run_int8}, rounds=10, warmup=2)
    timings.median("int8"), timings.ratio("int8", "fp32")

After `warmup` untimed rounds, each of `rounds` rounds times every variant once, in turn, so
that load from other processes on a shared machine falls on all of them alike. A variant's
figure is its median over the rounds; a ratio of two variants is the median of their per-round
ratios (both sides of each taken under the same load), not the ratio of their medians.

Torch-free, like the rest of fststyle.runtime: the runtime's benches need no torch to time.
"""

import argparse
import datetime
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from fststyle.runtime.hardware import describe_cpu


def wall_ms(fn: Callable, clock: Callable[[], float] = time.perf_counter) -> float:
    """Milliseconds of one call of `fn` on `clock` (seconds)."""
    start = clock()
    fn()
    return 1e3 * (clock() - start)


def returned_ms(fn: Callable[[], float]) -> float:
    """For a variant that times itself (the web page's in-page clock): the ms it returns."""
    return fn()


@dataclass(frozen=True)
class Timings:
    """ms of each variant in each round: times[variant][round]."""

    times: dict[str, list[float]]

    def median(self, variant: str) -> float:
        return statistics.median(self.times[variant])

    def medians(self) -> dict[str, float]:
        return {variant: self.median(variant) for variant in self.times}

    def ratio(self, a: str, b: str) -> float:
        """a's time over b's: the median over rounds of the ratio within each round."""
        return statistics.median(x / y for x, y in zip(self.times[a], self.times[b]))


def interleaved(fns: dict[str, Callable], rounds: int, warmup: int = 1, settle: int = 0,
                measure: Callable[[Callable], float] = wall_ms) -> Timings:
    """Time each of `fns` once per round, in turn, after `warmup` untimed rounds.

    settle: untimed calls of a variant just before its timed one: 1 absorbs the previous
        variant's onnxruntime or OpenMP thread pool, which spins for a while after its run
        and would slow the next variant's first call.
    measure: ms of one call (wall_ms; returned_ms for variants that time themselves).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {variant: [] for variant in fns}
    for _ in range(rounds):
        for variant, fn in fns.items():
            for _ in range(settle):
                fn()
            times[variant].append(measure(fn))
    return Timings(times)


def header(machine: str | None = None, **versions: str) -> str:
    """The first line every bench prints: the date, the machine (default: the CPU's model and
    flags, docs/speed.md's convention), the versions that matter and the load average (other
    processes' share of the CPUs)."""
    parts = [f"{datetime.date.today()}, {machine or describe_cpu()}"]
    parts += [", ".join(f"{name} {version}" for name, version in versions.items())]
    if hasattr(os, "getloadavg"):
        parts.append(f"load average {os.getloadavg()[0]:.2f}")
    return "; ".join(part for part in parts if part)


def table(columns: dict[str, Timings], ratios: Iterable[tuple[str, str]] = (),
          cell: Callable[[float], str] = "{:.1f}".format, unit: str = "ms") -> str:
    """Markdown: a row per variant with its median in each column (e.g. one per size), then a
    row per (a, b) of `ratios` with a's time over b's (Timings.ratio); a blank cell where a
    column lacks the variant, no row for a ratio that no column has both sides of."""
    names = list(columns)
    variants = list(dict.fromkeys(v for timings in columns.values() for v in timings.times))
    lines = [f"| variant | {' | '.join(f'{name} {unit}' for name in names)} |",
             "| --- |" + " ---: |" * len(names)]
    for variant in variants:
        cells = [cell(t.median(variant)) if variant in t.times else "" for t in columns.values()]
        lines.append(f"| {variant} | {' | '.join(cells)} |")
    for a, b in ratios:
        if not any({a, b} <= t.times.keys() for t in columns.values()):
            continue
        cells = [f"{t.ratio(a, b):.2f}x" if {a, b} <= t.times.keys() else ""
                 for t in columns.values()]
        lines.append(f"| {a} / {b} | {' | '.join(cells)} |")
    return "\n".join(lines)


def style_feed(session) -> dict[str, np.ndarray]:
    """An onnxruntime session's style input for timing: style 0 alone, (1, N), or (1, N, 1, 1)
    for a --spatial export; {} for a model without one (a baked style, the reference)."""
    inputs = {i.name: i for i in session.get_inputs()}
    if "style_weights" not in inputs:
        return {}
    shape = inputs["style_weights"].shape
    weights = np.zeros((1, shape[1], *([1, 1] if len(shape) == 4 else [])), np.float32)
    weights[0, 0] = 1
    return {"style_weights": weights}


def sample_feed(session, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """A session's whole input for timing at `size` (W, H): a fixed random (1, 3, H, W) image
    and style_feed's style (timings do not depend on the pixels)."""
    image = np.random.default_rng(0).random((1, 3, size[1], size[0]), np.float32)
    return {"image": image, **style_feed(session)}


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480): the --sizes argument of the benches."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected WIDTHxHEIGHT") from None
    return width, height
