"""Content sources: bundled demo, image folders, and `datasets` sources (local Parquet here;
a hub id goes through the same `datasets.load_dataset` call)."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from fststyle.runtime.imagefiles import demo_photos
from fststyle.training.data import ContentDataModule


def batches(dm: ContentDataModule, n: int = 1) -> list[torch.Tensor]:
    dm.setup("fit")
    it = iter(dm.train_dataloader())
    return [next(it)["image"] for _ in range(n)]


def test_demo_source_is_bundled_and_held_out_photos_are_separate():
    train, held = set(demo_photos("train")), set(demo_photos("heldout"))
    assert len(train) >= 20 and len(held) >= 4 and not train & held
    dm = ContentDataModule(image_size=32, batch_size=4, num_workers=0)
    (b,) = batches(dm)
    assert b.shape == (4, 3, 32, 32) and 0 <= b.min() and b.max() <= 1
    assert set(dm.val_files) <= held


def test_folder_source_reads_recursively_and_converts_modes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    Image.new("L", (50, 40), 128).save(tmp_path / "gray.png")
    Image.new("RGBA", (40, 60), (255, 0, 0, 128)).save(tmp_path / "a" / "rgba.png")
    Image.new("P", (45, 45)).save(tmp_path / "a" / "b" / "palette.png")
    Image.new("CMYK", (64, 48), (0, 255, 0, 0)).save(tmp_path / "a" / "cmyk.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    dm = ContentDataModule(source=str(tmp_path), image_size=24, batch_size=4, num_workers=0)
    (b,) = batches(dm)
    assert b.shape == (4, 3, 24, 24)
    assert len(dm.train_set) == 4  # the .txt file is not an image


def test_a_folder_holding_the_held_out_photos_trains_without_them(tmp_path):
    import shutil

    held = demo_photos("heldout")
    for photo in [*demo_photos("train")[:3], *held]:
        shutil.copy(photo, tmp_path / f"copy_{photo.name}")  # renamed: matched by bytes
    dm = ContentDataModule(source=str(tmp_path), image_size=24, batch_size=2, num_workers=0)
    with pytest.warns(UserWarning, match=f"left out {len(held)} held-out photo"):
        dm.setup("fit")
    assert sorted(f.name for f in dm.train_set.files) == sorted(
        f"copy_{p.name}" for p in demo_photos("train")[:3])


def _parquet_dataset(tmp_path, n: int = 6):
    import datasets

    def png(i):
        buf = io.BytesIO()
        Image.fromarray(np.full((40 + i, 50, 3), i * 30, np.uint8)).save(buf, "PNG")
        return {"bytes": buf.getvalue(), "path": None}

    features = datasets.Features({"picture": datasets.Image(), "id": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"picture": [png(i) for i in range(n)], "id": list(range(n))},
                                    features=features)
    (tmp_path / "data").mkdir()
    ds.to_parquet(str(tmp_path / "data" / "train-00000-of-00001.parquet"))
    return tmp_path


@pytest.mark.parametrize("streaming", [False, True])
def test_datasets_source_with_image_column(tmp_path, streaming):
    root = _parquet_dataset(tmp_path)
    dm = ContentDataModule(source=str(root), image_column="picture", streaming=streaming,
                           image_size=32, batch_size=3, num_workers=0)
    b1, b2 = batches(dm, 2)
    assert b1.shape == b2.shape == (3, 3, 32, 32)
    values = sorted(round(v * 255 / 30) for v in torch.cat([b1, b2]).mean(dim=(1, 2, 3)).tolist())
    assert values == [0, 1, 2, 3, 4, 5]  # every image once per epoch


def test_datasets_source_wrong_column_names_it(tmp_path):
    root = _parquet_dataset(tmp_path)
    dm = ContentDataModule(source=str(root), image_column="img", num_workers=0)
    with pytest.raises(ValueError, match="--data.image_column: 'img'.*picture"):
        dm.setup("fit")


def test_hub_id_goes_to_datasets_with_split_and_streaming(monkeypatch):
    import datasets

    calls = []
    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, **k: calls.append((a, k)) or (_ for _ in ()).throw(
                            ConnectionError("offline")))
    dm = ContentDataModule(source="detection-datasets/coco", split="val", streaming=True)
    with pytest.raises(ValueError, match="could not load 'detection-datasets/coco'"):
        dm.setup("fit")
    assert calls == [(("detection-datasets/coco",), {"split": "val", "streaming": True})]


@pytest.mark.parametrize("kw, match", [
    ({"image_size": 8}, "--data.image_size"), ({"batch_size": 0}, "--data.batch_size"),
    ({"val_source": "/nonexistent"}, "--data.val_source"),
])
def test_bad_data_options(kw, match):
    with pytest.raises(ValueError, match=match):
        ContentDataModule(**kw)
