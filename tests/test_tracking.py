"""Tracking: the neptune logger in debug and offline modes, the CSV fallback without neptune, and
the run-record helpers (a server that fails in other ways: test_neptune_server.py)."""

import json
import sys
from pathlib import Path

import pytest
import torch
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.utilities.rank_zero import rank_zero_only

import fststyle.training.trainer
from fststyle.core.images import sample_grid
from fststyle.core.objective_settings import DEFAULTS
from fststyle.tracking.artifacts import log_artifact_to_run
from fststyle.tracking.build_loggers import make_loggers
from fststyle.tracking.csv_logger import RunCSVLogger
from fststyle.tracking.grid_split import split_grid
from fststyle.tracking.neptune_client import SYNC, api_url, resolve_mode
from fststyle.tracking.neptune_logger import NeptuneLogger
from fststyle.tracking.tracked_names import final_key, flatten, metric_key, run_tags
from fststyle.train import main

from helpers import FAKE_TOKEN, tiny_args

pytestmark = pytest.mark.usefixtures("no_neptune_env")

CONFIG = {"model": {"styles": ["/x/starry_night.jpg", "udnie"],
                    "objective": {"vgg_weights": "caffe", "style_weight": 50.0,
                                  "style_layers": {"relu1_1": 0.2}, "style_coefficients": None}},
          "data": {"image_size": 256}, "seed_everything": 2**40}


def test_flatten_tags_and_keys():
    flat = flatten(CONFIG)
    assert flat["model/objective/style_weight"] == 50.0
    assert flat["model/objective/style_layers/relu1_1"] == 0.2
    assert flat["model/styles"] == '["/x/starry_night.jpg", "udnie"]'
    assert flat["model/objective/style_coefficients"] == "null"
    assert flat["seed_everything"] == str(2**40)
    assert run_tags(CONFIG) == ["styles:starry_night+udnie", "style:starry_night", "style:udnie",
                                "vgg:caffe", "size:256"]
    assert metric_key("val/loss/udnie") == "val/loss_udnie" and metric_key("epoch") == "epoch"
    assert final_key("train/style/relu1_1") == "final/train/style_relu1_1"


def test_split_grid_cuts_sample_grid_per_style():
    photos = torch.zeros(3, 3, 8, 10)  # (P, 3, H, W): black photos, then a gray and a white style
    grid = sample_grid(photos, [torch.full_like(photos, 0.5), torch.ones_like(photos)])
    first, second = split_grid(grid, 2)
    assert first.size == second.size == (2 + 10 + 2 + 10 + 2, grid.height)
    assert first.getpixel((5, 5)) == (0, 0, 0) and second.getpixel((5, 5)) == (0, 0, 0)
    assert first.getpixel((20, 5)) == (128, 128, 128) and second.getpixel((20, 5)) == (255,) * 3
    assert split_grid(grid, 3) is None  # width does not fit 3 styles


def test_mode_resolution(monkeypatch):
    assert resolve_mode(None, None) == "offline"
    assert resolve_mode("debug", None) == "debug"
    monkeypatch.setenv("NEPTUNE_API_TOKEN", FAKE_TOKEN)
    assert resolve_mode(None, None) == "offline"  # a token but no project
    assert resolve_mode(None, "team/proj") == "async"
    monkeypatch.setenv("NEPTUNE_MODE", "offline")
    assert resolve_mode(None, "team/proj") == "offline"
    assert api_url(FAKE_TOKEN) == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="not a Neptune API token"):
        api_url("not-a-token")
    with pytest.raises(ValueError, match="must be one of"):
        resolve_mode("read-only", None)
    monkeypatch.delenv("NEPTUNE_API_TOKEN")
    with pytest.raises(ValueError, match="needs a Neptune server: set NEPTUNE_API_TOKEN"):
        resolve_mode("async", "team/proj")


def test_make_loggers(tmp_path):
    with pytest.raises(ValueError, match="--logger must be one of"):
        make_loggers("wandb", tmp_path, "r")
    csv, neptune = make_loggers("neptune", tmp_path, "r", neptune_mode="debug")
    assert isinstance(csv, CSVLogger) and Path(csv.log_dir) == tmp_path  # config.yaml goes here
    assert isinstance(neptune, NeptuneLogger)
    assert neptune.log_dir == neptune.save_dir == str(tmp_path)
    assert len(make_loggers("csv", tmp_path, "r")) == 1


def test_only_rank_zero_logs(tmp_path, monkeypatch):
    logger = NeptuneLogger(tmp_path, "r", mode="debug")
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger.log_metrics({"train/loss": 1.0}, step=0)
    logger.experiment["x"] = 1  # a no-op stand-in
    assert logger._run is None and not (tmp_path / ".neptune").exists()


def snapshot(run) -> dict:
    """Every field of a debug-mode run: values of atoms, [(step, value)] of float series, the
    type name of everything else."""
    def walk(tree, prefix=""):
        for key, node in tree.items():
            if isinstance(node, dict):
                yield from walk(node, f"{prefix}{key}/")
            else:
                yield f"{prefix}{key}", node

    fields = {}
    for path, attribute in walk(run.get_structure()):
        kind = type(attribute).__name__
        if kind in ("Float", "Integer", "String", "Boolean", "StringSet"):
            fields[path] = run[path].fetch()
        elif kind == "FloatSeries":
            values = run[path].fetch_values()  # a DataFrame, without columns when empty
            fields[path] = list(zip(values["step"], values["value"])) if len(values) else []
        else:
            fields[path] = kind
    return fields


def test_debug_mode_records_params_tags_metrics_images(tmp_path, photo_dir, style_files,
                                                       monkeypatch):
    recorded = {}
    close = NeptuneLogger.close

    def close_and_keep(self):  # a stopped run cannot be read, so read it just before
        recorded.update(snapshot(self._run))
        close(self)

    monkeypatch.setattr(NeptuneLogger, "close", close_and_keep)
    main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "dbg", "--logger",
                   "neptune", "--neptune_mode", "debug", "--trainer.max_steps", "2",
                   "--trainer.log_every_n_steps", "1"))
    assert recorded["sys/name"] == "dbg"
    assert recorded["sys/tags"] == {"styles:s1+s2", "style:s1", "style:s2", "vgg:random", "size:64"}
    assert recorded["parameters/model/objective/style_weight"] == DEFAULTS.style_weight
    assert recorded["parameters/data/image_size"] == 64
    assert recorded["parameters/trainer/max_steps"] == 2
    assert [s for s, _ in recorded["train/loss"]] == [0, 1]
    assert [s for s, _ in recorded["train/style_relu1_1"]] == [0, 1]
    assert recorded["val/samples/s1"] == recorded["val/samples/s2"] == "FileSeries"
    assert recorded["final/train/loss"] == pytest.approx(recorded["train/loss"][-1][1])
    assert recorded["artifacts/model"] == "File"
    assert recorded["environment/torch"] == torch.__version__
    assert recorded["environment/world_size"] == 1 and recorded["source/git_commit"]
    run = tmp_path / "checkpoints/dbg"  # the local record is kept too
    for name in ["config.yaml", "metrics.csv", "final_metrics.json", "samples/step_000002.png"]:
        assert (run / name).is_file(), name


def test_offline_run_writes_under_run_dir(tmp_path, photo_dir, style_files, capsys):
    model = main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "off", "--logger",
                           "neptune", "--neptune_mode", "offline", "--trainer.max_steps", "2"))
    run = model.parent
    (container,) = (run / ".neptune" / "offline").glob("run__*")
    ops = [json.loads(line)["obj"] for line in open(container / "data-1.log")]
    paths = {"/".join(op["path"]) for op in ops}
    assert {"sys/name", "parameters/model/objective/style_weight", "val/samples/s1",
            "artifacts/model"} <= paths
    copies = list((container / "upload_path").glob("artifacts_model-*.safetensors"))
    assert [c.read_bytes() for c in copies] == [model.read_bytes()]  # a copy, not a reference
    assert json.loads((run / "neptune.json").read_text())["mode"] == "offline"
    err = capsys.readouterr().err
    assert f"{SYNC} --path {run}" in err and str(run / ".neptune") in err
    assert not (tmp_path / ".neptune").exists()  # nothing in the working directory
    onnx = tmp_path / "demo.onnx"
    onnx.write_bytes(b"onnx")
    assert log_artifact_to_run(run, onnx).read_bytes() == b"onnx"  # kept in run/artifacts/
    assert "cannot take files after it ended" in capsys.readouterr().err
    main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "off", "--logger", "neptune",
                   "--neptune_mode", "offline", "--trainer.max_steps", "3", "--ckpt_path", "last"))
    assert len(list((run / ".neptune" / "offline").glob("run__*"))) == 2  # resumed: a new record


def test_without_neptune_trains_with_csv_and_says_so(tmp_path, photo_dir, style_files, capsys,
                                                     monkeypatch):
    monkeypatch.setitem(sys.modules, "neptune", None)  # `import neptune` raises ImportError
    with pytest.raises(ValueError, match="--logger neptune: the neptune package"):
        make_loggers("neptune", tmp_path, "r")
    loggers = []
    monkeypatch.setattr(fststyle.training.trainer, "make_loggers",
                        lambda *a, **k: loggers.extend(make_loggers(*a, **k)) or loggers)
    main(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "nonep",
                   "--trainer.max_steps", "2", "--trainer.log_every_n_steps", "1"))
    err = capsys.readouterr().err.replace(str(tmp_path), "TMP")  # the folder's name has "neptune"
    said = [line for line in err.splitlines() if "neptune" in line.lower()]
    assert len(said) == 1 and "logs to CSV only" in said[0]
    assert [type(lg) for lg in loggers] == [RunCSVLogger]
    assert (tmp_path / "checkpoints/nonep/metrics.csv").is_file()
