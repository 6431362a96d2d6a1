"""scripts/profile_onnx.py and scripts/bench_tiles.py: the profile's per-operator sums on
known events, and both scripts end to end at toy sizes (numbers printed, never checked)."""

import json

import pytest

from helpers import load_script


def test_per_op_sums_the_timed_runs_kernels_and_the_gap_between_them():
    per_op = load_script("profile_onnx").per_op
    run = lambda ts, dur: {"name": "model_run", "ts": ts, "dur": dur}  # noqa: E731
    node = lambda ts, op, dur: {"cat": "Node", "name": f"n{ts}_kernel_time", "ts": ts,  # noqa: E731
                                "dur": dur, "args": {"op_name": op}}
    events = [run(0, 9_000), node(1, "Conv", 8_000),  # the untimed first run: left out
              run(100, 10_000), node(101, "Conv", 6_000), node(102, "Pad", 2_000),
              run(200, 14_000), node(201, "Conv", 10_000), node(202, "Pad", 2_000)]
    found = per_op(events, runs=2)
    assert found["Conv"] == pytest.approx(8.0)  # (6 + 10) ms over 2 runs
    assert found["Pad"] == pytest.approx(2.0)
    assert found["(run)"] == pytest.approx(12.0)
    assert found["(between kernels)"] == pytest.approx(2.0)  # 12 - 8 - 2


def test_profile_onnx_prints_a_table_per_size_beside_the_reference(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "profile.json"
    found = load_script("profile_onnx").main(["--model", str(tiny_onnx), "--sizes", "32x32",
                                              "--runs", "1", "--threads", "1", "--json",
                                              str(out)])
    printed = capsys.readouterr().out
    assert "32×32, ms per run" in printed and "| Conv |" in printed
    assert set(found["32x32"]) == {"reference", tiny_onnx.stem}
    assert found["32x32"]["reference"]["Conv"] > 0
    assert json.loads(out.read_text()) == found


def test_bench_tiles_measures_each_run_and_the_tiled_agreement(tiny_onnx, tmp_path, capsys):
    bench = load_script("bench_tiles")
    crop = tmp_path / "seam.jpg"
    found = bench.main(["--model", str(tiny_onnx), "--style", "s1", "--size", "400x300",
                        "--whole-sizes", "200x150", "--tile", "160", "--crop", str(crop),
                        "--agreement-pixels", "180000", "--thumbnail", "40000",
                        "--json", str(tmp_path / "tiles.json")])
    rows = {(r["size"], r["mode"]) for r in found["memory"]}
    assert rows == {("200x150", "reference"), ("200x150", "whole"), ("200x150", "tiled"),
                    ("400x300", "reference"), ("400x300", "whole"), ("400x300", "tiled")}
    assert all(r["peak_mb"] > 0 for r in found["memory"])
    height, width = found["agreement"]["photo"]
    assert 170_000 < height * width <= 180_000
    assert 0 <= found["agreement"]["mean_abs_diff"] <= found["agreement"]["max_abs_diff"]
    assert found["agreement"]["thumbnail"] == 40_000  # smaller: the exact norms' passes run
    assert 0 <= found["agreement"]["thumbnail_only"]["mean_abs_diff"] <= 255
    assert crop.stat().st_size > 0 and "peak RSS" in capsys.readouterr().out
