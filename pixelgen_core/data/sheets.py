"""Cut a tilesheet into sprites."""

from __future__ import annotations

import numpy as np

from pixelgen_core.errors import PixelgenError


def slice_sheet(
    sheet: np.ndarray, tile: int, spacing: int = 0, margin: int = 0, keep_empty: bool = False
) -> list[np.ndarray]:
    """Tiles of an RGBA sheet (H, W, 4), row by row; fully transparent tiles are skipped.

    `margin` is the border around the whole sheet, `spacing` the gap between tiles.
    """
    if tile < 1 or spacing < 0 or margin < 0:
        raise PixelgenError("tile must be positive and spacing/margin not negative")
    height, width = sheet.shape[:2]
    step = tile + spacing
    rows = (height - 2 * margin + spacing) // step
    cols = (width - 2 * margin + spacing) // step
    if rows < 1 or cols < 1:
        raise PixelgenError(f"a {width}x{height} sheet holds no {tile}x{tile} tiles")
    tiles = []
    for r in range(rows):
        for c in range(cols):
            y, x = margin + r * step, margin + c * step
            piece = sheet[y : y + tile, x : x + tile]
            if keep_empty or piece[..., 3].any():
                tiles.append(piece.copy())
    return tiles
