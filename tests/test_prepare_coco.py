"""scripts/prepare_coco.py: a pre-resized Parquet copy that the data module reads back."""

import shutil

import pytest

from fststyle.training.data import ContentDataModule

from helpers import load_script


@pytest.fixture(scope="module")
def prepare():
    return load_script("prepare_coco")


def test_shards_are_resized_counted_and_trainable(tmp_path, photo_dir, prepare, capsys):
    source = tmp_path / "src"
    shutil.copytree(photo_dir, source)
    (source / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    out = tmp_path / "shards"
    assert prepare.main(["--source", str(source), "--out", str(out), "--shard-size", "4",
                         "--shorter-side", "80", "--split", "train",
                         "--image-column", "image"]) == 0
    printed = capsys.readouterr().out
    assert "6 images in 2 shards" in printed and "1 unreadable skipped" in printed
    assert sorted(p.name for p in out.iterdir()) == ["train-00000.parquet", "train-00001.parquet"]
    for streaming in (False, True):
        dm = ContentDataModule(source=str(out), image_size=48, batch_size=3, num_workers=0,
                               streaming=streaming)
        dm.setup("fit")
        batch = next(iter(dm.train_dataloader()))
        assert batch["image"].shape == (3, 3, 48, 48)
    import datasets

    ds = datasets.load_dataset(str(out), split="train")
    assert len(ds) == 6 and min(ds[0]["image"].size) == 80


def test_limit_stops_early(tmp_path, photo_dir, prepare):
    out = tmp_path / "shards"
    prepare.main(["--source", str(photo_dir), "--out", str(out), "--limit", "2"])
    import datasets

    assert len(datasets.load_dataset(str(out), split="train")) == 2
