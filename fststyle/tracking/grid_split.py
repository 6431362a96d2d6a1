"""A sample grid cut into one [photo | stylized] image per style: the trackers' image series
val/samples/<style> and the compare page's sample table. Without Lightning or torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

GRID_PADDING = 2  # pixels around tiles in fststyle.core.images.sample_grid (make_grid's default)


def split_grid(grid: Image.Image, n_styles: int) -> list[Image.Image] | None:
    """Cut a sample grid (rows: photos; columns: the photo, then one per style, as
    `fststyle.core.images.sample_grid` lays it out) into one [photo | style] image per style.
    None when the width does not fit that layout."""
    from PIL import Image

    pad, rgb = GRID_PADDING, grid.convert("RGB")
    step, rest = divmod(grid.width - pad, n_styles + 1) if n_styles > 0 else (0, 1)
    if rest or step <= pad:
        return None
    gutters = [rgb.crop((x, 0, x + pad, grid.height)).getextrema()
               for x in range(0, grid.width, step)]
    if any(band != (255, 255) for gutter in gutters for band in gutter):
        return None  # not (n_styles + 1) tiles between white padding
    photo = grid.crop((0, 0, step + pad, grid.height))  # left padding, photo, padding
    parts = []
    for i in range(1, n_styles + 1):
        column = grid.crop((i * step + pad, 0, (i + 1) * step + pad, grid.height))
        part = Image.new(grid.mode, (photo.width + column.width, grid.height))
        part.paste(photo, (0, 0))
        part.paste(column, (photo.width, 0))
        parts.append(part)
    return parts
