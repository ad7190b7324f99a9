"""The side-by-side picture of `pixelgen compare`: a labelled row of sprites per source."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelgen_core.files import write_atomic
from pixelgen_core.images import grid

BACKGROUND = (29, 29, 43, 255)
TEXT = (230, 230, 230, 255)


def side_by_side(rows: list[tuple[str, np.ndarray]], per_row: int = 16, scale: int = 3):
    """A PIL image: one labelled row of up to `per_row` RGBA sprites (N, H, W, 4) per entry."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    strips = [
        grid(sprites[:per_row], columns=per_row, background=BACKGROUND) for _, sprites in rows
    ]
    width = max(s.shape[1] for s in strips) * scale
    label_width = 8 + max(int(font.getlength(label)) for label, _ in rows)
    height = sum(s.shape[0] for s in strips) * scale
    sheet = Image.new("RGBA", (label_width + width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    y = 0
    for (label, _), strip in zip(rows, strips, strict=True):
        image = Image.fromarray(strip, "RGBA")
        image = image.resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
        sheet.paste(image, (label_width, y))
        draw.text((4, y + image.height // 2), label, fill=TEXT, font=font, anchor="lm")
        y += image.height
    return sheet


def write_side_by_side(rows: list[tuple[str, np.ndarray]], path: Path) -> Path:
    sheet = side_by_side(rows)
    return write_atomic(path, lambda handle: sheet.save(handle, format="PNG"))
