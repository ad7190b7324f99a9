"""What `pixelgen edit` needs before a strategy sees the sprite: the sprite snapped to the
run's palette (or through the user's), which pixels to redraw, and palettes for output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelgen_core.errors import PixelgenError, SettingError
from pixelgen_core.palette import Palette, remap

DEFAULT_STRENGTH_MASKED = 1.0  # redraw the masked pixels from scratch
DEFAULT_STRENGTH_WHOLE = 0.5  # variations: keep the input's layout and colours


@dataclass(frozen=True)
class SnappedSprite:
    """A user's sprite as the run's palette indices (H, W); `moved` of its `pixels`
    changed colour (or opacity) on the way."""

    indices: np.ndarray
    moved: int
    pixels: int

    def notice(self) -> str:
        return (
            f"snapped the sprite to the model's palette: {self.moved} of {self.pixels} "
            "pixels changed colour"
        )


def as_palette(palette: Palette | str | Path | None) -> Palette | None:
    """A Palette from a Palette, a built-in name or a palette file (None stays None)."""
    if palette is None or isinstance(palette, Palette):
        return palette
    from pixelgen_core.palette_files import load_palette

    return load_palette(palette)


def recolour(indices: np.ndarray, model: Palette, target: Palette | None) -> np.ndarray:
    """RGBA uint8 of the model's palette `indices`, in `target`'s colours when given
    (paired with `palette.remap`)."""
    if target is None:
        return model.to_rgba(indices)
    return target.to_rgba(remap(model, target)[indices])


def snap_sprite(
    image: np.ndarray | str | Path, size: tuple[int, int], model: Palette, user: Palette | None
) -> SnappedSprite:
    """The sprite (a PNG path or RGBA uint8 (H, W, 4)) as the model's palette indices.

    With a `user` palette the sprite is read in the user's colours and each is taken to
    the model colour it pairs with (the inverse of `recolour`), so the kept pixels come
    back in the user's palette exactly."""
    rgba = _unscale(_read(image), size)
    if rgba.shape[:2] != size:
        raise PixelgenError(
            f"the sprite is {rgba.shape[1]}x{rgba.shape[0]}; this run makes "
            f"{size[1]}x{size[0]} sprites (or a whole-number upscale of them)"
        )
    if user is None:
        indices = model.snap(rgba)
        shown = model.to_rgba(indices)
    else:
        in_user = user.snap(rgba)
        shown = user.to_rgba(in_user)
        indices = _inverse(remap(model, user), remap(user, model))[in_user]
    opaque, now_opaque = rgba[..., 3] >= 128, shown[..., 3] >= 128
    moved = (opaque != now_opaque) | (opaque & (rgba[..., :3] != shown[..., :3]).any(-1))
    return SnappedSprite(indices, int(moved.sum()), int(moved.size))


def _unscale(rgba: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A sprite saved with `--scale K` (each pixel a K x K block) back at `size`."""
    height, width = rgba.shape[:2]
    k = height // size[0]
    if k > 1 and (height, width) == (k * size[0], k * size[1]):
        small = rgba[::k, ::k]
        if (small.repeat(k, 0).repeat(k, 1) == rgba).all():
            return small
    return rgba


def _inverse(forward: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """User index -> model index: the model colour paired with it, else the nearest."""
    table = nearest.copy()
    for model_index in range(len(forward) - 1, 0, -1):  # the lowest model index wins
        table[forward[model_index]] = model_index
    table[0] = 0
    return table


def _read(image: np.ndarray | str | Path) -> np.ndarray:
    if isinstance(image, (str, Path)):
        from pixelgen_core.images import read_png

        return read_png(Path(image))
    rgba = np.asarray(image)
    if rgba.ndim != 3 or rgba.shape[-1] != 4 or rgba.dtype != np.uint8:
        raise PixelgenError(f"a sprite must be RGBA uint8 (H, W, 4), got {rgba.dtype} {rgba.shape}")
    return rgba


def redraw_mask(
    size: tuple[int, int],
    mask: np.ndarray | str | Path | None = None,
    region: str | tuple[int, int, int, int] | None = None,
) -> np.ndarray | None:
    """Bool (H, W), True where pixels are redrawn: a mask image's light, opaque pixels, or
    the rectangle `region` (x, y, w, h, or "X,Y,W,H"); None when neither is given."""
    if mask is not None and region is not None:
        raise SettingError("give {mask} or {region}, not both", exit_code=1)
    height, width = size
    if mask is not None:
        rgba = _read(mask)
        if rgba.shape[:2] != size:
            raise PixelgenError(
                f"the mask is {rgba.shape[1]}x{rgba.shape[0]}; the sprite is {width}x{height}"
            )
        luma = rgba[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        chosen = (luma >= 128) & (rgba[..., 3] >= 128)
    elif region is not None:
        x, y, w, h = _region(region)
        if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
            raise SettingError(
                f"{{region}} {x},{y},{w},{h} is not inside the {width}x{height} sprite",
                exit_code=1,
            )
        chosen = np.zeros(size, dtype=bool)
        chosen[y : y + h, x : x + w] = True
    else:
        return None
    if not chosen.any():
        raise PixelgenError("the mask selects no pixels to redraw (white, opaque = redraw)")
    return chosen


def _region(region: str | tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    if isinstance(region, str):
        try:
            parts = tuple(int(v) for v in region.split(","))
        except ValueError:
            parts = ()
        if len(parts) != 4:
            raise SettingError(
                f"{{region}} must be X,Y,W,H (four integers), got {region!r}", exit_code=1
            )
        return parts
    return tuple(int(v) for v in region)
