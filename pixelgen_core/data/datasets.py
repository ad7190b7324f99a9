"""Datasets: the bundled Kenney sheets or any folder of same-sized PNG sprites.

A folder is decoded once and cached beside it (`.pixelgen/sprites-KEY.npy`, the key
made from every file's name, size and modification time, so adding, removing or
editing a sprite decodes it again); later runs memory-map the cache instead of
decoding thousands of PNGs."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from pixelgen_core.data.sheets import slice_sheet
from pixelgen_core.data.tags import Tagging, dataset_tags
from pixelgen_core.errors import PixelgenError
from pixelgen_core.files import user_cache, write_atomic
from pixelgen_core.images import read_png

# name: (sheet in data/sheets/, tile side). A sheet with a NAME.txt beside it (one line a
# tile, in sheet order) gives its sprites those names; the others are numbered.
BUILTIN_DATASETS = {
    "kenney-colored": ("kenney-colored.png", 16),
    "kenney-mono": ("kenney-mono.png", 16),
    "kenney-arcade": ("kenney-arcade.png", 32),  # scripts/make_kenney_arcade.py
}
FOCUSED_RANGE = (0.15, 0.50)
CACHE_VERSION = "1"  # bump when the cached layout or the decoding changes


@dataclass
class SpriteSet:
    """Sprites as RGBA uint8 (N, H, W, 4), alpha made binary, with where they came from."""

    name: str
    sprites: np.ndarray
    names: list[str]
    total: int  # sprites before the focused filter
    focused: bool = False
    cache_dir: Path | None = None  # where derived data (class labels) is cached
    folder: Path | None = None  # the folder it was read from (tag files live there)

    @property
    def image_size(self) -> int:
        """The sprites' height (and side, when square)."""
        return int(self.sprites.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of a sprite."""
        return int(self.sprites.shape[1]), int(self.sprites.shape[2])

    def __len__(self) -> int:
        return len(self.sprites)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.sprites.tobytes()).hexdigest()[:16]

    def tags(self) -> Tagging:
        """Each sprite's tags, from the folder's tag file or sidecars, else its name."""
        return dataset_tags(self.names, self.folder)

    def palette(self, max_colors: int = 16, seed: int = 0):
        """The palette training extracts: the exact opaque colours when there are at
        most `max_colors`, else k-means centres."""
        from pixelgen_core.palette import extract

        return extract(self.sprites, max_colors, seed=seed)

    def class_labels(self, num_classes: int, seed: int = 0) -> np.ndarray:
        """k-means class labels (N,) in [0, num_classes), as `data.num_classes` makes them."""
        from pixelgen_core.data.labels import class_labels

        return class_labels(self, num_classes, seed=seed)

    def describe(self) -> str:
        height, width = self.shape
        sprites = "sprite" if len(self) == 1 else "sprites"
        text = f"{self.name}: {len(self)} {sprites} of {width}x{height}"
        if self.focused:
            lo, hi = FOCUSED_RANGE
            text += f" (focused: kept {len(self)} of {self.total} with opaque share {lo}-{hi})"
        return text


def opaque_share(sprites: np.ndarray) -> np.ndarray:
    return (sprites[..., 3] >= 128).mean(axis=(1, 2))


def load_dataset(name: str, focused: bool = False) -> SpriteSet:
    """A built-in dataset by name, or a folder of PNGs (all the same size)."""
    source = None
    if name in BUILTIN_DATASETS:
        tiles, names = builtin_sheet(name)
        cache_dir = user_cache() / name
        sprites = binarize_alpha(np.stack(tiles))
    else:
        folder = source = Path(name)
        if not folder.is_dir():
            known = ", ".join(BUILTIN_DATASETS)
            raise PixelgenError(f"dataset {name!r} is neither built in ({known}) nor a folder")
        paths = sprite_paths(folder)
        if not paths:
            raise PixelgenError(f"no PNG files in {folder}")
        cache_dir = folder / ".pixelgen"
        sprites = load_folder(paths, cache_dir, folder)
        names = [p.relative_to(folder).with_suffix("").as_posix() for p in paths]
    if not (sprites[..., 3] >= 128).any():
        raise PixelgenError(
            f"every pixel of the sprites in {name} is transparent: nothing to learn"
        )
    total = len(sprites)
    if focused:
        share = opaque_share(sprites)
        keep = (share >= FOCUSED_RANGE[0]) & (share <= FOCUSED_RANGE[1])
        sprites = sprites[keep]
        names = [n for n, k in zip(names, keep, strict=True) if k]
        if len(sprites) == 0:
            raise PixelgenError(f"the focused filter left no sprites in {name}")
    return SpriteSet(name, sprites, names, total, focused, cache_dir, source)


def sprite_paths(folder: Path) -> list[Path]:
    """The PNGs in `folder` and its subfolders (whose names become tags: `tags`), in
    path order; hidden files and folders (such as the `.pixelgen` cache) are skipped,
    and symlinked folders are not followed (so a link loop cannot recurse)."""
    paths = (p for p in folder.rglob("*.png") if p.is_file())
    return sorted(
        (p for p in paths if not any(part.startswith(".") for part in p.relative_to(folder).parts)),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def builtin_sheet(name: str) -> tuple[list[np.ndarray], list[str]]:
    """A bundled sheet's tiles and their names (from NAME.txt where it ships one)."""
    file, tile = BUILTIN_DATASETS[name]
    folder = files("pixelgen_core").joinpath("data", "sheets")
    with as_file(folder.joinpath(file)) as path:
        sheet = read_png(path)
    listed = folder.joinpath(Path(file).with_suffix(".txt").name)
    if listed.is_file():
        names = listed.read_text().split()
        return slice_sheet(sheet, tile, keep_empty=True)[: len(names)], names
    tiles = slice_sheet(sheet, tile)
    return tiles, [f"{i:04d}" for i in range(len(tiles))]  # numbers: no tags


def load_folder(paths: list[Path], cache_dir: Path, folder: Path) -> np.ndarray:
    """The sprites of `paths` (RGBA uint8, alpha made binary), from the cache when it
    matches the files, else decoded and cached (a read-only folder is decoded each time).

    The cache is memory-mapped read-only: training keeps only the palette indices it
    makes from it in memory, not a second copy of the sprites."""
    cache = cache_dir / f"sprites-{files_key(paths, folder)}.npy"
    with contextlib.suppress(OSError, ValueError):
        return np.load(cache, mmap_mode="r")
    images = [read_png(p) for p in paths]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        sizes = sorted(f"{w}x{h}" for h, w, _ in shapes)
        raise PixelgenError(f"sprites in {paths[0].parent} differ in size: {', '.join(sizes)}")
    sprites = binarize_alpha(np.stack(images))
    del images
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("sprites-*.npy"):  # caches of earlier versions of the folder
            old.unlink(missing_ok=True)
        write_atomic(cache, lambda handle: np.save(handle, sprites))
    except (OSError, PixelgenError):
        pass  # a read-only folder or a full disk only costs decoding again next time
    return sprites


def files_key(paths: list[Path], folder: Path) -> str:
    """A key that changes when any file is added, removed, renamed, moved, resized or
    touched."""
    digest = hashlib.sha256(CACHE_VERSION.encode())
    for path in paths:
        info = os.stat(path)
        name = path.relative_to(folder).as_posix()
        digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def binarize_alpha(sprites: np.ndarray) -> np.ndarray:
    """Pixel art has no partial transparency: alpha >= 128 is opaque, the rest is
    (0,0,0,0). In place: `sprites` is a fresh array of decoded images."""
    out = sprites
    opaque = out[..., 3] >= 128
    out[~opaque] = 0
    out[..., 3] = np.where(opaque, 255, 0)
    return out
