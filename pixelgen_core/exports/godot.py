"""Godot 4 resources in its text format (`.tres`, format=3): a `SpriteFrames` for a sheet
(one animation per prompt or class, each frame an `AtlasTexture` region of the sheet) and
a `TileSet` for tiles (one `TileSetAtlasSource`; for a terrain set, its terrain set and
each tile's peering bits).

Paths are ``res://`` plus the file's name: the resources expect to sit in the project's
root beside the sheet. Moved into a sub-folder, Godot's import dock or a text edit of the
one `ext_resource` line fixes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pixelgen_core.exports.sheet import NEIGHBOURS, SheetImage, Terrains

FRAMES_PER_SECOND = 10.0  # the same 100 ms a frame as the Aseprite file
MATCH_CORNERS_AND_SIDES, MATCH_CORNERS = 0, 1  # Godot's TileSet.TerrainMode


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _texture(sheet: SheetImage) -> str:
    return f'[ext_resource type="Texture2D" path="res://{sheet.image}" id="1_sheet"]\n'


def sprite_frames(sheet: SheetImage, animations: Sequence[tuple[str, Sequence[int]]]) -> str:
    """A SpriteFrames resource: each (name, tile indices) an animation over the sheet."""
    used = sorted({i for _, frames in animations for i in frames})
    parts = [f'[gd_resource type="SpriteFrames" load_steps={len(used) + 2} format=3]\n']
    parts.append(_texture(sheet))
    for i in used:
        x, y = sheet.position(i)
        parts.append(
            f'[sub_resource type="AtlasTexture" id="AtlasTexture_{i}"]\n'
            'atlas = ExtResource("1_sheet")\n'
            f"region = Rect2({x}, {y}, {sheet.tile_width}, {sheet.tile_height})\n"
        )
    listed = []
    for name, frames in animations:
        shown = ",\n".join(
            f'{{\n"duration": 1.0,\n"texture": SubResource("AtlasTexture_{i}")\n}}' for i in frames
        )
        listed.append(
            f'{{\n"frames": [{shown}],\n"loop": true,\n"name": {_string(name)},\n'
            f'"speed": {FRAMES_PER_SECOND}\n}}'
        )
    parts.append("[resource]\nanimations = [" + ", ".join(listed) + "]\n")
    return "\n".join(parts)


def tile_set(sheet: SheetImage, terrains: Terrains | None = None) -> str:
    """A TileSet resource with every tile of the sheet in one atlas source; with
    `terrains`, terrain set 0 and each tile's terrain and peering bits."""
    lines = [
        '[sub_resource type="TileSetAtlasSource" id="TileSetAtlasSource_0"]',
        'texture = ExtResource("1_sheet")',
        f"margins = Vector2i({sheet.margin}, {sheet.margin})",
        f"separation = Vector2i({sheet.spacing}, {sheet.spacing})",
        f"texture_region_size = Vector2i({sheet.tile_width}, {sheet.tile_height})",
    ]
    for i in range(sheet.count):
        column, row = sheet.cell(i)
        tile = f"{column}:{row}/0"
        lines.append(f"{tile} = 0")
        if terrains is None:
            continue
        lines += [f"{tile}/terrain_set = 0", f"{tile}/terrain = {terrains.centres[i]}"]
        for bit, value in zip(NEIGHBOURS, terrains.neighbours[i], strict=True):
            if value is not None:
                lines.append(f"{tile}/terrains_peering_bit/{bit} = {value}")
    resource = [
        "[resource]",
        f"tile_size = Vector2i({sheet.tile_width}, {sheet.tile_height})",
    ]
    if terrains is not None:
        mode = MATCH_CORNERS if terrains.kind == "corner" else MATCH_CORNERS_AND_SIDES
        resource.append(f"terrain_set_0/mode = {mode}")
        for k, (name, colour) in enumerate(zip(terrains.names, terrains.colours, strict=True)):
            r, g, b = (int(colour[j : j + 2], 16) / 255 for j in (1, 3, 5))
            resource += [
                f"terrain_set_0/terrain_{k}/name = {_string(name)}",
                f"terrain_set_0/terrain_{k}/color = Color({r:.4g}, {g:.4g}, {b:.4g}, 1)",
            ]
    resource.append('sources/0 = SubResource("TileSetAtlasSource_0")')
    return "\n".join(
        [
            '[gd_resource type="TileSet" load_steps=3 format=3]\n',
            _texture(sheet),
            "\n".join(lines) + "\n",
            "\n".join(resource) + "\n",
        ]
    )


def write_sprite_frames(folder: Path, name: str, sheet: SheetImage, animations) -> Path:
    from pixelgen_core.files import write_text

    return write_text(Path(folder) / f"{name}.tres", sprite_frames(sheet, animations))


def write_tile_set(folder: Path, name: str, sheet: SheetImage, terrains=None) -> Path:
    from pixelgen_core.files import write_text

    return write_text(Path(folder) / f"{name}.tres", tile_set(sheet, terrains))
