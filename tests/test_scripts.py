"""The benchmark and comparison scripts under scripts/, end to end at toy sizes (timings are
printed, never checked)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fststyle.core.vgg import prefers_channels_last

from helpers import SCRIPTS, load_script


def test_bench_train_prints_speedup_last_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(SCRIPTS / "bench_train.py"), "--device", "cpu",
                          "--size", "32", "--batch", "2", "--steps", "2", "--warmup", "1",
                          "--json", str(out)], capture_output=True, text=True, check=True)
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith("fststyle") and lines[1].startswith("baseline")
    report = json.loads(out.read_text())
    assert lines[-1] == f"speedup: {report['speedup']:.2f}"
    ratio = report["fststyle"]["images_per_sec"] / report["baseline"]["images_per_sec"]
    assert report["speedup"] == pytest.approx(ratio)
    fst = report["fststyle"]
    assert fst["vgg_channels_last"] == prefers_channels_last("cpu", fst["bf16"])
    assert report["batch"] == 2 and "CPUs" in report["machine"]  # the CPU is named


def test_bench_train_options_fp32_and_no_baseline():
    bench = load_script("bench_train")
    result = bench.main(["--device", "cpu", "--size", "24", "--batch", "1", "--steps", "1",
                         "--warmup", "0", "--fp32", "--no-baseline"])
    assert result["fststyle"]["bf16"] is False
    assert result["fststyle"]["vgg_channels_last"] == prefers_channels_last("cpu", False)
    assert "baseline" not in result and "speedup" not in result


def fake_report(path: Path, totals: dict[str, list[float]], size: int = 256) -> str:
    styles = {style: {"images": [{"file": f"photo{i}.png", "network": {"total": t}}
                                 for i, t in enumerate(values)]}
              for style, values in totals.items()}
    path.write_text(json.dumps({"size": size, "styles": styles}))
    return str(path)


def test_compare_reports_per_style_medians_and_mean_difference(tmp_path, capsys):
    compare = load_script("compare_reports")
    a = fake_report(tmp_path / "a.json", {"udnie": [1.0, 2.0, 9.0], "wave": [4.0, 4.0, 4.0]})
    b = fake_report(tmp_path / "b.json", {"udnie": [1.0, 4.0, 5.0], "wave": [5.0, 5.0, 5.0]})
    difference = compare.main([a, b])
    out = capsys.readouterr().out
    assert "| udnie | 2 | 4 | -50.0% |" in out  # medians 2 vs 4
    assert difference == pytest.approx(100 * (24 / 25 - 1))  # sums (so means) of the 6 pairs
    assert out.strip().splitlines()[-1] == f"difference: {difference:+.2f}%"


def test_compare_reports_refuses_mismatched_reports(tmp_path):
    compare = load_script("compare_reports")
    a = fake_report(tmp_path / "a.json", {"udnie": [1.0]})
    with pytest.raises(SystemExit, match="different --size"):
        compare.main([a, fake_report(tmp_path / "b.json", {"udnie": [1.0]}, size=512)])
    with pytest.raises(SystemExit, match="different"):
        compare.main([a, fake_report(tmp_path / "c.json", {"wave": [1.0]})])
    with pytest.raises(SystemExit, match="missing.json"):
        compare.main([a, str(tmp_path / "missing.json")])
