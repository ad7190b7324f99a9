"""Cut a tilesheet into sprites."""

from __future__ import annotations

import numpy as np

from pixelgen_core.errors import PixelgenError


def parse_tile(text: str) -> tuple[int, int]:
    """ "16" -> (16, 16); "16x24" -> (16, 24), as (width, height)."""
    width, _, height = str(text).lower().partition("x")
    try:
        size = (int(width), int(height or width))
    except ValueError:
        raise PixelgenError(
            f"--tile {text!r} is not a side or WIDTHxHEIGHT such as 16x24"
        ) from None
    if min(size) < 1:
        raise PixelgenError("tile must be positive and spacing/margin not negative")
    return size


def slice_sheet(
    sheet: np.ndarray,
    tile: int | tuple[int, int],
    spacing: int = 0,
    margin: int = 0,
    keep_empty: bool = False,
) -> list[np.ndarray]:
    """Tiles of an RGBA sheet (H, W, 4), row by row; fully transparent tiles are skipped.

    `tile` is a side, or (height, width); `margin` is the border around the whole sheet,
    `spacing` the gap between tiles.
    """
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    if min(tile_h, tile_w) < 1 or spacing < 0 or margin < 0:
        raise PixelgenError("tile must be positive and spacing/margin not negative")
    height, width = sheet.shape[:2]
    rows = (height - 2 * margin + spacing) // (tile_h + spacing)
    cols = (width - 2 * margin + spacing) // (tile_w + spacing)
    if rows < 1 or cols < 1:
        raise PixelgenError(f"a {width}x{height} sheet holds no {tile_w}x{tile_h} tiles")
    tiles = []
    for r in range(rows):
        for c in range(cols):
            y, x = margin + r * (tile_h + spacing), margin + c * (tile_w + spacing)
            piece = sheet[y : y + tile_h, x : x + tile_w]
            if keep_empty or piece[..., 3].any():
                tiles.append(piece.copy())
    return tiles
