"""Which of two exports of one network runs faster here, measured rather than assumed: int8
convolutions pay on some CPUs and not on others (an AVX2-only AMD EPYC ran the int8 student at
0.76-1.07x its fp32 speed, docs/speed.md "int8"), so `fststyle.export --int8` says what it
measured, and scripts/ship_model.py ships the faster. Torch-free.

    ratio = speed_ratio("exports/demo-int8.onnx", "exports/demo.onnx")   # < 1: int8 faster
    choose({"fp32": 1.0, "int8": ratio})                                 # "int8" if it is
"""

from functools import partial
from pathlib import Path

from fststyle.runtime.bench import interleaved, sample_feed
from fststyle.runtime.frames import session_options


def choose(times: dict[str, float]) -> str:
    """The variant to run, given each one's measured time (ms, or a ratio to a common
    baseline): the fastest; a tie goes to the variant listed first (list the unquantised one
    first: it is the exact one)."""
    if not times:
        raise ValueError("no variants to choose from")
    order = list(times)
    return min(order, key=lambda name: (times[name], order.index(name)))


def speed_ratio(candidate: str | Path, baseline: str | Path, size: tuple[int, int] = (256, 256),
                rounds: int = 5, threads: int | None = None) -> float:
    """candidate's time over baseline's on one (1, 3, H, W) image, `size` (W, H): the median of
    the per-round ratios of interleaved rounds (runtime.bench), both sessions alike."""
    import onnxruntime as ort

    runs = {}
    for name, path in (("candidate", candidate), ("baseline", baseline)):
        session = ort.InferenceSession(str(path), session_options(threads),
                                       providers=["CPUExecutionProvider"])
        runs[name] = partial(session.run, None, sample_feed(session, size))
    return interleaved(runs, rounds=rounds, warmup=1, settle=1).ratio("candidate", "baseline")
