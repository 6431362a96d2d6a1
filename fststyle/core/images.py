"""Images <-> tensors, the one image loader, and sample grids (torch). Image files themselves
(reading any format as RGB, resizing, atomic saving, the bundled demo data) are handled without
torch in `fststyle.runtime.imagefiles`, which this module builds on."""

import numpy as np
import torch
from PIL import Image

from fststyle.runtime.imagefiles import open_rgb, resize_shorter


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (3, H, W) float32 in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def load_image(source, size: int | None = None, draft: bool = False) -> torch.Tensor:
    """An image file (path or file object) -> (3, H, W) float32 in [0, 1], its shorter side
    resized to `size` when given; errors name the file (open_rgb).

    draft: decode JPEGs at the smallest 1/2^k scale that still has `size` (faster for large
    photos; the pixels differ slightly from a full decode, so only training crops use it).
    """
    image = open_rgb(source, shorter_side=size if draft else None)
    return to_tensor(image if size is None else resize_shorter(image, size))


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) in [0, 1] -> PIL RGB."""
    array = image.detach().float().clamp(0, 1).mul(255).round().byte()
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def sample_grid(photos: torch.Tensor, stylized: list[torch.Tensor]) -> Image.Image:
    """Rows: photos; columns: the photo, then one column per style. Tensors (P, 3, H, W)."""
    from torchvision.utils import make_grid

    columns = torch.stack([photos, *stylized], dim=1)  # (P, 1 + N, 3, H, W)
    grid = make_grid(columns.flatten(0, 1), nrow=columns.shape[1], padding=2, pad_value=1.0)
    return to_pil(grid)
