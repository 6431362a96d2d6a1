"""The one bench harness: fststyle.runtime.bench's statistic on injected timings (known values),
the reference network of fststyle.evaluation.yardstick against its ONNX export, and every
scripts/bench_*.py end to end at toy sizes, each printing the reference's row beside its own
and the ratios (timings are printed, never checked)."""

import datetime
import json
import shutil
import subprocess
import sys
from functools import partial

import numpy as np
import onnxruntime as ort
import pytest
import torch

from fststyle.core.vgg import prefers_channels_last
from fststyle.evaluation.yardstick import JohnsonNet, export_reference, untrained
from fststyle.runtime import Stylizer, browser
from fststyle.runtime.bench import (
    Timings,
    header,
    interleaved,
    parse_size,
    table,
    wall_ms,
)
from fststyle.runtime.hardware import describe_cpu

from helpers import SCRIPTS, load_script


def test_interleaved_times_each_variant_once_per_round_after_warmup_and_settle():
    calls, given = [], {"a": iter([10.0, 30.0, 20.0]), "b": iter([5.0, 10.0, 5.0])}

    def measure(fn):  # a fake clock: each variant's timed call takes the next given ms
        fn()
        return next(given[calls[-1]])

    fns = {name: partial(calls.append, name) for name in ("a", "b")}
    timings = interleaved(fns, rounds=3, warmup=1, settle=1, measure=measure)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3  # warm-up round, then settle + timed
    assert timings.times == {"a": [10.0, 30.0, 20.0], "b": [5.0, 10.0, 5.0]}
    assert timings.medians() == {"a": 20.0, "b": 5.0}
    # Per-round ratios 2, 3, 4: their median is 3, where the ratio of the medians would be 4.
    assert timings.ratio("a", "b") == 3.0
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        interleaved(fns, rounds=0)


def test_wall_ms_reads_the_clock_around_one_call():
    calls = []
    clock = iter([2.0, 2.25]).__next__  # seconds
    assert wall_ms(lambda: calls.append(1), clock) == 250.0 and calls == [1]


def test_table_rows_medians_then_per_round_ratios():
    columns = {"64x64": Timings({"net": [4.0, 6.0, 5.0], "ref": [2.0, 2.0, 5.0]}),
               "32x32": Timings({"net": [1.0], "ref": [2.0], "web": [3.0]})}
    lines = table(columns, [("net", "ref"), ("absent", "ref")]).splitlines()
    assert lines == ["| variant | 64x64 ms | 32x32 ms |", "| --- | ---: | ---: |",
                     "| net | 5.0 | 1.0 |", "| ref | 2.0 | 2.0 |", "| web |  | 3.0 |",
                     "| net / ref | 2.00x | 0.50x |"]  # per round 2, 3, 1: median 2, not 2.5


def test_header_names_the_date_the_machine_and_the_versions():
    line = header(onnxruntime="1.2.3")
    assert line.startswith(f"{datetime.date.today()}, {describe_cpu()}; onnxruntime 1.2.3")
    assert header("NVIDIA H100").startswith(f"{datetime.date.today()}, NVIDIA H100")


def test_parse_size():
    assert parse_size("640x480") == (640, 480)
    with pytest.raises(Exception, match="expected WIDTHxHEIGHT"):
        parse_size("640")


def test_reference_export_matches_johnson_net_and_runs_in_the_stylizer(tmp_path):
    torch.manual_seed(0)
    net = JohnsonNet().eval()
    path = export_reference(tmp_path / "reference.onnx", net)
    image = np.random.default_rng(0).random((1, 3, 19, 26), dtype=np.float32)  # odd H
    with torch.inference_mode():
        want = net(torch.from_numpy(image))[:, :, :19, :26].numpy()  # (1, 3, 20, 28) cropped
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": image})[0]
    assert np.allclose(got, want, atol=1e-4)
    stylizer = Stylizer(path, threads=1)
    assert stylizer.styles == ["reference"] and stylizer.baked
    frame = np.zeros((9, 17, 3), np.uint8)
    assert stylizer.stylize_frame(frame).shape == frame.shape


def test_untrained_network_has_what_an_export_needs():
    net = untrained(num_styles=3, alpha=0.25)
    assert net.style_names == ["style0", "style1", "style2"] and net.metadata == {}
    assert not net.training


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    """scripts/<name>.py in its own process (Playwright's sync API runs one per process)."""
    res = subprocess.run([sys.executable, str(SCRIPTS / f"{name}.py"), *args],
                         capture_output=True, text=True, timeout=600, cwd=SCRIPTS.parent)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_bench_inference_prints_every_row_the_reference_and_the_ratios(tmp_path):
    out = tmp_path / "bench.json"
    res = run_script("bench_inference", "--full", str(tmp_path / "none"), "--student",
                     str(tmp_path / "none"), "--sizes", "32x32", "24x20", "--runs", "2",
                     "--warmup", "1", "--threads", "1", "--calibration-photos", "1",
                     "--json", str(out))
    assert res.stdout.startswith(str(datetime.date.today()))
    rows = ["reference torch-cpu", "reference ort-fp32", "full ort-fp32", "full ort-int8",
            "student ort-fp32", "student ort-int8", "full ort-int8 / full ort-fp32",
            "student ort-int8 / student ort-fp32", "full ort-fp32 / reference ort-fp32",
            "student ort-int8 / reference ort-fp32"]
    assert all(f"\n| {row} | " in res.stdout for row in rows)
    report = json.loads(out.read_text())
    assert report["cpu"] == describe_cpu() and "median" in report["statistic"]
    assert {(r["ratio"], r["size"]) for r in report["ratios"]} >= {
        ("full ort-int8 / full ort-fp32", s) for s in ("32x32", "24x20")}
    if browser.missing() is None:  # the WASM table: the square size only
        assert "\n| reference web-wasm-fp32 | " in res.stdout
        assert "\n| student web-wasm-int8 / student web-wasm-fp32 | " in res.stdout
        assert {r["size"] for r in report["results"] if "web" in r["backend"]} == {"32x32"}
    else:
        assert "no browser rows" in res.stderr


def test_bench_frames_prints_the_reference_and_the_ratios(tiny_onnx, tmp_path, capsys):
    bench = load_script("bench_frames")
    results = bench.main(["--model", str(tiny_onnx), "--sizes", "17x9", "--runs", "1",
                          "--warmup", "0", "--threads", "1", "--options"])
    out = capsys.readouterr().out
    assert out.startswith(str(datetime.date.today()))
    assert set(results["17x9"]) >= {"stylize_frame()", "ORT_ENABLE_EXTENDED",
                                    "reference: stylize_frame()"}
    for row in ["reference: network, IOBinding", "stylize_frame() / reference: stylize_frame()",
                "intra_op_num_threads=1 / fststyle (session_options)"]:
        assert f"\n| {row} | " in out
    second = shutil.copy(tiny_onnx, tmp_path / "second.onnx")
    results = bench.main(["--model", str(tiny_onnx), str(second), "--sizes", "16x16",
                          "--runs", "1", "--warmup", "0", "--only", "IOBinding"])
    assert set(results["16x16"]) == {f"{tiny_onnx.name}: network, IOBinding",
                                     "second.onnx: network, IOBinding",
                                     "reference: network, IOBinding"}
    assert "\n| second.onnx: network, IOBinding / reference: network, IOBinding | " in (
        capsys.readouterr().out)


def test_bench_video_prints_the_reference_and_the_ratios(tiny_onnx, capsys):
    bench = load_script("bench_video")
    results = bench.main(["--model", str(tiny_onnx), "--sizes", "32x16", "--frames", "4",
                          "--runs", "1", "--threads", "1", "--out", ".webm"])
    out = capsys.readouterr().out
    assert out.startswith(str(datetime.date.today())) and "video to .webm" in out
    assert set(results["32x16"]) == {"stylize_frame", "video", "no network"}
    for row in ["reference stylize_frame", "video / stylize_frame",
                "stylize_frame / reference stylize_frame"]:
        assert f"\n| {row} | " in out


def test_bench_web_prints_the_reference_beside_each_row(tiny_onnx, tmp_path):
    if why := browser.missing():
        pytest.skip(why)
    out = tmp_path / "web.json"
    res = run_script("bench_web", str(tiny_onnx), "--sizes", "32", "--runs", "1", "--threads",
                     "2", "1", "--backend", "wasm", "--json", str(out))
    assert res.stdout.startswith(str(datetime.date.today()))
    assert "| reference ms | model / reference |" in res.stdout
    rows = json.loads(out.read_text())
    assert [r["threads"] for r in rows] == [2, 1] or [r["threads"] for r in rows] == [1, 1]
    assert all({"reference_ms", "vs_reference"} <= set(r) for r in rows)


def test_bench_train_prints_the_reference_step_and_speedup_last(tmp_path):
    out = tmp_path / "bench.json"
    res = run_script("bench_train", "--device", "cpu", "--size", "32", "--batch", "2",
                     "--steps", "2", "--warmup", "1", "--json", str(out))
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith(f"{datetime.date.today()}, {describe_cpu()}")
    assert lines[1].startswith("fststyle") and lines[2].startswith("reference")
    report = json.loads(out.read_text())
    assert lines[-1] == f"speedup: {report['speedup']:.2f}"
    fst = report["fststyle"]
    assert fst["vgg_channels_last"] == prefers_channels_last("cpu", fst["bf16"])
    assert report["batch"] == 2 and "CPUs" in report["machine"]  # the CPU is named
    assert report["reference"]["bf16"] is False


def test_bench_train_fp32_option(capsys):
    bench = load_script("bench_train")
    result = bench.main(["--device", "cpu", "--size", "24", "--batch", "1", "--steps", "1",
                         "--warmup", "0", "--fp32"])
    assert result["fststyle"]["bf16"] is False
    assert result["fststyle"]["vgg_channels_last"] == prefers_channels_last("cpu", False)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("speedup: ")
