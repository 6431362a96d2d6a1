"""`python -m fststyle.compare` on two tiny runs that differ in style_weight, rendered in
headless Chromium (skipped, saying why, where it is not installed; .ci/run installs it)."""

import re
import subprocess
import sys

import pytest

from fststyle.compare import cli
from fststyle.compare import main as compare
from fststyle.train import main as train

from helpers import chromium, tiny_args

CHECK_SCRIPT = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "decoded";  // naturalWidth is 0 for an image that did not decode
  out.textContent = [...document.images].map(i => i.complete ? i.naturalWidth : 0).join(",");
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, photo_dir, style_files):
    """Two 2-step CSV-logged runs, style_weight 50 and 5, with a validation at step 2."""
    root = tmp_path_factory.mktemp("runs")
    for weight in ("50", "5"):
        train(tiny_args(photo_dir, style_files, root, "--run_name", f"w{weight}",
                        "--logger", "csv", "--model.objective.style_weight", weight,
                        "--trainer.max_steps", "2", "--trainer.log_every_n_steps", "1",
                        "--trainer.val_check_interval", "2"))
    return [root / "checkpoints" / "w50", root / "checkpoints" / "w5"]


def rows(page: str, table_id: str) -> list[list[str]]:
    table = re.search(f'<table id="{table_id}">(.*?)</table>', page, re.S).group(1)
    return [re.findall(r"<t[hd]>(.*?)</t[hd]>", row, re.S) for row in table.split("</tr>")[:-1]]


def test_report_shows_differing_params_metrics_curves_and_samples(runs, tmp_path):
    out = compare([*map(str, runs), "--out", str(tmp_path / "r.html")])
    page = out.read_text()
    assert rows(page, "params") == [["parameter", "w50", "w5"],
                                    ["model/objective/style_weight", "50.0", "5.0"]]
    final = {r[0]: r[1:] for r in rows(page, "final")}
    assert final["last logged step"] == ["1", "1"]
    assert "val/loss/s1" in final and "train/loss" in final
    alts = re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="([^"]*)"', page)
    assert [a for a in alts if "/" in a and " " not in a] == ["train/loss", "val/loss",
                                                              "val/loss/s1", "val/loss/s2"]
    assert sorted(a for a in alts if " " in a) == ["w5 s1", "w5 s2", "w50 s1", "w50 s2"]
    assert "step_000002" in page  # the latest grid, named in the samples header
    assert not re.search(r'(src|href)="(http|file|/)', page)  # self-contained


def test_every_option(runs, tmp_path):
    out = tmp_path / "sub" / "o.html"
    compare([str(runs[0]), str(runs[1]), "--out", str(out), "--metrics", "train/style",
             "train/tv", "--all_params", "--logy", "--title", "sweep <1>"])
    page = out.read_text()
    assert "<title>sweep &lt;1&gt;</title>" in page
    params = {r[0]: r[1:] for r in rows(page, "params")}
    assert params["model/lr"] == ["0.001", "0.001"] and "run_name" not in params
    assert re.findall(r'alt="(train/[a-z]+)"', page) == ["train/style", "train/tv"]


def test_clear_errors(runs, tmp_path, capsys):
    with pytest.raises(ValueError, match="is not a folder"):
        compare([str(tmp_path / "nope")])
    with pytest.raises(ValueError, match="not a fststyle run folder"):
        compare([str(tmp_path)])
    with pytest.raises(ValueError, match="--metrics val/nothing: logged by none"):
        compare([str(runs[0]), "--metrics", "val/nothing", "--out", str(tmp_path / "x.html")])
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(SystemExit) as exit_info:  # the entry point: one line, exit status 2
        cli([str(tmp_path / "nope")])
    assert exit_info.value.code == 2
    assert "fststyle.compare: error: " in capsys.readouterr().err


def test_module_entry_point(runs, tmp_path):
    subprocess.run([sys.executable, "-m", "fststyle.compare", *map(str, runs)],
                   cwd=tmp_path, check=True, timeout=120)
    assert (tmp_path / "compare.html").stat().st_size > 10_000


def test_page_renders_in_headless_chromium(runs, tmp_path):
    browser = chromium()
    page = compare([*map(str, runs), "--out", str(tmp_path / "r.html")]).read_text()
    checked = tmp_path / "checked.html"  # the report plus a script that reports decoded widths
    checked.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"))
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    dom = subprocess.run([*flags, "--dump-dom", checked.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert rows(dom, "params")[1] == ["model/objective/style_weight", "50.0", "5.0"]
    decoded = re.search(r'<pre id="decoded">([\d,]*)</pre>', dom).group(1)
    widths = [int(w) for w in decoded.split(",")]
    assert len(widths) == 8 and min(widths) > 0  # 4 plots + 2 runs x 2 styles, all decoded
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,2400",
                    (tmp_path / "r.html").as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
