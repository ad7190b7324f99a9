"""Files that game engines and editors open as they are, written beside a sheet.

`sample` and `edit` take ``--export FORMAT`` (repeatable); each format reads the sheet
that ``--sheet`` writes (sheet.png), so asking for one writes the sheet too:

- ``aseprite``: sprites.aseprite, indexed colour, one frame per sprite, a tag per prompt
  or class (Unity's 2D Aseprite Importer, Godot's Aseprite Wizard, Aseprite itself);
- ``aseprite-json``: sheet-aseprite.json, the sheet's atlas in Aseprite's json-array
  layout with its frame tags (Phaser's and other engines' Aseprite loaders);
- ``tiled``: sheet.tsx, a Tiled tileset of the sheet;
- ``godot``: sheet.tres, a Godot 4 SpriteFrames (one animation per prompt or class) and,
  for tileable sprites, sheet-tileset.tres, a Godot 4 TileSet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelgen_core.errors import PixelgenError

FORMATS = ("aseprite", "aseprite-json", "tiled", "godot")


def indexed(rgba: np.ndarray, palette=None) -> tuple[np.ndarray, np.ndarray]:
    """Sprites (N, H, W, 4) as palette indices and the palette's RGBA table, entry 0
    transparent: `palette` (a Palette the sprites are drawn in) or, without one, the
    sprites' own opaque colours in order of first use."""
    from pixelgen_core.palette import ALPHA_THRESHOLD, Palette

    rgba = np.asarray(rgba)
    if palette is None:
        opaque = rgba[rgba[..., 3] >= 255 * ALPHA_THRESHOLD][:, :3]
        _, first = np.unique(opaque, axis=0, return_index=True)
        palette = Palette(opaque[np.sort(first)].reshape(-1, 3))
    indices = palette.snap(rgba, np.uint8) if palette.size <= 256 else None
    if indices is None or not np.array_equal(palette.to_rgba(indices), _cleared(rgba)):
        raise PixelgenError(
            "these sprites are not in one palette of at most 255 colours, so they cannot "
            "be written in indexed colour"
        )
    return indices, palette.rgba


def _cleared(rgba: np.ndarray) -> np.ndarray:
    """`rgba` with every transparent pixel (0, 0, 0, 0), as a palette draws them."""
    from pixelgen_core.palette import ALPHA_THRESHOLD

    out = rgba.copy()
    out[rgba[..., 3] < 255 * ALPHA_THRESHOLD] = 0
    return out


def animations(n: int, tags) -> list[tuple[str, list[int]]]:
    """Each tag as an animation, and the frames in none of them as "default"."""
    named = [(tag.name, list(range(tag.first, tag.last + 1))) for tag in tags]
    covered = {i for _, frames in named for i in frames}
    rest = [i for i in range(n) if i not in covered]
    return named + ([("default", rest)] if rest else [])


def write_exports(
    sprites,
    folder: Path,
    formats: tuple[str, ...],
    columns: int | None,
    spacing: int,
    margin: int,
    scale: int,
    tileable: bool,
) -> list[str]:
    """Write each of `formats` for the sheet already written in `folder` (sheet.png);
    return the names of the files written."""
    import json

    from pixelgen_core.atlas import SheetLayout, atlas
    from pixelgen_core.exports import aseprite, godot, tiled
    from pixelgen_core.exports.sheet import SheetImage
    from pixelgen_core.files import write_text

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise PixelgenError(f"unknown export {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    folder = Path(folder)
    rgba = np.asarray(sprites)
    n, h, w, _ = rgba.shape
    tags = aseprite.group_tags(sprites.labels, sprites.prompts)
    sheet = SheetImage.of("sheet.png", n, h, w, columns, spacing, margin, scale)
    written = []
    for name in dict.fromkeys(formats):
        if name == "aseprite":
            indices, table = indexed(rgba, getattr(sprites, "palette", None))
            aseprite.write_aseprite(folder / "sprites.aseprite", indices, table, tags)
            written.append("sprites.aseprite")
        elif name == "aseprite-json":
            places, sheet_w, sheet_h = SheetLayout(columns, spacing, margin).positions(n, h, w)
            hashed = atlas(
                n, h, w, places, (sheet_w, sheet_h), sheet.image, scale, sprites.seeds,
                sprites.labels, None, sprites.prompts,
            )  # fmt: skip
            text = json.dumps(aseprite.json_array(hashed, tags), indent=1) + "\n"
            write_text(folder / "sheet-aseprite.json", text)
            written.append("sheet-aseprite.json")
        elif name == "tiled":
            tiled.write_tileset(folder, "sheet", sheet, properties=_properties(sprites))
            written.append("sheet.tsx")
        elif name == "godot":
            godot.write_sprite_frames(folder, "sheet", sheet, animations(n, tags))
            written.append("sheet.tres")
            if tileable:
                godot.write_tile_set(folder, "sheet-tileset", sheet)
                written.append("sheet-tileset.tres")
    return written


def _properties(sprites) -> list[dict]:
    """Each sprite's seed, class and prompt, as Tiled tile properties."""
    n = len(sprites)
    return [
        {
            "seed": sprites.seeds[i] if sprites.seeds else None,
            "class": sprites.labels[i] if sprites.labels else None,
            "prompt": sprites.prompts[i] if sprites.prompts else None,
        }
        for i in range(n)
    ]
