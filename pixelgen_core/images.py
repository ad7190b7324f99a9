"""RGBA sprite arrays <-> PNG files, grids, and integer nearest-neighbour upscales."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from pixelgen_core.errors import PixelgenError
from pixelgen_core.files import write_atomic


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
    """Write RGBA uint8 (H, W, 4), upscaled by an integer factor with nearest neighbour.

    Written atomically: an interrupted write never leaves a truncated PNG."""
    from PIL import Image

    image = Image.fromarray(upscale(rgba, scale), mode="RGBA")
    return write_atomic(path, lambda handle: image.save(handle, format="PNG"))


def output_bytes(n: int, height: int, width: int, scale: int = 1) -> int:
    """About how much memory drawing `n` sprites and writing them at `scale` takes: their
    indices and RGBA, and the upscaled grid twice (numpy's and PIL's copy)."""
    return n * height * width * 12 + 2 * n * (height + 1) * (width + 1) * 4 * scale * scale


def check_output_size(
    n: int, height: int, width: int, scale: int = 1, asked: str | None = None
) -> None:
    """Refuse, before allocating, outputs that need more than half of this machine's memory.
    `asked` names the request in the user's own options (default: "-n N at --scale S")."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: assume 8 GB
        memory = 8 * 2**30
    need = output_bytes(n, height, width, scale)
    if need > memory // 2:
        asked = asked or f"-n {n} at --scale {scale}"
        raise PixelgenError(
            f"{asked} needs about {need / 2**30:.1f} GB of memory for "
            f"{height}x{width} sprites and their grid (this machine has {memory / 2**30:.1f} GB); "
            "ask for fewer sprites or a smaller scale"
        )


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
