"""`Sprites`: what sampling returns, as arrays for code and PNGs for people."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from pixelgen_core import checks
from pixelgen_core.errors import PixelgenError


class Sprites:
    """RGBA ``uint8`` sprites, shape ``[N, H, W, 4]``, each pixel a palette colour.

    ``np.asarray(sprites)`` is the array; ``sprites[i]`` one sprite, ``sprites[a:b]``
    Sprites again. A notebook shows them as a grid. `seeds` and `labels`, when known,
    say what each sprite was drawn with alone (``-n 1 --seed S --class C``); a sheet's
    atlas records them. `palette`, when known, is the Palette they are drawn in (indexed
    exports such as Aseprite files use its order).
    """

    def __init__(
        self,
        rgba: np.ndarray,
        seeds: list[int] | None = None,
        labels: list[int | None] | None = None,
        prompts: list[str | None] | None = None,
        palette=None,
    ) -> None:
        rgba = np.asarray(rgba)
        if rgba.ndim != 4 or rgba.shape[-1] != 4 or rgba.dtype != np.uint8:
            raise PixelgenError(
                f"sprites must be uint8 [N, H, W, 4], got {rgba.dtype} {rgba.shape}"
            )
        self.rgba = rgba
        self.seeds = seeds
        self.labels = labels
        self.prompts = prompts
        self.palette = palette

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.rgba if dtype is None else self.rgba.astype(dtype)

    def __len__(self) -> int:
        return len(self.rgba)

    def __getitem__(self, index):
        picked = self.rgba[index]
        if picked.ndim != 4:
            return picked
        rows = np.arange(len(self.rgba))[index]
        seeds = None if self.seeds is None else [self.seeds[i] for i in rows]
        labels = None if self.labels is None else [self.labels[i] for i in rows]
        prompts = None if self.prompts is None else [self.prompts[i] for i in rows]
        return Sprites(picked, seeds, labels, prompts, self.palette)

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
        checks.scale(scale)
        check_output_size(n, h, w, scale)
        for i, sprite in enumerate(self.rgba):
            write_png(sprite, folder / f"sprite_{i:04d}.png", scale)
        write_png(self.grid(background=background), folder / "grid.png", scale)
        return folder

    def tiled(self, times: int = 3) -> Sprites:
        """Each sprite repeated `times` x `times`, to see whether it tiles without a seam."""
        if times < 1:
            raise PixelgenError("times must be at least 1")
        tiles = np.tile(self.rgba, (1, times, times, 1))
        return Sprites(tiles, self.seeds, self.labels, self.prompts, self.palette)

    def save_sheet(
        self,
        folder: Path | str,
        columns: int | None = None,
        spacing: int = 0,
        margin: int = 0,
        scale: int = 1,
        source: dict | None = None,
        name: str = "sheet",
    ) -> tuple[Path, Path]:
        """Write NAME.png, every sprite on one sheet (`columns` per row, `spacing` pixels
        apart, `margin` around), and NAME.json, its atlas in TexturePacker's JSON (Hash)
        layout with each sprite's seed, class and prompt; return both paths."""
        from pixelgen_core.atlas import SheetLayout, write_sheet
        from pixelgen_core.images import check_output_size

        layout = SheetLayout(columns, spacing, margin)
        layout.check()
        n, h, w, _ = self.rgba.shape
        check_output_size(n, h + spacing, w + spacing, scale)
        return write_sheet(
            self.rgba,
            Path(folder),
            layout,
            scale,
            self.seeds,
            self.labels,
            source,
            name,
            self.prompts,
        )

    def export(
        self,
        folder: Path | str,
        formats: tuple[str, ...],
        *,
        columns: int | None = None,
        spacing: int = 0,
        margin: int = 0,
        scale: int = 1,
        tileable: bool = False,
    ) -> list[Path]:
        """Write the sheet (`save_sheet`) and files for other tools beside it: "aseprite"
        (an indexed .aseprite), "aseprite-json", "tiled" (a .tsx tileset, terrains when
        `tileable`), "godot" (SpriteFrames .tres); return every path written."""
        from pixelgen_core.exports import write_exports

        folder = Path(folder)
        sheet = self.save_sheet(folder, columns, spacing, margin, scale)
        names = write_exports(
            self, folder, tuple(formats), columns, spacing, margin, scale, tileable
        )
        return [*sheet, *(folder / name for name in names)]

    def _repr_png_(self) -> bytes:
        """The grid as PNG bytes, enlarged to about 256 pixels wide, for notebooks."""
        from PIL import Image

        sheet = self.grid()
        scale = max(1, 256 // max(sheet.shape[1], 1))
        buffer = io.BytesIO()
        Image.fromarray(sheet.repeat(scale, 0).repeat(scale, 1), "RGBA").save(buffer, "PNG")
        return buffer.getvalue()
