"""Files for engines and editors (`--export`), each read back by a reader pixelgen did
not write: the `aseprite` library, Tiled's tmxrasterizer and godot-parser."""

import json
import re

import numpy as np
import pytest

from pixelgen_core.errors import PixelgenError
from pixelgen_core.exports import indexed, write_exports
from pixelgen_core.exports.aseprite import Tag, aseprite_bytes, group_tags
from pixelgen_core.images import read_png
from pixelgen_core.palette import Palette
from pixelgen_core.sprites import Sprites

PALETTE = Palette(np.array([[20, 12, 28], [208, 70, 72], [109, 170, 44], [222, 238, 214]], "u1"))


def make_sprites(n=5, size=(6, 4), seed=0, **kwargs) -> Sprites:
    """Sprites of random palette indices (index 0 transparent), h x w = `size`."""
    indices = np.random.default_rng(seed).integers(0, PALETTE.size, (n, *size))
    return Sprites(PALETTE.to_rgba(indices), palette=PALETTE, **kwargs)


def export(sprites, folder, *formats, columns=None, spacing=0, margin=0, scale=1, tile=False):
    sprites.save_sheet(folder, columns, spacing, margin, scale)
    return write_exports(sprites, folder, formats, columns, spacing, margin, scale, tile)


def test_aseprite_files_read_back_pixel_for_pixel(tmp_path, read_aseprite):
    sprites = make_sprites(seeds=[7, 8, 9, 10, 11], labels=[0, 0, 1, 1, None])
    assert export(sprites, tmp_path, "aseprite") == ["sprites.aseprite"]
    read = read_aseprite(tmp_path / "sprites.aseprite")
    assert read["color_mode"] == 8 and read["transparent_index"] == 0  # indexed
    assert read["size"] == [4, 6] and read["layers"] == ["sprite"]
    assert np.array_equal(read["palette"], PALETTE.rgba)
    assert np.array_equal(read["frames"], np.asarray(sprites))  # every pixel of every frame
    assert read["tags"] == [["class 0", 0, 1], ["class 1", 2, 3]]


def test_aseprite_files_keep_the_palette_asked_for_and_tag_prompts(tmp_path, read_aseprite):
    sprites = make_sprites(3, (16, 16), prompts=["green slime"] * 3)
    sprites.palette = None  # a user's own Sprites: the palette is their colours in order
    export(sprites, tmp_path, "aseprite")
    read = read_aseprite(tmp_path / "sprites.aseprite")
    assert np.array_equal(read["frames"], np.asarray(sprites))
    assert read["palette"][0] == [0, 0, 0, 0] and len(read["palette"]) == PALETTE.size
    assert read["tags"] == [["green slime", 0, 2]]


def test_indexed_colour_refuses_sprites_in_no_palette():
    rgba = np.zeros((1, 16, 17, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[0, :, :, 0] = np.arange(16 * 17).reshape(16, 17) % 256
    rgba[0, :, :, 1] = np.arange(16 * 17).reshape(16, 17) // 256
    with pytest.raises(PixelgenError, match="at most 255 colours"):
        indexed(rgba)
    with pytest.raises(PixelgenError, match="outside 0..1"):
        aseprite_bytes(np.zeros((2, 4, 4), np.uint8), PALETTE.rgba, [Tag("x", 1, 2)])


def test_group_tags_follow_runs_of_the_same_prompt_or_class():
    assert group_tags([1, 1, None, 2, 1], None) == [
        Tag("class 1", 0, 1),
        Tag("class 2", 3, 3),
        Tag("class 1", 4, 4),
    ]
    assert group_tags(None, ["a b", "a b", None]) == [Tag("a b", 0, 1)]
    assert group_tags(None, None) == []


def test_aseprite_json_array_lists_frames_in_order_with_their_tags(tmp_path):
    sprites = make_sprites(seeds=list(range(5)), labels=[3] * 5)
    export(sprites, tmp_path, "aseprite-json", columns=2, spacing=1, margin=2, scale=3)
    atlas = json.loads((tmp_path / "sheet-aseprite.json").read_text())
    sheet = read_png(tmp_path / "sheet.png")
    assert isinstance(atlas["frames"], list) and len(atlas["frames"]) == 5
    assert atlas["meta"]["frameTags"] == [
        {"name": "class 3", "from": 0, "to": 4, "direction": "forward", "color": "#000000ff"}
    ]
    for i, frame in enumerate(atlas["frames"]):
        r = frame["frame"]
        assert frame["filename"] == f"sprite_{i:04d}.png" and frame["duration"] == 100
        crop = sheet[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]]
        assert np.array_equal(crop[::3, ::3], np.asarray(sprites)[i])


def test_tiled_renders_the_tileset_tile_for_tile(tmp_path, tmxrasterizer):
    sprites = make_sprites(5, (6, 4), seeds=list(range(5)), labels=[1] * 5)
    export(sprites, tmp_path, "tiled", columns=2, spacing=2, margin=1, scale=2)
    tsx = (tmp_path / "sheet.tsx").read_text()
    assert 'name="seed" type="int" value="3"' in tsx
    # a map written here, not by pixelgen: the five tiles in a row, then an empty cell
    (tmp_path / "row.tmx").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<map version="1.8" orientation="orthogonal" renderorder="right-down" width="6" '
        'height="1" tilewidth="8" tileheight="12" infinite="0" nextlayerid="2" '
        'nextobjectid="1"><tileset firstgid="1" source="sheet.tsx"/>'
        '<layer id="1" name="a" width="6" height="1"><data encoding="csv">1,2,3,4,5,0'
        "</data></layer></map>\n"
    )
    rendered = tmxrasterizer(tmp_path / "row.tmx")
    assert rendered.shape == (12, 48, 4)
    for i, sprite in enumerate(np.asarray(sprites)):
        assert np.array_equal(rendered[:, 8 * i : 8 * i + 8][::2, ::2], sprite)
    assert not rendered[:, 40:].any()


def test_godot_sprite_frames_and_tile_set_parse_and_point_at_the_sprites(tmp_path):
    import godot_parser

    sprites = make_sprites(5, (6, 4), prompts=["robot", "robot", "coin", "coin", None])
    written = export(sprites, tmp_path, "godot", columns=3, spacing=1, margin=2, scale=2, tile=True)
    assert written == ["sheet.tres", "sheet-tileset.tres"]
    sheet = read_png(tmp_path / "sheet.png")

    frames = godot_parser.load(str(tmp_path / "sheet.tres"))
    header, texture, *regions, resource = frames.get_sections()
    assert header.header.name == "gd_resource" and header.header["format"] == 3
    assert header.header["type"] == "SpriteFrames"
    assert header.header["load_steps"] == len(regions) + 2
    assert texture.header["path"] == "res://sheet.png"
    rects = {s.header["id"]: s["region"].args for s in regions}
    animations = {a["name"]: a for a in resource["animations"]}
    assert list(animations) == ["robot", "coin", "default"]
    for name, first in (("robot", 0), ("coin", 2), ("default", 4)):
        for k, shown in enumerate(animations[name]["frames"]):
            x, y, w, h = rects[shown["texture"].args[0]]
            crop = sheet[y : y + h, x : x + w][::2, ::2]
            assert np.array_equal(crop, np.asarray(sprites)[first + k])

    tiles = godot_parser.load(str(tmp_path / "sheet-tileset.tres"))
    source = tiles.get_sections()[2]
    assert source["texture_region_size"].args == [8, 12]
    assert source["separation"].args == [2, 2] and source["margins"].args == [4, 4]
    cells = sorted(k for k in source.properties if re.fullmatch(r"\d+:\d+/0", k))
    assert cells == ["0:0/0", "0:1/0", "1:0/0", "1:1/0", "2:0/0"]
    assert tiles.get_sections()[3]["tile_size"].args == [8, 12]


def test_exports_refuse_an_unknown_format(tmp_path):
    with pytest.raises(PixelgenError, match="unknown export 'gif'"):
        export(make_sprites(), tmp_path, "gif")
