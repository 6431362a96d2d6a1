"""The comparison page behind `python -m fststyle.compare`: runs side by side in one
self-contained HTML page (parameters that differ, final metrics, loss curves, the latest sample
grid cut per style), read from each run folder's local record. No server, no Lightning."""


import base64
import csv
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fststyle.tracking.grid_split import split_grid
from fststyle.tracking.run_folder import ENVIRONMENT, FINAL_METRICS, read_json
from fststyle.tracking.tracked_names import flatten, style_names

UNCOMPARED = {"run_name", "trainer/default_root_dir"}  # differ between any two runs, by design
MISSING = "–"
CSS = """body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#eee}.plots{display:flex;flex-wrap:wrap;gap:8px}
img{max-width:100%}figure{margin:0}code{font-size:90%}"""


@dataclass
class Run:
    """One run folder's local record."""
    path: Path
    label: str
    params: dict = field(default_factory=dict)  # flattened config.yaml + environment.json
    curves: dict = field(default_factory=dict)  # metric -> [(step, value)]
    final: dict = field(default_factory=dict)  # metric -> value
    styles: list = field(default_factory=list)
    grid: Path | None = None  # latest samples/step_*.png


def load_run(path: Path, label: str) -> Run:
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder")
    config_path, metrics_path = path / "config.yaml", path / "metrics.csv"
    grids = sorted((path / "samples").glob("step_*.png"))
    if not (config_path.is_file() or metrics_path.is_file() or grids):
        raise ValueError(f"{path} has no config.yaml, metrics.csv or samples/: "
                         "not a fststyle run folder (checkpoints/<run>)")
    try:
        config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
    except yaml.YAMLError as e:
        raise ValueError(f"{config_path} is not valid YAML: {e}") from e
    params = {**flatten(config or {}), **read_json(path / ENVIRONMENT)}
    run = Run(path, label, params, read_curves(metrics_path),
              styles=style_names(config), grid=grids[-1] if grids else None)
    last = {k: v[-1][1] for k, v in run.curves.items() if v}
    run.final = read_json(path / FINAL_METRICS) or last
    return run


def read_curves(path: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.csv (Lightning's CSVLogger: one row per logged step, blanks elsewhere) ->
    {metric: [(step, value)]}."""
    curves: dict[str, list[tuple[int, float]]] = {}
    if not path.is_file():
        return curves
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                if key not in ("step", "epoch") and value not in ("", None):
                    curves.setdefault(key, []).append((int(float(row["step"])), float(value)))
    return curves


def labels(paths: list[Path]) -> list[str]:
    """Folder names, or parent/name where two runs share a name."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def figure_uri(figure) -> str:
    """A matplotlib figure (Agg canvas, no display needed) as a PNG data URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return data_uri(buffer.getvalue())


def plot(runs: list[Run], metric: str, logy: bool) -> str:
    """All runs' curves of one metric on shared axes, as a PNG data URI."""
    from matplotlib.figure import Figure  # its savefig renders with Agg
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(5.2, 3.4), layout="constrained")
    ax = figure.subplots()
    for run in runs:
        points = run.curves.get(metric, [])
        ax.plot([s for s, _ in points], [v for _, v in points], label=run.label,
                marker="o" if len(points) < 20 else None, markersize=3)
    # A metric with no positive value (train/tv at tv_weight 0) cannot be log-scaled: linear.
    positive = any(v > 0 for run in runs for _, v in run.curves.get(metric, []))
    ax.set(title=metric, xlabel="step", yscale="log" if logy and positive else "linear")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize="small")
    return figure_uri(figure)


class Html(str):
    """Markup made here, put in the page as it is; any other str is escaped."""


def table(table_id: str, head: list[str], rows: list[list[str]]) -> str:
    def cell(tag: str, text: str) -> str:
        return f"<{tag}>{text if isinstance(text, Html) else html.escape(text)}</{tag}>"

    lines = ["<tr>" + "".join(cell("th", h) for h in head) + "</tr>"]
    lines += ["<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows]
    return f'<table id="{table_id}">' + "\n".join(lines) + "</table>"


def param_rows(runs: list[Run], all_params: bool) -> list[list[str]]:
    keys = sorted({k for run in runs for k in run.params} - UNCOMPARED)
    rows = [[k, *(str(run.params.get(k, MISSING)) for run in runs)] for k in keys]
    return rows if all_params else [r for r in rows if len(set(r[1:])) > 1]


def final_rows(runs: list[Run]) -> list[list[str]]:
    keys = sorted({k for run in runs for k in run.final})
    steps = ["last logged step", *(str(max((s for c in r.curves.values() for s, _ in c),
                                           default=MISSING)) for r in runs)]
    values = [[k, *(f"{run.final[k]:.4g}" if k in run.final else MISSING for run in runs)]
              for k in keys]
    return [steps, *values]


def img(uri: str, alt: str) -> Html:
    return Html(f'<img src="{uri}" alt="{html.escape(alt)}">')


def sample_rows(runs: list[Run]) -> list[list[str]]:
    """Rows: styles; columns: runs; cells: [photo | stylized] cut from each latest grid (the
    whole grid, in an "all styles" row, where it cannot be cut)."""
    from PIL import Image

    cells = {}
    for run in runs:
        if run.grid is None:
            continue
        with Image.open(run.grid) as grid:
            grid = grid.convert("RGB")
        parts = split_grid(grid, len(run.styles)) if run.styles else None
        for style, part in zip(run.styles, parts) if parts else [("all styles", grid)]:
            buffer = io.BytesIO()
            part.save(buffer, format="PNG")
            cells[run.label, style] = img(data_uri(buffer.getvalue()), f"{run.label} {style}")
    styles = list(dict.fromkeys(style for _, style in cells))
    return [[s, *(cells.get((run.label, s), MISSING) for run in runs)] for s in styles]


def report(runs: list[Run], metrics: list[str], all_params: bool, logy: bool, title: str) -> str:
    heads = ["", *(run.label for run in runs)]
    params = param_rows(runs, all_params)
    grid_steps = [f"{run.label} ({run.grid.stem if run.grid else 'no samples'})" for run in runs]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        "<p>" + "<br>".join(f"<code>{html.escape(r.label)}</code>: {html.escape(str(r.path))}"
                            for r in runs) + "</p>",
        "<h2>Hyperparameters" + ("" if all_params else " that differ") + "</h2>",
        table("params", ["parameter", *heads[1:]], params) if params
        else "<p>All hyperparameters are equal.</p>",
        "<h2>Final metrics</h2>", table("final", ["metric", *heads[1:]], final_rows(runs)),
        "<h2>Curves</h2>", '<div class="plots">'
        + "".join(f"<figure>{img(plot(runs, m, logy), m)}</figure>" for m in metrics) + "</div>",
        "<h2>Latest samples</h2>", table("samples", ["style", *grid_steps], sample_rows(runs)),
    ]
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style>'
    return (f"<!doctype html>\n<html><head>{head}</head><body>\n" + "\n".join(parts)
            + "\n</body></html>\n")


def pick_metrics(runs: list[Run], wanted: list[str] | None) -> list[str]:
    """--metrics as given (each must exist in some run), else every metric named *loss*."""
    logged = sorted({k for run in runs for k, v in run.curves.items() if v})
    if wanted is None:
        return [m for m in logged if "loss" in m]
    unknown = [m for m in wanted if m not in logged]
    if unknown:
        raise ValueError(f"--metrics {' '.join(unknown)}: logged by none of the runs; "
                         f"logged: {', '.join(logged) or 'nothing'}")
    return wanted
