"""Distributed training on CPU (gloo, localhost only): DDP on one machine (rank 0 alone logging
one MLflow run), two "nodes", and the streaming source split across ranks."""

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mlflow import MlflowClient
from PIL import Image
from pytorch_lightning import Callback

import fststyle
from fststyle.tracking.mlflow_client import local_store
from fststyle.training.data import ContentDataModule

from helpers import tiny_args

TESTS = Path(__file__).parent
DDP_ARGS = ["--trainer.accelerator", "cpu", "--trainer.strategy", "ddp",
            "--trainer.precision", "32-true", "--logger", "csv"]


class SaveNetState(Callback):
    """Test-only: every rank saves the network it holds at the end of training."""

    def on_train_end(self, trainer, pl_module) -> None:
        torch.save(pl_module.net.state_dict(),
                   Path(trainer.default_root_dir) / f"net_rank{trainer.global_rank}.pt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without launcher variables, so Lightning sees a plain localhost."""
    launcher = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "MASTER_ADDR",
                "MASTER_PORT", "FSTSTYLE_RUN_NAME")
    env = {k: v for k, v in os.environ.items()
           if k not in launcher and not k.startswith(("SLURM_", "TORCHELASTIC_"))}
    path = os.pathsep.join(p for p in (str(TESTS), env.get("PYTHONPATH")) if p)
    return {**env, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), **extra}


def train_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "fststyle.train", *args]


def test_ddp_two_ranks_read_different_photos_and_write_one_run(tmp_path, photo_dir, style_files):
    args = tiny_args(photo_dir, style_files, tmp_path, *DDP_ARGS, "--trainer.devices", "2",
                     "--trainer.max_steps", "4", "--trainer.val_check_interval", "2",
                     "--checkpoint_every_n_steps", "2", "--data.record_ids", "true",
                     "--trainer.callbacks+=test_ddp.SaveNetState", "--logger", "mlflow")
    res = subprocess.run(train_cmd(*args), cwd=tmp_path, env=clean_env(), timeout=300,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    store = {"mlflow.db", "mlartifacts"}  # the local MLflow store beside the run folders
    # one run folder: rank 1 used rank 0's name
    (run,) = [p for p in (tmp_path / "checkpoints").iterdir() if p.name not in store]
    assert sorted(p.name for p in run.glob("*.ckpt")) == ["last.ckpt", "step_000002.ckpt",
                                                              "step_000004.ckpt"]
    assert len(list(tmp_path.rglob("metrics.csv"))) == 1 and (run / "config.yaml").is_file()
    (tracked,) = MlflowClient(local_store(run.parent)).search_runs(  # one MLflow run, rank 0's
        [json.loads((run / "mlflow.json").read_text())["experiment_id"]])
    assert tracked.info.status == "FINISHED" and tracked.data.tags["environment/world_size"] == "2"
    assert "final/train/loss" in tracked.data.metrics
    assert not list(tmp_path.rglob("lightning_logs"))
    assert torch.load(run / "last.ckpt", weights_only=True)["global_step"] == 4
    grid = Image.open(run / "samples" / "step_000002.png")  # all 4 held-out photos, not a share
    assert grid.size == (3 * 64 + 4 * 2, 4 * 64 + 5 * 2)

    ids = [(run / "content_ids" / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert len(ids[0]) == len(ids[1]) == 4 * 2  # 4 steps x batch 2 on each rank
    for step in range(4):  # within each step (here: each epoch) the ranks read disjoint photos
        assert not set(ids[0][2 * step:2 * step + 2]) & set(ids[1][2 * step:2 * step + 2])

    saved = fststyle.load_model(run / "model.safetensors").state_dict()
    for rank in (0, 1):
        held = torch.load(run / f"net_rank{rank}.pt", weights_only=True)
        assert held.keys() == saved.keys()
        assert all(torch.equal(held[k], saved[k]) for k in saved), f"rank {rank} differs"


def test_two_nodes_on_localhost_finish(tmp_path, photo_dir, style_files):
    """What srun starts on two nodes: one process per node, NODE_RANK telling them apart."""
    args = tiny_args(photo_dir, style_files, tmp_path, *DDP_ARGS, "--trainer.num_nodes", "2",
                     "--trainer.devices", "1", "--trainer.max_steps", "2", "--run_name", "nodes")
    env = clean_env(WORLD_SIZE="2")
    procs = [subprocess.Popen(train_cmd(*args), cwd=tmp_path, env={**env, "NODE_RANK": str(r)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for r in (0, 1)]
    try:
        errors = [p.communicate(timeout=300)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    run = tmp_path / "checkpoints" / "nodes"
    assert fststyle.load_model(run / "model.safetensors").metadata["global_step"] == 2
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["nodes"]


def _sharded_parquet(root: Path, shards: int, per_shard: int = 4) -> Path:
    """A local `datasets` folder of `shards` Parquet files of tiny PNGs named img<id>.png."""
    import datasets

    def png(i):
        buf = io.BytesIO()
        Image.fromarray(np.full((20, 24, 3), i * 10 % 256, np.uint8)).save(buf, "PNG")
        return {"bytes": buf.getvalue(), "path": f"img{i}.png"}

    features = datasets.Features({"picture": datasets.Image(), "id": datasets.Value("int64")})
    (root / "data").mkdir(parents=True)
    for s in range(shards):
        ids = range(s * per_shard, (s + 1) * per_shard)
        ds = datasets.Dataset.from_dict({"picture": [png(i) for i in ids], "id": list(ids)},
                                        features=features)
        ds.to_parquet(str(root / "data" / f"train-{s:05d}-of-{shards:05d}.parquet"))
    return root


def _rank_ids(source: Path, rank: int, world_size: int, num_workers: int = 0) -> list[str]:
    dm = ContentDataModule(source=str(source), image_column="picture", streaming=True,
                           image_size=16, batch_size=2, num_workers=num_workers)
    dm.trainer = SimpleNamespace(world_size=world_size, global_rank=rank)  # what DDP sets
    dm.setup("fit")
    return [i for batch in dm.train_dataloader() for i in batch["ids"]]


def test_streaming_source_is_split_across_ranks(tmp_path):
    source = _sharded_parquet(tmp_path, shards=4)
    ids = [_rank_ids(source, rank, 2) for rank in (0, 1)]
    assert len(ids[0]) == len(ids[1]) == 8  # 2 shards x 4 images each
    assert not set(ids[0]) & set(ids[1])
    assert set(ids[0]) | set(ids[1]) == {f"img{i}.png" for i in range(16)}


def test_streaming_source_with_too_few_shards_warns(tmp_path):
    source = _sharded_parquet(tmp_path, shards=2)
    with pytest.warns(UserWarning, match="2 shards for 2 ranks x 2 workers"):
        dm = ContentDataModule(source=str(source), image_column="picture", streaming=True,
                               image_size=16, num_workers=2)
        dm.trainer = SimpleNamespace(world_size=2, global_rank=0)
        dm.setup("fit")
