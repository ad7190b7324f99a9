"""Autotile sets: two terrains' seamless tiles assembled into a set a map editor paints
with (Tiled's Wang sets, Godot's terrains).

- ``wang16``: the 16-tile corner set. Each of a tile's four corners is terrain 0 or 1;
  a tile's quarter is the terrain of the corner it touches. Neighbours agree when they
  share the colours of the two corners on their common edge.
- ``blob47``: terrain 1 drawn as blobs over terrain 0. A terrain-1 tile says, for each of
  its eight neighbours, whether it is terrain 1 too; a corner counts only when both sides
  next to it do, which leaves 47 tiles, and one more tile of terrain 0 alone.

Tiles are cut from the two base tiles by a mask (`transition_mask`) that, along each tile
edge, depends only on what the two tiles sharing that edge agree on. So every pixel on
either side of a tile edge comes from one base tile, at the same place as where that
base tile meets itself when repeated: an arrangement the rules allow is exactly as
seamless as the base tiles are (`seam_pairs` checks it). "inpaint" transitions redraw the
straight cut between terrains with the model, keeping each tile's outer ring, so the
same holds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from pixelgen_core.errors import PixelgenError, SettingError
from pixelgen_core.exports.sheet import Terrains

KINDS = ("wang16", "blob47")
TRANSITIONS = ("cut", "inpaint")
TOP, TOP_RIGHT, RIGHT, BOTTOM_RIGHT, BOTTOM, BOTTOM_LEFT, LEFT, TOP_LEFT = range(8)
COLOURS = ("#4c8c2b", "#2b5c8c")  # how the editors show terrains 0 and 1


def wang16() -> list[tuple[int | None, ...]]:
    """The 16 corner tiles, as eight neighbour values (sides None): corners (top-left,
    top-right, bottom-right, bottom-left) counting up in binary, so tile 0 is all
    terrain 0 and tile 15 all terrain 1."""
    tiles = []
    for tl, tr, br, bl in itertools.product((0, 1), repeat=4):
        tiles.append((None, tr, None, br, None, bl, None, tl))
    return tiles


def blob47() -> list[tuple[int | None, ...]]:
    """Terrain 0 alone, then the 47 terrain-1 tiles: each side 0 or 1, each corner 1
    only where both of its sides are."""
    tiles: list[tuple[int | None, ...]] = [(0,) * 8]
    for top, right, bottom, left in itertools.product((0, 1), repeat=4):
        corner_choices = [
            (0, 1) if a and b else (0,)
            for a, b in ((top, right), (right, bottom), (bottom, left), (left, top))
        ]
        for tr, br, bl, tl in itertools.product(*corner_choices):
            tiles.append((top, tr, right, br, bottom, bl, left, tl))
    return tiles


def terrains(kind: str, names: tuple[str, str]) -> Terrains:
    """The set's tiles as Tiled and Godot describe them."""
    if kind == "wang16":
        around = wang16()
        centres = tuple(int(sum(v for v in a if v is not None) >= 2) for a in around)
        return Terrains("corner", names, COLOURS, centres, tuple(around))
    if kind == "blob47":
        around = blob47()
        centres = (0,) + (1,) * (len(around) - 1)
        # terrain 1 alone looks, by its eight neighbours, like terrain 0's tile: a terrain
        # brush could not tell them apart, so only Godot (which also reads the centre) gets it
        painted = tuple(i == 0 or any(a) for i, a in enumerate(around))
        return Terrains("mixed", names, COLOURS, centres, tuple(around), painted)
    raise PixelgenError(f"unknown tileset kind {kind!r}; choose from {', '.join(KINDS)}")


def transition_mask(around: tuple[int | None, ...], centre: int, size: int) -> np.ndarray:
    """(size, size) bool, True where the tile shows terrain 1."""
    half = size // 2
    mask = np.zeros((size, size), dtype=bool)
    if around[TOP] is None:  # corners only: each quarter is its corner's terrain
        mask[:half, :half] = around[TOP_LEFT] == 1
        mask[:half, half:] = around[TOP_RIGHT] == 1
        mask[half:, half:] = around[BOTTOM_RIGHT] == 1
        mask[half:, :half] = around[BOTTOM_LEFT] == 1
        return mask
    if centre == 0:
        return mask
    m = max(1, size // 4)  # the width of the border bands
    inner = slice(m, size - m)
    mask[inner, inner] = True
    mask[:m, inner] = around[TOP] == 1
    mask[-m:, inner] = around[BOTTOM] == 1
    mask[inner, :m] = around[LEFT] == 1
    mask[inner, -m:] = around[RIGHT] == 1
    mask[:m, :m] = around[TOP_LEFT] == 1
    mask[:m, -m:] = around[TOP_RIGHT] == 1
    mask[-m:, -m:] = around[BOTTOM_RIGHT] == 1
    mask[-m:, :m] = around[BOTTOM_LEFT] == 1
    return mask


def inpaint_band(mask: np.ndarray, width: int = 2) -> np.ndarray:
    """The pixels within `width` of the cut between terrains, less the tile's outer
    ring (which neighbours must find unchanged): what "inpaint" redraws."""
    h, w = mask.shape
    padded = np.pad(mask, width, mode="edge")
    near_other = np.zeros_like(mask)
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            shifted = padded[width + dy : width + dy + h, width + dx : width + dx + w]
            near_other |= shifted != mask
    near_other[[0, -1], :] = False
    near_other[:, [0, -1]] = False
    return near_other


@dataclass
class TileSet:
    """An autotile set: `tiles` RGBA (T, S, S, 4), what each tile's edges say
    (`terrains`), and the two seamless base tiles it was cut from."""

    kind: str
    tiles: np.ndarray
    terrains: Terrains
    base: np.ndarray  # (2, S, S, 4): terrain 0's tile, terrain 1's tile
    transitions: str = "cut"

    @property
    def columns(self) -> int:
        return 4 if self.kind == "wang16" else 8

    def seams(self) -> tuple[float, float]:
        """How visible the seams are (`seam_pairs`): the mean colour difference across
        every edge the rules let meet, and the same across the tiles' middles."""
        return seam_pairs(self)

    def bands(self) -> list[np.ndarray]:
        """Per tile, bool (S, S): the band around the cut between its terrains that
        inpainting redraws (`inpaint_band`); all False where only one terrain shows."""
        size = self.tiles.shape[1]
        described = self.terrains
        return [
            inpaint_band(transition_mask(a, c, size))
            for a, c in zip(described.neighbours, described.centres, strict=True)
        ]

    def transition_tiles(self) -> np.ndarray:
        """The tiles where both terrains show: those transitions change."""
        return self.tiles[np.array([band.any() for band in self.bands()])]

    def sample_map(self, rows: int = 12, columns: int = 16, seed: int = 0) -> np.ndarray:
        """(rows, columns) tile indices of a map painted with the set: random blobs of
        terrain 1 over terrain 0, each cell given the tile its neighbours call for."""
        rng = np.random.default_rng(seed)
        if self.kind == "wang16":
            corners = _blobs(rng, rows + 1, columns + 1)
            tl, tr = corners[:-1, :-1], corners[:-1, 1:]
            br, bl = corners[1:, 1:], corners[1:, :-1]
            return tl * 8 + tr * 4 + br * 2 + bl
        cells = np.pad(_blobs(rng, rows, columns), 1)  # terrain 0 beyond the map
        index = {a: i for i, a in enumerate(blob47()) if i > 0}
        out = np.zeros((rows, columns), dtype=np.int64)
        for y, x in itertools.product(range(rows), range(columns)):
            if not cells[y + 1, x + 1]:
                continue
            window = cells[y : y + 3, x : x + 3]
            top, right, bottom, left = window[0, 1], window[1, 2], window[2, 1], window[1, 0]
            tr = int(top and right and window[0, 2])
            br = int(bottom and right and window[2, 2])
            bl = int(bottom and left and window[2, 0])
            tl = int(top and left and window[0, 0])
            out[y, x] = index[(int(top), tr, int(right), br, int(bottom), bl, int(left), tl)]
        return out

    def render(self, cells: np.ndarray) -> np.ndarray:
        """The map `cells` as one RGBA image, tile by tile."""
        rows, columns = cells.shape
        s = self.tiles.shape[1]
        image = self.tiles[cells].transpose(0, 2, 1, 3, 4).reshape(rows * s, columns * s, 4)
        return np.ascontiguousarray(image)

    def save(self, folder, scale: int = 1, map_seed: int = 0) -> list[str]:
        """Write the set into `folder`, each file atomically, and return their names:
        tiles.png and tiles.json (the sheet and its atlas), tileset.tsx (Tiled, with the
        Wang set), map.tmx (a sample map painted with it) and map.png (that map as
        pixelgen draws it), tileset.tres (Godot 4, with the terrain set), base.png (the
        two base tiles)."""
        from pathlib import Path

        from pixelgen_core.atlas import SheetLayout, write_sheet
        from pixelgen_core.exports import godot, tiled
        from pixelgen_core.exports.sheet import SheetImage
        from pixelgen_core.images import check_output_size, write_png

        folder = Path(folder)
        n, s = len(self.tiles), self.tiles.shape[1]
        cells = self.sample_map(seed=map_seed)
        rows, columns = cells.shape
        check_output_size(
            cells.size, s, s, scale, f"a {columns}x{rows}-tile map at --scale {scale}"
        )
        layout = SheetLayout(columns=self.columns)
        source = {"command": "tileset", "kind": self.kind, "terrains": list(self.terrains.names)}
        source["transitions"] = self.transitions
        write_sheet(self.tiles, folder, layout, scale, source=source, name="tiles")
        sheet = SheetImage.of("tiles.png", n, s, s, self.columns, 0, 0, scale)
        tiled.write_tileset(folder, "tileset", sheet, terrains=self.terrains)
        tiled.write_map(folder, "map", "tileset.tsx", sheet, cells.tolist())
        write_png(self.render(cells), folder / "map.png", scale)
        godot.write_tile_set(folder, "tileset", sheet, self.terrains)
        write_png(np.concatenate(list(self.base), axis=1), folder / "base.png", scale)
        return ["tiles.png", "tiles.json", "tileset.tsx", "map.tmx", "map.png"] + [
            "tileset.tres",
            "base.png",
        ]


def _blobs(rng: np.random.Generator, rows: int, columns: int) -> np.ndarray:
    """A 0/1 grid of smooth random blobs, about half of each."""
    noise = rng.random((rows + 4, columns + 4))
    for _ in range(2):  # a 3x3 box blur, twice
        noise = sum(np.roll(np.roll(noise, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    noise = noise[2:-2, 2:-2]
    return (noise > np.median(noise)).astype(np.int64)


def assemble(kind: str, base: np.ndarray, names: tuple[str, str]) -> TileSet:
    """The set cut from `base` (2, S, S, 4): each tile terrain 1's base tile where its
    mask says, terrain 0's elsewhere."""
    base = np.asarray(base)
    if base.ndim != 4 or base.shape[0] != 2 or base.shape[1] != base.shape[2]:
        raise PixelgenError(f"a tileset needs two square base tiles, got {base.shape}")
    described = terrains(kind, names)
    size = base.shape[1]
    tiles = np.stack(
        [
            np.where(transition_mask(a, c, size)[..., None], base[1], base[0])
            for a, c in zip(described.neighbours, described.centres, strict=True)
        ]
    )
    return TileSet(kind, tiles, described, base)


def may_neighbour(a: tuple[int | None, ...], b: tuple[int | None, ...], across: str) -> bool:
    """Whether tile `b` may sit right of (`across`="x") or below ("y") tile `a`: they
    agree on every value of their common edge that both state."""
    if across == "x":
        pairs = ((TOP_RIGHT, TOP_LEFT), (RIGHT, LEFT), (BOTTOM_RIGHT, BOTTOM_LEFT))
    else:
        pairs = ((BOTTOM_LEFT, TOP_LEFT), (BOTTOM, TOP), (BOTTOM_RIGHT, TOP_RIGHT))
    return all(a[i] is None or b[j] is None or a[i] == b[j] for i, j in pairs)


def seam_pairs(tileset: TileSet) -> tuple[float, float]:
    """The seam measure of `testing.seam_difference`, over every pair of tiles the rules
    let meet: the mean colour difference across their common edge, and the same across
    the middle of the tiles (column S/2 - 1 to S/2, and row likewise)."""
    x = tileset.tiles.astype(np.float64)
    around = tileset.terrains.neighbours
    n, s = len(x), x.shape[1]
    across, middle = [], []
    for i, j in itertools.product(range(n), repeat=2):
        if may_neighbour(around[i], around[j], "x"):
            across.append(np.abs(x[i][:, -1] - x[j][:, 0]).mean())
        if may_neighbour(around[i], around[j], "y"):
            across.append(np.abs(x[i][-1] - x[j][0]).mean())
    for tile in x:
        middle.append(np.abs(tile[:, s // 2 - 1] - tile[:, s // 2]).mean())
        middle.append(np.abs(tile[s // 2 - 1] - tile[s // 2]).mean())
    return float(np.mean(across)), float(np.mean(middle))


CANDIDATES = 8  # base tiles drawn per terrain, of which `choose_base` keeps one


def choose_base(candidates: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
    """The candidate most fit to be ground: fewest transparent pixels (a hole in a
    terrain shows the layer below), then the least seam where it meets itself, then,
    given the `other` terrain's tile, the one whose colours differ most from it."""
    from pixelgen_core.palette import ALPHA_THRESHOLD

    x = candidates.astype(np.float64)
    holes = (candidates[..., 3] < 255 * ALPHA_THRESHOLD).mean(axis=(1, 2))
    seam = (
        np.abs(x[:, :, -1] - x[:, :, 0]).mean((1, 2)) + np.abs(x[:, -1] - x[:, 0]).mean((1, 2))
    ) / 2
    apart = 0.0 if other is None else np.abs(x.mean((1, 2)) - other.mean((0, 1))).mean(-1)
    score = np.round(holes, 2) * 1e6 + seam - apart
    return candidates[int(np.argmin(score))]


def make_tileset(
    run,
    kind: str = "wang16",
    seed: int = 0,
    labels: tuple[int, ...] = (),
    prompts: tuple[str, ...] = (),
    transitions: str | None = None,
    options: dict | None = None,
) -> TileSet:
    """A set from a trained run: terrain k's base tile is the best (`choose_base`) of
    `CANDIDATES` drawn tileable from seed + k, with the k-th of `labels` or `prompts`
    (one given: both terrains use it; none: the run draws freely); the transitions are
    cut (the default: as clean as the base tiles and 100x faster), or inpainted by the
    run's model (rounder edges, with more specks; benchmarks/RESULTS.md)."""
    from pixelgen_core import plugins
    from pixelgen_core.sampling import has_capability

    options = options or {}
    transitions = transitions or "cut"
    if kind not in KINDS:
        raise SettingError(f"unknown {{kind}} {kind!r}; choose from {', '.join(KINDS)}", 1)
    if transitions not in TRANSITIONS:
        raise SettingError(f"{{transitions}} must be one of {', '.join(TRANSITIONS)}", 1)
    if transitions == "inpaint" and not has_capability(run.strategy, "edit"):
        raise plugins.registry().lacks(run.name, "edit", "inpaint tile transitions")
    if labels and prompts:
        raise SettingError("give the terrains by {labels} or by {prompts}, not both", 1)
    asked = list(labels or prompts)
    if len(asked) > 2:
        raise SettingError(
            "a tileset has two terrains: give {labels} or {prompts} at most twice", 1
        )
    h, w = run.info.shape
    if h != w:
        raise PixelgenError(f"tiles must be square; this run makes {w}x{h} sprites")
    conditions = (asked * 2)[:2] if asked else [None, None]
    names, base = [], []
    for k, condition in enumerate(conditions):
        label = condition if labels else None
        prompt = condition if prompts else None
        drawn = run.sample(
            CANDIDATES, seed=seed + k, label=label, prompt=prompt, tileable=True, **options
        )
        base.append(choose_base(np.asarray(drawn), base[0] if k else None))
        if prompt is not None:
            names.append(prompt)
        else:
            names.append(f"class {label}" if label is not None else f"terrain {k}")
    if names[0] == names[1]:
        names = [f"{names[0]} ({k})" for k in range(2)]
    tileset = assemble(kind, np.stack(base), (names[0], names[1]))
    if transitions == "inpaint":
        tileset = inpaint(run, tileset, seed, options)
    return tileset


def inpaint(run, tileset: TileSet, seed: int, options: dict) -> TileSet:
    """Each tile whose terrains meet redrawn by the model along the cut (`inpaint_band`),
    its outer ring and every other pixel kept."""
    tiles = tileset.tiles.copy()
    size = tiles.shape[1]
    for i, band in enumerate(tileset.bands()):
        if not band.any():
            continue
        mask = np.zeros((size, size, 4), dtype=np.uint8)
        mask[band] = 255
        edited = run.edit(tiles[i], mask=mask, strength=1.0, seed=seed + i, **options)
        tiles[i] = np.asarray(edited)[0]
    return TileSet(tileset.kind, tiles, tileset.terrains, tileset.base, "inpaint")
