"""Image files and the bundled demo data, with Pillow and numpy only (no torch), so that the
ONNX runtime can share them."""

import hashlib
import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fststyle.runtime.atomic import atomic_path

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
ASSETS = Path(__file__).parents[1] / "assets"  # bundled demo data; MANIFEST.tsv credits each file
DEMO_STYLES = ["starry_night", "great_wave", "udnie", "the_scream"]
# Every bundled painting (MANIFEST.tsv): the demo's four, then seven more public-domain ones.
BUNDLED_STYLES = [*DEMO_STYLES, "composition_vii", "charing_cross", "san_giorgio", "edtaonisl",
                  "shipwreck", "bedroom", "wheat_field"]
# A twelfth bundled painting, one the shipped network (trained on BUNDLED_STYLES) has never
# seen: what the demo adds to it, and what docs/add_style.md measures adding.
NEW_STYLE = "cafe_terrace"
# A style row with no painting: trained to render the photo itself, so that blending its
# (gamma, beta) with a style's sets the style's strength (fststyle.core.losses.PerceptualLoss).
IDENTITY = "identity"


def open_rgb(path: str | Path, shorter_side: int | None = None) -> Image.Image:
    """Open any image file as RGB, applying its EXIF orientation; errors name the file.

    With `shorter_side`, JPEGs are decoded at the smallest 1/2^k scale that still has that
    shorter side (libjpeg's DCT scaling): much faster for large photos that get downscaled.
    """
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x Pillow's pixel limit it only warns: treat that as an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if shorter_side and im.format == "JPEG":
                    scale = shorter_side / min(im.size)
                    im.draft("RGB", (math.ceil(im.size[0] * scale), math.ceil(im.size[1] * scale)))
                return ensure_rgb(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as e:
        raise ValueError(f"{path}: not a readable image ({type(e).__name__}: {e})") from e


def ensure_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB: EXIF orientation applied, alpha composited on white, 16-bit scaled."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # convert("RGB") would clip 16-bit values at 255; scale the range down instead.
        array = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode != "I" or array.max() > 255 else 255.0
        im = Image.fromarray((array / top * 255).clip(0, 255).round().astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        # Composite on white: dropping alpha would expose arbitrary hidden colours.
        im = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", im.size, "white"), im).convert("RGB")
    return im.convert("RGB")


def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    """Resize so that the shorter side is `size`, keeping the aspect ratio."""
    w, h = image.size
    scale = size / min(w, h)
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)


def save_image(image: Image.Image, path: str | Path, jpeg_quality: int = 75) -> Path:
    """Save atomically; the format follows the suffix (jpeg_quality: for .jpg, Pillow's 75
    by default)."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image suffix {path.suffix!r}")
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **({"quality": jpeg_quality} if fmt == "JPEG" else {}))
    return path


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under `folder`, recursively, sorted for reproducibility."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def file_digest(path: str | Path) -> str:
    """The sha256 of a file's bytes: how a photo is recognised as the same photo (held-out
    photos left out of training, content photos that are training photos)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def demo_photos(split: str) -> list[Path]:
    """Bundled photos: `train` (COCO) or `heldout` (never trained on)."""
    return list_images(ASSETS / "photos" / split)


def resolve_style(entry: str) -> Path | None:
    """A style entry is an image path, the name of a bundled style, or `identity` (no image:
    None)."""
    if entry == IDENTITY:
        return None
    path = Path(entry).expanduser()
    if path.is_file():
        return path
    bundled = ASSETS / "styles" / f"{entry}.jpg"
    if bundled.is_file():
        return bundled
    raise ValueError(f"--model.styles: style image {entry!r} not found (not a file, and not "
                     f"a bundled style: {', '.join([*BUNDLED_STYLES, NEW_STYLE])}, or "
                     f"{IDENTITY})")


def style_name(entry: str) -> str:
    return Path(entry).stem
