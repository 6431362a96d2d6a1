"""Images <-> tensors and sample grids (torch); file handling lives in `imagefiles` (no torch)."""

import numpy as np
import torch
from PIL import Image

from fststyle.imagefiles import (ASSETS, DEMO_STYLES, IMAGE_EXTENSIONS, demo_photos,  # noqa: F401
                                 ensure_rgb, list_images, open_rgb, resize_shorter,
                                 resolve_style, save_image, style_name)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (3, H, W) float32 in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


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
