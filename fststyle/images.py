"""Image files <-> tensors, bundled demo data, and sample grids (PIL + torch, no Lightning)."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from fststyle.atomic import atomic_path

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
ASSETS = Path(__file__).parent / "assets"  # bundled demo data; MANIFEST.tsv credits each file
DEMO_STYLES = ["starry_night", "great_wave", "udnie", "the_scream"]


def open_rgb(path: str | Path) -> Image.Image:
    """Open any image file as RGB, applying its EXIF orientation; errors name the file."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                # Composite on white: dropping alpha would expose arbitrary hidden colours.
                im = im.convert("RGBA")
                return Image.alpha_composite(Image.new("RGBA", im.size, "white"), im).convert("RGB")
            return im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from e


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (3, H, W) float32 in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) in [0, 1] -> PIL RGB."""
    array = image.detach().float().clamp(0, 1).mul(255).round().byte()
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    """Resize so that the shorter side is `size`, keeping the aspect ratio."""
    w, h = image.size
    scale = size / min(w, h)
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Save atomically; the format follows the suffix."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image suffix {path.suffix!r}")
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt)
    return path


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under `folder`, recursively, sorted for reproducibility."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def demo_photos(split: str) -> list[Path]:
    """Bundled photos: `train` (COCO) or `heldout` (never trained on)."""
    return list_images(ASSETS / "photos" / split)


def resolve_style(entry: str) -> Path:
    """A style entry is an image path or the name of a bundled style."""
    path = Path(entry).expanduser()
    if path.is_file():
        return path
    bundled = ASSETS / "styles" / f"{entry}.jpg"
    if bundled.is_file():
        return bundled
    raise ValueError(f"--model.styles: style image {entry!r} not found (not a file, and not "
                     f"a bundled style: {', '.join(DEMO_STYLES)})")


def style_name(entry: str) -> str:
    return Path(entry).stem


def sample_grid(photos: torch.Tensor, stylized: list[torch.Tensor]) -> Image.Image:
    """Rows: photos; columns: the photo, then one column per style. Tensors (P, 3, H, W)."""
    from torchvision.utils import make_grid

    columns = torch.stack([photos, *stylized], dim=1)  # (P, 1 + N, 3, H, W)
    grid = make_grid(columns.flatten(0, 1), nrow=columns.shape[1], padding=2, pad_value=1.0)
    return to_pil(grid)
