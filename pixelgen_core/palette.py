"""Palettes: extract a sprite set's colours (exactly, or by k-means), and snap images to them.

Index 0 of every palette is the transparent background; indices 1..K are opaque colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelgen_core import checks
from pixelgen_core.errors import PixelgenError

ALPHA_THRESHOLD = 0.5  # a pixel with alpha below this (in [0, 1]) is background
SNAP_CHUNK = 1024  # images snapped at a time: bounds the temporaries of a big folder


@dataclass(frozen=True)
class Palette:
    colors: np.ndarray  # (K, 3) uint8, the opaque colours; transparency is index 0

    @property
    def size(self) -> int:
        """Number of entries including the transparent one."""
        return len(self.colors) + 1

    @property
    def rgba(self) -> np.ndarray:
        """(K + 1, 4) uint8 table: index 0 is (0, 0, 0, 0)."""
        table = np.zeros((self.size, 4), dtype=np.uint8)
        table[1:, :3] = self.colors
        table[1:, 3] = 255
        return table

    def as_tuples(self) -> tuple[tuple[float, float, float, float], ...]:
        return tuple(tuple(float(v) / 255 for v in row) for row in self.rgba)

    @classmethod
    def from_tuples(cls, rgba: list | tuple) -> Palette:
        table = np.rint(np.asarray(rgba, dtype=np.float64) * 255).astype(np.uint8)
        return cls(table[1:, :3].copy())

    def hex(self) -> list[str]:
        return ["#{:02x}{:02x}{:02x}".format(*c) for c in self.colors]

    def snap(self, images: np.ndarray, dtype: type = np.int64) -> np.ndarray:
        """Map RGBA images to palette indices (nearest opaque colour; low alpha -> 0).

        `images` is (..., 4) uint8, or float in [0, 1]. Returns indices of shape (...) as
        `dtype` (np.uint8 holds any palette of up to 256 entries in a byte per pixel).
        Uint8 images are snapped colour by colour (each distinct RGBA value once) and in
        chunks of images, so a folder of 20,000 sprites needs neither a pixels x colours
        distance table nor 8-byte temporaries for every pixel.
        """
        rgba = np.asarray(images)
        if rgba.dtype != np.uint8:
            flat = rgba.astype(np.float32).reshape(-1, 4)
            return self._nearest(flat).reshape(rgba.shape[:-1]).astype(dtype, copy=False)
        out = np.empty(rgba.shape[:-1], dtype=dtype)
        if rgba.ndim < 4 or len(rgba) == 0:  # one image (H, W, 4), or none
            out[...] = self._snap_colours(rgba)
            return out
        for start in range(0, len(rgba), SNAP_CHUNK):
            out[start : start + SNAP_CHUNK] = self._snap_colours(rgba[start : start + SNAP_CHUNK])
        return out

    def _snap_colours(self, rgba: np.ndarray) -> np.ndarray:
        """Uint8 RGBA (..., 4) -> indices (...), computing each distinct colour once."""
        packed = np.ascontiguousarray(rgba).view(np.uint32).reshape(rgba.shape[:-1])
        distinct, inverse = np.unique(packed, return_inverse=True)
        table = self._nearest(distinct.view(np.uint8).reshape(-1, 4).astype(np.float32) / 255)
        return table[inverse].reshape(rgba.shape[:-1])

    def _nearest(self, flat: np.ndarray) -> np.ndarray:
        """Float RGBA (P, 4) in [0, 1] -> the nearest opaque entry's index, 0 if alpha is low."""
        colors = self.colors.astype(np.float32) / 255
        dist = ((flat[:, None, :3] - colors[None, :, :]) ** 2).sum(-1)
        indices = dist.argmin(1) + 1
        indices[flat[:, 3] < ALPHA_THRESHOLD] = 0
        return indices

    def to_rgba(self, indices: np.ndarray) -> np.ndarray:
        """Palette indices (...) -> RGBA uint8 (..., 4)."""
        return self.rgba[np.asarray(indices)]


def unblend(rgba: np.ndarray) -> np.ndarray:
    """Float RGBA (..., 4) in [0, 1] with the colour divided by the alpha (where it is
    above 0), for snapping a model's output.

    Clear pixels are (0, 0, 0, 0) in training, so where a model is unsure whether a
    pixel is clear (with chance 1 - p) or colour c, its estimate is the blend p * (c, 1):
    alpha p and a colour darkened towards black. Snapped as it is, that pixel lands on
    a darker palette colour, a speck; divided by its alpha it is c again. Sprites with
    a dark palette colour, as most have, are where this shows (the diffusion model's
    two-step sprites had 2.9 colours each instead of 1.3; benchmarks/RESULTS.md)."""
    out = np.array(rgba, dtype=np.float32)
    alpha = out[..., 3:4]
    np.divide(out[..., :3], alpha, out=out[..., :3], where=alpha > 0)
    np.clip(out[..., :3], 0, 1, out=out[..., :3])
    return out


def extract(sprites: np.ndarray, max_colors: int, seed: int = 0) -> Palette:
    """The palette of RGBA uint8 sprites (N, H, W, 4).

    The exact set of opaque colours when there are at most `max_colors`; otherwise
    k-means centres (transparent pixels excluded, fixed random_state and n_init).
    """
    checks.max_colors(max_colors)
    codes = _distinct_colours(sprites)
    if len(codes) == 0:
        raise PixelgenError("the sprites have no opaque pixels: there is no palette to extract")
    unique = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1).astype(np.uint8)
    if len(unique) <= max_colors:
        return Palette(_sort_colors(unique))
    pixels = sprites[sprites[..., 3] >= 128][:, :3]
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    sample = pixels if len(pixels) <= 100_000 else pixels[rng.choice(len(pixels), 100_000)]
    km = KMeans(n_clusters=max_colors, random_state=seed, n_init=4).fit(sample.astype(np.float32))
    centres = np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8)
    return Palette(_sort_colors(np.unique(centres, axis=0)))


def _distinct_colours(sprites: np.ndarray) -> np.ndarray:
    """The distinct opaque colours of RGBA uint8 sprites as sorted 24-bit integers
    (0xRRGGBB: the order of unique (r, g, b) rows), a chunk of sprites at a time so a
    big folder needs no temporaries the size of all its pixels."""
    found = []
    for start in range(0, len(sprites), SNAP_CHUNK):
        chunk = sprites[start : start + SNAP_CHUNK]
        pixels = chunk[chunk[..., 3] >= 128]
        packed = pixels[:, 0].astype(np.uint32) << 16
        packed |= pixels[:, 1].astype(np.uint32) << 8
        packed |= pixels[:, 2]
        found.append(np.unique(packed))
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint32)


def _sort_colors(colors: np.ndarray) -> np.ndarray:
    """Order colours by luminance so palettes read dark to light."""
    luma = colors.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return colors[np.argsort(luma, kind="stable")]


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 (..., 3) -> CIELAB (..., 3) under D65, where Euclidean distance roughly
    follows how different two colours look (unlike distance in RGB)."""
    c = np.asarray(rgb, dtype=np.float64) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]]
    )
    xyz /= np.array([0.95047, 1.0, 1.08883])  # the D65 white point
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def remap(source: Palette, target: Palette) -> np.ndarray:
    """Index table (source.size,) taking `source` indices to `target` indices.

    The colours are paired one to one by an optimal assignment (smallest total CIELAB
    distance; scipy's linear_sum_assignment), so two colours of a sprite never merge and
    its contrast survives. Lightness is compared relative to each palette's own range
    (its darkest colour 0, its lightest 100), so a light colour goes to a light one even
    in a palette that has no white, such as the Game Boy's. When `source` has more
    colours than `target`, each target colour takes the nearest of them, at most
    ceil(K / M), so they spread over the whole target palette. Transparency stays 0."""
    from scipy.optimize import linear_sum_assignment

    a, b = _relative_lab(source.colors), _relative_lab(target.colors)
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    share = -(-len(source.colors) // len(target.colors))
    rows, cols = linear_sum_assignment(np.tile(cost, (1, share)))
    table = np.zeros(source.size, dtype=np.int64)
    table[rows + 1] = cols % len(target.colors) + 1
    return table


def _relative_lab(colors: np.ndarray) -> np.ndarray:
    """CIELAB with L* stretched to the palette's own range (a one-colour palette: as is)."""
    lab = to_lab(colors)
    low, high = lab[:, 0].min(), lab[:, 0].max()
    if high - low > 1e-6:
        lab[:, 0] = 100 * (lab[:, 0] - low) / (high - low)
    return lab
