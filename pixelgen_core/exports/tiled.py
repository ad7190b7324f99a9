"""Tiled tilesets (`.tsx`) and maps (`.tmx`), in Tiled's TMX format (version 1.8).

A tileset points at the sheet PNG beside it; a tileset made by `pixelgen tileset` also
has a Wang set, so Tiled's terrain brush paints with it. Its `wangid` lists eight colours
clockwise from the top edge (top, top-right corner, right, ...), 0 meaning "any"; the
terrains are colours 1 and 2.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from pixelgen_core.exports.sheet import SheetImage, Terrains

TMX_VERSION = "1.8"


def _xml(root: ET.Element) -> str:
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def tileset_xml(
    sheet: SheetImage,
    name: str,
    properties: Sequence[dict] | None = None,
    terrains: Terrains | None = None,
) -> str:
    """The `.tsx` text: the sheet as tiles, each tile's `properties` (seed, class,
    prompt) and, for a terrain set, its Wang set."""
    root = ET.Element(
        "tileset",
        version=TMX_VERSION,
        name=name,
        tilewidth=str(sheet.tile_width),
        tileheight=str(sheet.tile_height),
        spacing=str(sheet.spacing),
        margin=str(sheet.margin),
        tilecount=str(sheet.count),
        columns=str(sheet.columns),
    )
    ET.SubElement(
        root, "image", source=sheet.image, width=str(sheet.width), height=str(sheet.height)
    )
    for i, values in enumerate(properties or ()):
        values = {k: v for k, v in values.items() if v is not None}
        if not values:
            continue
        tile = ET.SubElement(root, "tile", id=str(i))
        listed = ET.SubElement(tile, "properties")
        for key, value in values.items():
            kind = "int" if isinstance(value, int) else "string"
            ET.SubElement(listed, "property", name=key, type=kind, value=str(value))
    if terrains is not None:
        wangsets = ET.SubElement(root, "wangsets")
        wangset = ET.SubElement(
            wangsets, "wangset", name=" / ".join(terrains.names), type=terrains.kind, tile="-1"
        )
        for k, (terrain, colour) in enumerate(zip(terrains.names, terrains.colours, strict=True)):
            pure = _pure_tile(terrains, k)
            ET.SubElement(
                wangset, "wangcolor", name=terrain, color=colour, tile=str(pure), probability="1"
            )
        for i, around in enumerate(terrains.neighbours):
            if not terrains.paints(i):
                continue
            wangid = ",".join("0" if v is None else str(v + 1) for v in around)
            ET.SubElement(wangset, "wangtile", tileid=str(i), wangid=wangid)
    return _xml(root)


def _pure_tile(terrains: Terrains, k: int) -> int:
    """A tile wholly of terrain k (the editors show it as the terrain's icon), or -1."""
    for i, around in enumerate(terrains.neighbours):
        if terrains.centres[i] == k and all(v in (None, k) for v in around):
            return i
    return -1


def map_xml(tileset: str, sheet: SheetImage, cells: Sequence[Sequence[int]]) -> str:
    """A `.tmx` map of one tile layer: `cells` rows of tile indices into `tileset`."""
    rows, columns = len(cells), len(cells[0])
    root = ET.Element(
        "map",
        version=TMX_VERSION,
        orientation="orthogonal",
        renderorder="right-down",
        width=str(columns),
        height=str(rows),
        tilewidth=str(sheet.tile_width),
        tileheight=str(sheet.tile_height),
        infinite="0",
        nextlayerid="2",
        nextobjectid="1",
    )
    ET.SubElement(root, "tileset", firstgid="1", source=tileset)
    layer = ET.SubElement(
        root, "layer", id="1", name="terrain", width=str(columns), height=str(rows)
    )
    data = ET.SubElement(layer, "data", encoding="csv")
    data.text = "\n" + ",\n".join(",".join(str(i + 1) for i in row) for row in cells) + "\n"
    return _xml(root)


def write_tileset(folder: Path, name: str, sheet: SheetImage, **kwargs) -> Path:
    from pixelgen_core.files import write_text

    return write_text(Path(folder) / f"{name}.tsx", tileset_xml(sheet, name, **kwargs))


def write_map(folder: Path, name: str, tileset: str, sheet: SheetImage, cells) -> Path:
    from pixelgen_core.files import write_text

    return write_text(Path(folder) / f"{name}.tmx", map_xml(tileset, sheet, cells))
