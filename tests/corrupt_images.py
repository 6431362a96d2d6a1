"""A corruption fixture set: every kind of odd image a real photo folder contains, generated
here (nothing downloaded). `make_fixture_set(dir)` returns {kind: (path, readable)}."""

from pathlib import Path

import numpy as np
from PIL import Image


def _photo(w: int = 96, h: int = 72, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h // 8, w // 8, 3), np.uint8)).resize((w, h))


def _exif_rotated(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    _photo(80, 40).save(path, exif=exif)


def _truncated(path: Path) -> None:
    _photo(200, 150).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _bomb(path: Path) -> None:
    # 9500^2 = 90.25 Mpx > Pillow's 89.48 Mpx limit; 1-bit zeros compress to a few KB.
    Image.new("1", (9500, 9500)).save(path)


def make_fixture_set(folder: Path) -> dict[str, tuple[Path, bool]]:
    folder.mkdir(parents=True, exist_ok=True)
    makers = {
        "zero_byte.jpg": (lambda p: p.write_bytes(b""), False),
        "truncated.jpg": (_truncated, False),
        "not_an_image.jpg": (lambda p: p.write_text("<html>404 not found</html>"), False),
        "bomb.png": (_bomb, False),
        "cmyk.jpg": (lambda p: _photo().convert("CMYK").save(p), True),
        "palette.png": (lambda p: _photo().convert("P").save(p), True),
        "rgba.png": (lambda p: _photo().convert("RGBA").save(p), True),
        "gray16.png": (lambda p: Image.fromarray(
            (np.arange(64 * 48).reshape(48, 64) * 21).astype(np.uint16)).save(p), True),
        "gray.jpg": (lambda p: _photo().convert("L").save(p), True),
        "exif_rotated.jpg": (_exif_rotated, True),
        "tiny.png": (lambda p: _photo(8, 6).save(p), True),
    }
    out = {}
    for name, (make, readable) in makers.items():
        make(folder / name)
        out[name] = (folder / name, readable)
    return out
