"""Datasets: the bundled Kenney sheets or any folder of same-sized PNG sprites."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from pixelgen_core.data.sheets import slice_sheet
from pixelgen_core.errors import PixelgenError
from pixelgen_core.files import user_cache
from pixelgen_core.images import read_png

BUILTIN_DATASETS = {
    "kenney-colored": "kenney-colored.png",
    "kenney-mono": "kenney-mono.png",
}
BUILTIN_TILE = 16
FOCUSED_RANGE = (0.15, 0.50)


@dataclass
class SpriteSet:
    """Sprites as RGBA uint8 (N, H, W, 4), alpha made binary, with where they came from."""

    name: str
    sprites: np.ndarray
    names: list[str]
    total: int  # sprites before the focused filter
    focused: bool = False
    cache_dir: Path | None = None  # where derived data (class labels) is cached

    @property
    def image_size(self) -> int:
        return int(self.sprites.shape[1])

    def __len__(self) -> int:
        return len(self.sprites)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.sprites.tobytes()).hexdigest()[:16]

    def describe(self) -> str:
        text = f"{self.name}: {len(self)} sprites of {self.image_size}x{self.image_size}"
        if self.focused:
            lo, hi = FOCUSED_RANGE
            text += f" (focused: kept {len(self)} of {self.total} with opaque share {lo}-{hi})"
        return text


def opaque_share(sprites: np.ndarray) -> np.ndarray:
    return (sprites[..., 3] >= 128).mean(axis=(1, 2))


def load_dataset(name: str, focused: bool = False) -> SpriteSet:
    """A built-in dataset by name, or a folder of PNGs (all the same square size)."""
    if name in BUILTIN_DATASETS:
        resource = files("pixelgen_core").joinpath("data", "sheets", BUILTIN_DATASETS[name])
        with as_file(resource) as path:
            tiles = slice_sheet(read_png(path), BUILTIN_TILE)
        names = [f"{name}-{i:04d}" for i in range(len(tiles))]
        cache_dir = user_cache() / name
        sprites = np.stack(tiles)
    else:
        folder = Path(name)
        if not folder.is_dir():
            known = ", ".join(BUILTIN_DATASETS)
            raise PixelgenError(f"dataset {name!r} is neither built in ({known}) nor a folder")
        paths = sorted(folder.glob("*.png"))
        if not paths:
            raise PixelgenError(f"no PNG files in {folder}")
        images = [read_png(p) for p in paths]
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise PixelgenError(f"sprites in {folder} differ in size: {sorted(shapes)}")
        h, w, _ = images[0].shape
        if h != w:
            raise PixelgenError(f"sprites in {folder} must be square, got {w}x{h}")
        sprites = np.stack(images)
        names = [p.stem for p in paths]
        cache_dir = folder / ".pixelgen"
    sprites = binarize_alpha(sprites)
    total = len(sprites)
    if focused:
        share = opaque_share(sprites)
        keep = (share >= FOCUSED_RANGE[0]) & (share <= FOCUSED_RANGE[1])
        sprites = sprites[keep]
        names = [n for n, k in zip(names, keep, strict=True) if k]
        if len(sprites) == 0:
            raise PixelgenError(f"the focused filter left no sprites in {name}")
    return SpriteSet(name, sprites, names, total, focused, cache_dir)


def binarize_alpha(sprites: np.ndarray) -> np.ndarray:
    """Pixel art has no partial transparency: alpha >= 128 is opaque, the rest is (0,0,0,0)."""
    out = sprites.copy()
    opaque = out[..., 3] >= 128
    out[~opaque] = 0
    out[..., 3] = np.where(opaque, 255, 0)
    return out
