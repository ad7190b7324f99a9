"""What the make_*_figures.py scripts share: where pictures go and how they are drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pixelgen_core import Sprites

OUT = Path(__file__).resolve().parents[1] / "images"
BG = (29, 29, 43, 255)  # a dark background, so transparent pixels read as empty


def save(name: str, sprites: np.ndarray, columns: int, scale: int = 4) -> None:
    """Tile RGBA sprites `columns` wide into docs/images/NAME, upscaled, and say where."""
    sheet = Sprites(np.asarray(sprites)).grid(columns, background=BG, scale=scale)
    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet, "RGBA").save(OUT / name)
    print(OUT / name)
