"""What Tiled and Godot need to know of a written sheet, and of a tileset's terrains."""

from __future__ import annotations

from dataclasses import dataclass, field

# The eight neighbours of a square tile, in the order of Tiled's wangid (clockwise from
# the top), and Godot 4's names for them as terrain peering bits.
NEIGHBOURS = (
    "top_side",
    "top_right_corner",
    "right_side",
    "bottom_right_corner",
    "bottom_side",
    "bottom_left_corner",
    "left_side",
    "top_left_corner",
)


@dataclass(frozen=True)
class SheetImage:
    """A sheet PNG as written: its file name, size, and where each of `count` tiles of
    `tile_width` x `tile_height` lies (`columns` per row, `spacing` apart, `margin`
    around), all in the written image's pixels."""

    image: str
    width: int
    height: int
    tile_width: int
    tile_height: int
    count: int
    columns: int
    spacing: int = 0
    margin: int = 0

    @classmethod
    def of(cls, image: str, n: int, h: int, w: int, columns: int | None, spacing: int,
           margin: int, scale: int) -> SheetImage:  # fmt: skip
        """The sheet `atlas.compose` lays out for n sprites of h x w, written at `scale`."""
        from pixelgen_core.atlas import SheetLayout

        layout = SheetLayout(columns, spacing, margin)
        _, width, height = layout.positions(n, h, w)
        return cls(
            image,
            width * scale,
            height * scale,
            w * scale,
            h * scale,
            n,
            layout.columns_for(n),
            spacing * scale,
            margin * scale,
        )

    def cell(self, i: int) -> tuple[int, int]:
        """Tile i's (column, row) on the sheet."""
        return i % self.columns, i // self.columns

    def position(self, i: int) -> tuple[int, int]:
        """Tile i's top-left pixel (x, y)."""
        column, row = self.cell(i)
        return (
            self.margin + column * (self.tile_width + self.spacing),
            self.margin + row * (self.tile_height + self.spacing),
        )


@dataclass(frozen=True)
class Terrains:
    """Two terrains and, for each tile of a set, what its centre and its eight
    neighbours (in `NEIGHBOURS` order) are: 0 or 1, or None where a tile does not say.

    `kind` is "corner" (only the four corners say: Wang corner sets, Godot's match
    corners) or "mixed" (sides and corners: blob sets, Godot's match corners and sides).
    """

    kind: str
    names: tuple[str, str]
    colours: tuple[str, str]  # "#rrggbb", how the editors show each terrain
    centres: tuple[int, ...]
    neighbours: tuple[tuple[int | None, ...], ...]
    painted: tuple[bool, ...] = field(default=())  # tiles the terrain brush may place

    def paints(self, i: int) -> bool:
        return not self.painted or self.painted[i]
