"""`Sprites`: what sampling returns, as arrays for code and PNGs for people."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pixelgen_core.errors import PixelgenError


class Sprites:
    """RGBA ``uint8`` sprites, shape ``[N, H, W, 4]``, each pixel a palette colour.

    ``np.asarray(sprites)`` is the array; ``sprites[i]`` one sprite, ``sprites[a:b]``
    Sprites again. A notebook shows them as a grid.
    """

    def __init__(self, rgba: np.ndarray) -> None:
        rgba = np.asarray(rgba)
        if rgba.ndim != 4 or rgba.shape[-1] != 4 or rgba.dtype != np.uint8:
            raise PixelgenError(
                f"sprites must be uint8 [N, H, W, 4], got {rgba.dtype} {rgba.shape}"
            )
        self.rgba = rgba

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.rgba if dtype is None else self.rgba.astype(dtype)

    def __len__(self) -> int:
        return len(self.rgba)

    def __getitem__(self, index):
        picked = self.rgba[index]
        return Sprites(picked) if picked.ndim == 4 else picked

    def __iter__(self):
        return iter(self.rgba)

    def __repr__(self) -> str:
        n, h, w, _ = self.rgba.shape
        return f"<Sprites: {n} of {w}x{h}>"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.rgba.shape

    def grid(
        self,
        columns: int | None = None,
        background: str | tuple[int, int, int, int] = "transparent",
        scale: int = 1,
    ) -> np.ndarray:
        """One RGBA image of the sprites, a pixel apart (`columns` default: a square)."""
        from pixelgen_core.images import grid, parse_color, upscale

        colour = parse_color(background) if isinstance(background, str) else background
        return upscale(grid(self.rgba, columns, background=colour), scale)

    def save(
        self,
        folder: Path | str,
        scale: int = 1,
        background: str | tuple[int, int, int, int] = "transparent",
    ) -> Path:
        """Write ``sprite_0000.png`` ... and ``grid.png`` into `folder`, each atomically;
        return the folder."""
        from pixelgen_core.images import check_output_size, write_png

        folder = Path(folder)
        n, h, w, _ = self.rgba.shape
        if scale < 1:
            raise PixelgenError("scale must be a positive integer")
        check_output_size(n, h, w, scale)
        for i, sprite in enumerate(self.rgba):
            write_png(sprite, folder / f"sprite_{i:04d}.png", scale)
        write_png(self.grid(background=background), folder / "grid.png", scale)
        return folder

    def _repr_png_(self) -> bytes:
        """The grid as PNG bytes, enlarged to about 256 pixels wide, for notebooks."""
        from PIL import Image

        sheet = self.grid()
        scale = max(1, 256 // max(sheet.shape[1], 1))
        buffer = io.BytesIO()
        Image.fromarray(sheet.repeat(scale, 0).repeat(scale, 1), "RGBA").save(buffer, "PNG")
        return buffer.getvalue()
