"""The MLflow tracker: a tiny run against a real `mlflow server` read back through its client,
export --run and evaluate --run attaching their files, an unreachable server (127.0.0.1:9)
falling back to the local store, a resumed run continuing its MLflow run, and the one-line error
without mlflow. Nothing beyond 127.0.0.1 is contacted."""

import json
import sys

import pytest
from mlflow import MlflowClient
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from fststyle import evaluate, export
from fststyle.tracking.mlflow_client import artifact_dir, local_store, mlflow_tags, resolve_uri
from fststyle.tracking.mlflow_logger import MLflowLogger
from fststyle.train import cli

from helpers import tiny_args

DOWN = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused
SMALL = ["--model.alpha", "0.5", "--model.num_residual_blocks", "1"]  # quicker to export
CONFIG = {"model": {"styles": ["/x/starry_night.jpg", "udnie"],
                    "objective": {"vgg_weights": "caffe"}},
          "data": {"image_size": 256}}


def read_run(uri: str, run_dir) -> tuple[MlflowClient, object]:
    """The client on `uri` and the MLflow run that `run_dir`'s mlflow.json names."""
    info = json.loads((run_dir / "mlflow.json").read_text())
    assert info["tracking_uri"] == uri
    client = MlflowClient(uri)
    return client, client.get_run(info["run_id"])


def steps(client, run, key: str) -> list[int]:
    return [m.step for m in client.get_metric_history(run.info.run_id, key)]


def artifacts(client, run, folder: str | None = None) -> set[str]:
    """Every artifact path of the run, recursively."""
    found = set()
    for item in client.list_artifacts(run.info.run_id, folder):
        found |= artifacts(client, run, item.path) if item.is_dir else {item.path}
    return found


def test_tags_artifact_folders_and_where_runs_log(tmp_path, no_tracking_env, monkeypatch):
    assert mlflow_tags(CONFIG) == {"styles": "starry_night+udnie", "style:starry_night": "true",
                                   "style:udnie": "true", "vgg": "caffe", "size": "256"}
    assert artifact_dir("model") is None and artifact_dir("evaluation/report_json") == "evaluation"
    store = f"sqlite:///{tmp_path / 'checkpoints' / 'mlflow.db'}"
    assert local_store(tmp_path / "checkpoints") == store
    assert resolve_uri(None, tmp_path / "checkpoints") == (store, False)
    assert resolve_uri("http://h:5000", tmp_path) == ("http://h:5000", True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://team")
    assert resolve_uri(None, tmp_path) == ("https://team", True)
    assert resolve_uri("sqlite:///x.db", tmp_path) == ("sqlite:///x.db", False)


def test_only_rank_zero_logs(tmp_path, no_tracking_env, monkeypatch):
    logger = MLflowLogger(tmp_path / "checkpoints" / "r", "r")
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger.log_metrics({"train/loss": 1.0}, step=0)
    assert logger.run_id is None and not (tmp_path / "checkpoints").exists()


def test_run_on_a_server_with_export_and_evaluation(tmp_path, photo_dir, style_files,
                                                    mlflow_server, no_tracking_env):
    model = cli(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "srv", "--logger",
                          "mlflow", "--mlflow_uri", mlflow_server, "--trainer.max_steps", "2",
                          "--trainer.log_every_n_steps", "1", *SMALL))
    run_dir = model.parent
    client, run = read_run(mlflow_server, run_dir)
    assert run.info.run_name == "srv" and run.info.status == "FINISHED"
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    assert params["data/image_size"] == "64" and params["trainer/max_steps"] == "2"
    assert params["model/styles"] == json.dumps([str(f) for f in style_files])
    assert tags["styles"] == "s1+s2" and tags["vgg"] == "random" and tags["size"] == "64"
    assert tags["source/git_commit"] and tags["environment/world_size"] == "1"
    assert steps(client, run, "train/loss") == [0, 1]
    assert steps(client, run, "train/style_relu1_1") == [0, 1]  # renamed as in Neptune
    assert metrics["final/train/loss"] == pytest.approx(metrics["train/loss"])
    found = artifacts(client, run)
    assert {"val~samples~s1", "val~samples~s2"} <= {p.split("/")[1].split("+")[0]
                                                    for p in found if p.startswith("images/")}
    copy = client.download_artifacts(run.info.run_id, "model.safetensors", str(tmp_path))
    assert open(copy, "rb").read() == model.read_bytes()
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "checkpoints/mlflow.db").exists()

    onnx = export.main([str(model), "--out", str(tmp_path / "srv.onnx"), "--run", str(run_dir)])
    evaluate.main(["--model", str(model), "--content", str(photo_dir), "--size", "32",
                   "--teacher-steps", "1", "--max-images", "1", "--styles", "s1",
                   "--out", str(tmp_path / "eval"), "--run", str(run_dir)])
    found = artifacts(client, run)
    assert {"srv.onnx", "evaluation/report.json", "evaluation/report.md"} <= found
    assert (run_dir / "artifacts" / onnx.name).read_bytes() == onnx.read_bytes()


def test_unreachable_server_logs_locally_and_a_resume_continues(tmp_path, photo_dir,
                                                                style_files, capsys,
                                                                no_tracking_env, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", DOWN)
    args = tiny_args(photo_dir, style_files, tmp_path, "--run_name", "down", "--logger",
                     "mlflow", "--trainer.log_every_n_steps", "1")
    model = cli([*args, "--trainer.max_steps", "2"])
    said = [line for line in capsys.readouterr().err.splitlines() if DOWN in line]
    assert len(said) == 1 and "logs to the local store" in said[0]
    store = local_store(tmp_path / "checkpoints")
    client, run = read_run(store, model.parent)
    assert run.info.status == "FINISHED" and steps(client, run, "train/loss") == [0, 1]
    assert "model.safetensors" in artifacts(client, run)
    assert str(tmp_path / "checkpoints" / "mlartifacts") in run.info.artifact_uri

    cli([*args, "--trainer.max_steps", "3", "--ckpt_path", "last"])
    client, again = read_run(store, model.parent)
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert steps(client, again, "train/loss") == [0, 1, 2]
    assert again.data.params["trainer/max_steps"] == "2"  # params are write-once in MLflow
    assert again.data.tags["resumed/trainer/max_steps"] == "3"


def test_without_mlflow_one_line_error(tmp_path, photo_dir, style_files, capsys,
                                       no_tracking_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    with pytest.raises(SystemExit) as exit_:
        cli(tiny_args(photo_dir, style_files, tmp_path, "--run_name", "nomlf", "--logger",
                      "mlflow"))
    assert exit_.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == ["fststyle.train: error: --logger mlflow: the mlflow package is not "
                      "installed; pip install 'fststyle[mlflow]', or use --logger csv"]
    assert not (tmp_path / "checkpoints" / "nomlf" / "model.safetensors").exists()
