"""Content photos for training: the bundled demo set, a local folder, or a Hugging Face
`datasets` source (hub id or local dataset folder, streaming or not).

Every sample is resized (shorter side) and randomly cropped to `image_size`; any image mode
becomes RGB. A fixed set of held-out photos feeds the validation sample grids.
"""

import io
import os
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset
from torchvision.transforms import v2
from typing_extensions import override

from fststyle.core.images import load_image
from fststyle.runtime.imagefiles import demo_photos, file_digest, list_images

DEMO = "demo"
MAX_TRIES = 16  # consecutive unreadable images before a sample gives up


class Crops:
    """Decode -> RGB -> resize the shorter side to the crop size -> random crop.

    Resizing first means every crop sees most of the photo; small photos are upscaled.
    An unreadable image raises ValueError naming it (see runtime.imagefiles.open_rgb).
    """

    def __init__(self, image_size: int):
        self.image_size = image_size
        self.crop = v2.RandomCrop(image_size)

    def __call__(self, source) -> torch.Tensor:
        return self.crop(load_image(source, self.image_size, draft=True))  # (3, S, S)


class SkippingDataset(Dataset):
    """Map-style source that skips unreadable images: a bad sample is replaced by the next
    readable one, and its name travels with the batch so training can count it."""

    def __init__(self, image_size: int):
        self.crops = Crops(image_size)

    def load(self, i: int):  # -> (path or file object, name)
        raise NotImplementedError

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[str], str]:
        skipped = []
        for attempt in range(MAX_TRIES):
            source, name = self.load((i + attempt) % len(self))
            try:
                return self.crops(source), skipped, name
            except ValueError as e:
                skipped.append(f"{name}: {e}")
        raise RuntimeError(f"{MAX_TRIES} unreadable images in a row; first: {skipped[0]}")


class ImageFiles(SkippingDataset):
    """Images from a list of files."""

    def __init__(self, files: list[Path], image_size: int):
        super().__init__(image_size)
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int):
        return self.files[i], str(self.files[i])


def _encoded(example: dict, column: str, index) -> tuple[io.BytesIO | str, str]:
    value = example[column]  # {"bytes": ..., "path": ...}: the column is cast to decode=False
    name = value.get("path") or f"{column}[{index}]"
    return (io.BytesIO(value["bytes"]) if value.get("bytes") else value["path"]), name


class HFImages(SkippingDataset):
    """A map-style `datasets` dataset with an image column (decoded here, not by datasets,
    so that a bad image is skipped like a bad file)."""

    def __init__(self, dataset, image_column: str, image_size: int):
        super().__init__(image_size)
        self.dataset, self.column = dataset, image_column

    def __len__(self) -> int:
        return len(self.dataset)

    def load(self, i: int):
        return _encoded(self.dataset[i], self.column, i)


class HFStream(IterableDataset):
    """A streaming `datasets` dataset; each DataLoader worker reads its own shards."""

    def __init__(self, dataset, image_column: str, image_size: int):
        self.dataset, self.column = dataset, image_column
        self.crops = Crops(image_size)

    def __iter__(self):
        skipped = []
        for i, example in enumerate(self.dataset):  # datasets splits shards across workers
            source, name = _encoded(example, self.column, i)
            try:
                image = self.crops(source)
            except ValueError as e:
                skipped.append(f"{name}: {e}")
                continue
            yield image, skipped, name
            skipped = []


def collate(samples: list[tuple[torch.Tensor, list[str], str]]) -> dict:
    """-> {"image": (B, 3, S, S), "skipped": names of the unreadable images replaced,
    "ids": the name of each image (its path, or `column[index]` where the source has none)}."""
    return {"image": torch.stack([s[0] for s in samples]),
            "skipped": [name for s in samples for name in s[1]],
            "ids": [s[2] for s in samples]}


class HeldOut(Dataset):
    """Fixed validation photos: shorter side resized, centre-cropped square (batchable)."""

    def __init__(self, files: list[Path], size: int):
        self.files = files
        self.transform = v2.CenterCrop(size)
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(load_image(self.files[i], self.size))


class ContentDataModule(pl.LightningDataModule):
    """Content photos.

    Args:
        source: `demo` (bundled photos), a folder of images (read recursively), a local
            `datasets` folder (e.g. Parquet shards), or a hub dataset id such as
            `detection-datasets/coco`.
        image_size: training crop size in pixels.
        batch_size: images per step per device.
        num_workers: DataLoader workers; None picks min(8, CPUs - 1).
        streaming: stream a `datasets` source instead of downloading it whole first.
        split: `datasets` split to train on.
        image_column: `datasets` column holding the images.
        val_source: folder of held-out photos for the sample grids (`demo`: bundled ones).
        num_val_images: how many held-out photos the grids show.
        val_size: held-out photos are resized and centre-cropped to this size.
        max_bad_fraction: stop with an error when more than this fraction of the images read
            so far were unreadable (they are skipped and counted below it).
        record_ids: append the id of every training image each rank reads to
            `<run>/content_ids/rank<R>.txt` (one per line), to check the sharding across ranks.
    """

    def __init__(self, source: str = DEMO, image_size: int = 128, batch_size: int = 8,
                 num_workers: int | None = None, streaming: bool = False,
                 split: str = "train", image_column: str = "image",
                 val_source: str = DEMO, num_val_images: int = 4, val_size: int = 256,
                 max_bad_fraction: float = 0.05, record_ids: bool = False):
        super().__init__()
        if image_size < 16:
            raise ValueError(f"--data.image_size must be >= 16, got {image_size}")
        if batch_size < 1:
            raise ValueError(f"--data.batch_size must be >= 1, got {batch_size}")
        if not 0 <= max_bad_fraction <= 1:
            raise ValueError(f"--data.max_bad_fraction must be in [0, 1], got {max_bad_fraction}")
        self.save_hyperparameters()
        self.max_bad_fraction, self.record_ids = max_bad_fraction, record_ids
        self.source, self.image_size, self.batch_size = source, image_size, batch_size
        self.num_workers = (min(8, (os.cpu_count() or 1) - 1) if num_workers is None
                            else num_workers)
        self.streaming, self.split, self.image_column = streaming, split, image_column
        self.heldout_files = demo_photos("heldout") if val_source == DEMO else list_images(
            val_source)
        self.val_files = self._val_files(val_source, num_val_images)
        self.val_size = val_size
        self.train_set = None

    @staticmethod
    def _val_files(val_source: str, count: int) -> list[Path]:
        files = demo_photos("heldout") if val_source == DEMO else list_images(val_source)
        if not files:
            raise ValueError(f"--data.val_source: no images in {val_source!r}")
        return files[:count]

    def setup(self, stage: str) -> None:
        if self.train_set is None and stage == "fit":
            self.train_set = self._train_set()

    def _train_set(self) -> Dataset | IterableDataset:
        if self.source == DEMO:
            return ImageFiles(demo_photos("train"), self.image_size)
        path = Path(self.source).expanduser()
        if path.is_dir():
            files = self._without_heldout(list_images(path))
            if files:
                return ImageFiles(files, self.image_size)
        elif path.exists():
            raise ValueError(f"--data.source: {path} is a file, expected a folder or a dataset id")
        return self._hf_set(str(path) if path.is_dir() else self.source)

    def _without_heldout(self, files: list[Path]) -> list[Path]:
        """`files` less any whose bytes are a held-out photo's (a folder such as the project's
        shared photos holds the held-out ones too): held-out photos never train."""
        heldout = {file_digest(f) for f in self.heldout_files}
        kept = [f for f in files if file_digest(f) not in heldout]
        if len(kept) < len(files):
            warnings.warn(f"--data.source {self.source}: left out {len(files) - len(kept)} "
                          "held-out photo(s) (the same bytes as --data.val_source's)")
        return kept

    def _hf_set(self, source: str) -> Dataset | IterableDataset:
        import datasets

        try:
            ds = datasets.load_dataset(source, split=self.split, streaming=self.streaming)
        except Exception as e:
            raise ValueError(f"--data.source: could not load {source!r} with datasets "
                             f"(no images found there either): {e}") from e
        if self.image_column not in (ds.column_names or [self.image_column]):
            raise ValueError(f"--data.image_column: {self.image_column!r} is not a column of "
                             f"{source!r} (columns: {ds.column_names})")
        if not isinstance((ds.features or {}).get(self.image_column), datasets.Image):
            raise ValueError(f"--data.image_column: {self.image_column!r} of {source!r} is not "
                             "an image column")
        ds = ds.cast_column(self.image_column, datasets.Image(decode=False))
        if self.streaming:
            ds = self._shard_for_rank(ds)
            return HFStream(ds.shuffle(seed=0, buffer_size=1000), self.image_column,
                            self.image_size)
        return HFImages(ds, self.image_column, self.image_size)

    def _shard_for_rank(self, ds):
        """Streaming + DDP: each rank reads its own part (map-style uses Lightning's sampler)."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return ds
        from datasets.distributed import split_dataset_by_node

        readers = trainer.world_size * max(1, self.num_workers)
        if ds.num_shards % trainer.world_size or ds.num_shards < readers:
            # split_dataset_by_node then hands whole shards to too few readers, or makes every
            # rank read every shard and keep 1 example in world_size.
            warnings.warn(f"--data.source {self.source!r} has {ds.num_shards} shards for "
                          f"{trainer.world_size} ranks x {max(1, self.num_workers)} workers: "
                          "every rank reads every shard, or some workers stay idle; use a source "
                          "with a multiple of ranks x workers shards")
        return split_dataset_by_node(ds, rank=trainer.global_rank, world_size=trainer.world_size)

    def train_dataloader(self) -> DataLoader:
        iterable = isinstance(self.train_set, IterableDataset)
        if not iterable and len(self.train_set) == 0:
            raise ValueError(f"--data.source: no training images in {self.source!r}")
        return DataLoader(
            self.train_set, batch_size=self.batch_size, shuffle=not iterable, drop_last=True,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(), collate_fn=collate)

    @override
    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        if self.record_ids and self.trainer.training and isinstance(batch, dict):
            path = (Path(self.trainer.default_root_dir) / "content_ids" /
                    f"rank{self.trainer.global_rank}.txt")
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as f:
                f.writelines(f"{i}\n" for i in batch["ids"])
        return batch

    def val_dataloader(self) -> DataLoader:
        return DataLoader(HeldOut(self.val_files, self.val_size), batch_size=len(self.val_files))
