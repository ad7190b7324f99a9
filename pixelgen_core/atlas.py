"""Sprite sheets with a JSON atlas that game engines import.

The atlas follows TexturePacker's "JSON (Hash)" layout, which Phaser, Godot and Unity
importers read: ``frames`` maps each frame's name to its rectangle on the sheet (``frame``:
x, y, w, h in the sheet's pixels), and ``meta`` names the image and its size. Each frame
also carries the ``seed`` and ``class`` it was drawn with, so it can be drawn again alone;
``meta.pixelgen`` records the command's strategy, run and options.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelgen_core.errors import SettingError


@dataclass(frozen=True)
class SheetLayout:
    """Where sprites go on a sheet: `columns` per row, `spacing` pixels between
    neighbours, `margin` pixels around the whole sheet (all before upscaling)."""

    columns: int | None = None
    spacing: int = 0
    margin: int = 0

    def check(self) -> None:
        if self.columns is not None and self.columns < 1:
            raise SettingError("{columns} must be at least 1", exit_code=1)
        if self.spacing < 0 or self.margin < 0:
            raise SettingError("{spacing} and {margin} must be 0 or more", exit_code=1)
        if max(self.spacing, self.margin) > 4096:
            raise SettingError("{spacing} and {margin} must be at most 4096 pixels", exit_code=1)

    def columns_for(self, n: int) -> int:
        """Sprites per row for n sprites: `columns`, or a square, and never more than n."""
        return min(self.columns or math.ceil(math.sqrt(n)), n)

    def positions(self, n: int, height: int, width: int) -> tuple[list[tuple[int, int]], int, int]:
        """Each sprite's top-left (x, y), and the sheet's width and height."""
        self.check()
        columns = self.columns_for(n)
        rows = math.ceil(n / columns)
        step_x, step_y = width + self.spacing, height + self.spacing
        places = [
            (self.margin + (i % columns) * step_x, self.margin + (i // columns) * step_y)
            for i in range(n)
        ]
        sheet_w = 2 * self.margin + columns * width + (columns - 1) * self.spacing
        sheet_h = 2 * self.margin + rows * height + (rows - 1) * self.spacing
        return places, sheet_w, sheet_h


def compose(rgba: np.ndarray, layout: SheetLayout) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The sheet image (transparent between sprites) and each sprite's top-left corner."""
    n, h, w, _ = rgba.shape
    places, sheet_w, sheet_h = layout.positions(n, h, w)
    sheet = np.zeros((sheet_h, sheet_w, 4), dtype=np.uint8)
    for sprite, (x, y) in zip(rgba, places, strict=True):
        sheet[y : y + h, x : x + w] = sprite
    return sheet, places


def atlas(
    n: int,
    height: int,
    width: int,
    places: list[tuple[int, int]],
    sheet_size: tuple[int, int],
    image_name: str,
    scale: int = 1,
    seeds: list[int] | None = None,
    labels: list[int | None] | None = None,
    source: dict[str, Any] | None = None,
    prompts: list[str | None] | None = None,
) -> dict:
    """The JSON (Hash) atlas for a sheet: rectangles in the written (upscaled) image,
    with each sprite's seed, class and prompt where known."""
    from pixelgen_core import __version__

    w, h = width * scale, height * scale
    frames = {}
    for i, (x, y) in enumerate(places):
        frame = {
            "frame": {"x": x * scale, "y": y * scale, "w": w, "h": h},
            "rotated": False,
            "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h},
            "sourceSize": {"w": w, "h": h},
        }
        if seeds is not None:
            frame["seed"] = seeds[i]
        if labels is not None:
            frame["class"] = labels[i]
        if prompts is not None and prompts[i] is not None:
            frame["prompt"] = prompts[i]
        frames[f"sprite_{i:04d}.png"] = frame
    meta = {
        "app": "pixelgen",
        "version": __version__,
        "image": image_name,
        "format": "RGBA8888",
        "size": {"w": sheet_size[0] * scale, "h": sheet_size[1] * scale},
        "scale": "1",
    }
    if source:
        meta["pixelgen"] = source
    return {"frames": frames, "meta": meta}


def write_sheet(
    rgba: np.ndarray,
    folder: Path,
    layout: SheetLayout,
    scale: int = 1,
    seeds: list[int] | None = None,
    labels: list[int | None] | None = None,
    source: dict[str, Any] | None = None,
    name: str = "sheet",
    prompts: list[str | None] | None = None,
) -> tuple[Path, Path]:
    """Write NAME.png and NAME.json (its atlas) into `folder`, each atomically."""
    from pixelgen_core.files import write_text
    from pixelgen_core.images import write_png

    n, h, w, _ = rgba.shape
    sheet, places = compose(rgba, layout)
    image = write_png(sheet, Path(folder) / f"{name}.png", scale)
    size = (sheet.shape[1], sheet.shape[0])
    info = atlas(n, h, w, places, size, image.name, scale, seeds, labels, source, prompts)
    data = write_text(Path(folder) / f"{name}.json", json.dumps(info, indent=2) + "\n")
    return image, data
