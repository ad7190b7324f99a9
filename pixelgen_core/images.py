"""RGBA sprite arrays <-> PNG files, grids, and integer nearest-neighbour upscales."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pixelgen_core.errors import PixelgenError


def read_png(path: Path) -> np.ndarray:
    """An image file as RGBA uint8 (H, W, 4); a corrupt file is a user error."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGBA")).copy()
    except FileNotFoundError:
        raise PixelgenError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PixelgenError(f"cannot read image {path}: {exc}") from None


def write_png(rgba: np.ndarray, path: Path, scale: int = 1) -> Path:
    """Write RGBA uint8 (H, W, 4), upscaled by an integer factor with nearest neighbour."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(upscale(rgba, scale), mode="RGBA").save(path)
    return path


def upscale(rgba: np.ndarray, scale: int) -> np.ndarray:
    if scale < 1:
        raise PixelgenError("scale must be a positive integer")
    return rgba.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else rgba


def grid(
    sprites: np.ndarray,
    columns: int | None = None,
    pad: int = 1,
    background: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> np.ndarray:
    """Tile RGBA sprites (N, H, W, 4) into one image, `pad` pixels apart.

    Transparent sprite pixels show the background colour.
    """
    n, h, w, _ = sprites.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    out = np.zeros((rows * (h + pad) + pad, columns * (w + pad) + pad, 4), dtype=np.uint8)
    out[...] = background
    for i, sprite in enumerate(sprites):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        cell = out[y : y + h, x : x + w]
        opaque = sprite[..., 3:4] >= 128
        out[y : y + h, x : x + w] = np.where(opaque, sprite, cell)
    return out


def parse_color(text: str) -> tuple[int, int, int, int]:
    """'transparent', '#rrggbb' or 'rrggbb' -> RGBA."""
    if text.lower() in ("transparent", "none"):
        return (0, 0, 0, 0)
    value = text.lstrip("#")
    if len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise PixelgenError(f"bad colour {text!r}: use #rrggbb or 'transparent'")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), 255)
