"""Put a trained network into the package as a shipped model (fststyle.runtime.shipped), with
the low-resolution reference outputs that guard it in tests/test_shipped.py.

    python scripts/ship_model.py checkpoints/zoo-strength/model.safetensors
    python scripts/ship_model.py checkpoints/zoo-strength/model.safetensors --references-only
    python scripts/ship_model.py checkpoints/zoo-realtime/model.safetensors --student --int8

Writes fststyle/models/zoo.safetensors (fp16 weights); fststyle/models/zoo.onnx (its export,
fp16 weights and fp32 compute, checked against PyTorch by fststyle.export);
fststyle/models/zoo_training_data.tsv (the MANIFEST rows of its paintings and photos);
tests/data/shipped/<style>.png (each style on a held-out photo at REFERENCE_SIZE px, through
the torch-free runtime) and docs/zoo_grid.jpg (the README's picture). --student: the
real-time student instead, fststyle/models/zoo-realtime.onnx only (fp16 weights and fp32
compute, or with --int8 int8 convolutions, whichever scripts/bench_inference.py found faster),
its references in tests/data/shipped/student/. The model card
(fststyle/models/MODEL_CARD.md) is written by hand from the run's record and its
fststyle.evaluate report.
"""

import argparse
import csv
import tempfile
from pathlib import Path

from fststyle import export
from fststyle.core.model_io import save_half_copy
from fststyle.runtime import Stylizer
from fststyle.runtime.imagefiles import demo_photos, file_digest, open_rgb, save_image
from fststyle.runtime.shipped import MODELS, SHIPPED

ROOT = Path(__file__).parents[1]
REFERENCES = ROOT / "tests" / "data" / "shipped"
REFERENCE_PHOTO = "skimage_chelsea.png"  # held out: never a training photo
REFERENCE_SIZE = 96  # long side: a few kB per style, still every style's colours and strokes


def reference_photo():
    return open_rgb(next(p for p in demo_photos("heldout") if p.name == REFERENCE_PHOTO))


def references(kind: str) -> Path:
    """Where the stored reference outputs of a shipped model kind (full | student) are."""
    return REFERENCES / "student" if kind == "student" else REFERENCES


def write_references(onnx_path: Path, folder: Path) -> None:
    stylizer = Stylizer(onnx_path)
    photo = reference_photo()
    folder.mkdir(parents=True, exist_ok=True)
    for style in stylizer.styles:
        out = stylizer.stylize(photo, style=style, max_size=REFERENCE_SIZE)
        save_image(out, folder / f"{style}.png")
    print(f"wrote {len(stylizer.styles)} reference outputs to {folder}")


def write_grid(onnx_path: Path, out: Path, cell: int = 160) -> None:
    """The README's picture: held-out photos (rows), the photo then every painted style."""
    from PIL import Image

    stylizer = Stylizer(onnx_path)
    styles = [s for s in stylizer.styles if s != "identity"]
    photos = [open_rgb(p, cell) for p in demo_photos("heldout")[:3]]
    grid = Image.new("RGB", (cell * (1 + len(styles)), cell * len(photos)), "white")
    for row, photo in enumerate(photos):
        square = photo.crop(((photo.width - cell) // 2, (photo.height - cell) // 2,
                             (photo.width + cell) // 2, (photo.height + cell) // 2))
        grid.paste(square, (0, row * cell))
        for col, style in enumerate(styles, 1):
            grid.paste(stylizer.stylize(square, style=style), (col * cell, row * cell))
    save_image(grid, out, jpeg_quality=85)
    print(f"wrote {out}: rows {[p.name for p in demo_photos('heldout')[:3]]}, columns {styles}")


def write_data_rows(data: Path, out: Path) -> None:
    """The MANIFEST rows (source, licence) of what the network was trained on: every painting
    and every photo of `data` but the bundled held-out ones (left out by their bytes, as the
    data module does)."""
    heldout = {file_digest(p) for p in demo_photos("heldout")}
    with open(data / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    kept = [r for r in rows if r["relative_path"].startswith("style/")
            or file_digest(data / r["relative_path"]) not in heldout]
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    print(f"wrote {len(kept)} of {len(rows)} MANIFEST rows to {out}")


def ship_student(model: Path, int8: bool) -> Path:
    """Export the student into the package: int8 from its fp32 weights, else fp16 weights."""
    onnx_file = MODELS / SHIPPED["student"]
    if int8:
        export.main([str(model), "--int8", "--out", str(onnx_file)])
        return onnx_file
    with tempfile.TemporaryDirectory() as tmp:
        half = Path(tmp) / "student.safetensors"
        save_half_copy(model, half)
        export.main([str(half), "--fp16-weights", "--out", str(onnx_file)])
    return onnx_file


def ship_full(model: Path, data: Path) -> Path:
    torch_file, onnx_file = MODELS / SHIPPED["torch"], MODELS / SHIPPED["full"]
    save_half_copy(model, torch_file)
    # Exported from the fp16 file: the ONNX weights are exactly the shipped ones.
    export.main([str(torch_file), "--fp16-weights", "--out", str(onnx_file)])
    write_data_rows(data, MODELS / "zoo_training_data.tsv")
    return onnx_file


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", type=Path, help="the run's model.safetensors")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                   help="the training data folder with its MANIFEST.tsv")
    p.add_argument("--references-only", action="store_true",
                   help="only rewrite the stored reference outputs from the shipped .onnx")
    p.add_argument("--student", action="store_true",
                   help="the model is the real-time student (zoo-realtime.onnx)")
    p.add_argument("--int8", action="store_true", help="--student: int8 convolutions")
    args = p.parse_args(argv)
    kind = "student" if args.student else "full"
    onnx_file = MODELS / SHIPPED[kind]
    if not args.references_only:
        MODELS.mkdir(exist_ok=True)
        if args.student:
            ship_student(args.model, args.int8)
        else:
            ship_full(args.model, args.data)
    write_references(onnx_file, references(kind))
    if not args.student:
        write_grid(onnx_file, ROOT / "docs" / "zoo_grid.jpg")


if __name__ == "__main__":
    main()
