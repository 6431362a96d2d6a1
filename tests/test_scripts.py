"""The comparison and screenshot scripts under scripts/, end to end at toy sizes (the benches:
tests/test_bench.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fststyle.runtime import browser

from helpers import SCRIPTS, load_script


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


def test_screenshot_web_writes_the_page_with_a_mix(tiny_onnx, tmp_path):
    """In its own process: Playwright's sync API runs one instance per process."""
    if why := browser.missing():
        pytest.skip(why)
    out = tmp_path / "page.png"
    res = subprocess.run([sys.executable, str(SCRIPTS / "screenshot_web.py"), str(tiny_onnx),
                          "--mix", "s1=70,s2=30", "--out", str(out)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == f"wrote {out}" and Image.open(out).size == (1280, 720)
