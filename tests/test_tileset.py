"""Autotile sets: the tiles their rules call for, seamless in every arrangement the rules
allow, and read back by Tiled's renderer, the stdlib XML parser and godot-parser."""

import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from pixelgen_core.exports.sheet import NEIGHBOURS
from pixelgen_core.images import read_png
from pixelgen_core.tileset import (
    assemble,
    blob47,
    inpaint_band,
    may_neighbour,
    seam_pairs,
    terrains,
    transition_mask,
    wang16,
)

S = 16


def texture(seed: int, size: int = S) -> np.ndarray:
    """An opaque tile that wraps around smoothly: waves whose periods divide the size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] * (2 * np.pi / size)
    waves = sum(np.sin(a * x + b * y + rng.uniform(0, 6)) for a, b in rng.integers(1, 3, (3, 2)))
    rgba = np.zeros((size, size, 4), np.uint8)
    base = rng.integers(40, 200, 3)
    rgba[..., :3] = np.clip(base + 12 * waves[..., None], 0, 255)
    rgba[..., 3] = 255
    return rgba


BASE = np.stack([texture(0), texture(1)])


def test_the_sets_hold_the_tiles_their_rules_call_for():
    assert len(wang16()) == len(set(wang16())) == 16
    blob = terrains("blob47", ("a", "b"))
    assert len(set(zip(blob.centres, blob.neighbours, strict=True))) == 48  # 47 and terrain 0 alone
    for around in blob47()[1:]:  # a corner only where both of its sides are
        for corner, sides in ((1, (0, 2)), (3, (2, 4)), (5, (4, 6)), (7, (6, 0))):
            assert not around[corner] or all(around[s] for s in sides)
    tiles = assemble("wang16", BASE, ("a", "b")).tiles
    assert np.array_equal(tiles[0], BASE[0]) and np.array_equal(tiles[15], BASE[1])
    assert np.array_equal(tiles[0b1000][: S // 2, : S // 2], BASE[1][: S // 2, : S // 2])


@pytest.mark.parametrize("kind", ["wang16", "blob47"])
def test_every_arrangement_the_rules_allow_is_as_seamless_as_the_base_tiles(kind):
    made = assemble(kind, BASE, ("a", "b"))
    around, tiles = made.terrains.neighbours, made.tiles
    allowed = 0
    for i, j in itertools.product(range(len(tiles)), repeat=2):
        if may_neighbour(around[i], around[j], "x"):
            allowed += 1
            # each row's pair across the edge is one base tile meeting itself
            pairs = np.stack([tiles[i][:, -1], tiles[j][:, 0]], 1)
            own = [np.stack([BASE[k][:, -1], BASE[k][:, 0]], 1) for k in (0, 1)]
            assert all((pairs[r] == own[0][r]).all() or (pairs[r] == own[1][r]).all()
                       for r in range(S))  # fmt: skip
    assert allowed > len(tiles)
    across, middle = seam_pairs(made)
    wrap = np.mean([np.abs(BASE[k, :, -1].astype(float) - BASE[k, :, 0]).mean() for k in (0, 1)])
    assert across <= wrap + 2 and across < middle  # the seam measure of --tileable
    # a pair the rules forbid is where a seam shows: terrain 0 alone beside terrain 1 alone
    a, b = BASE.astype(float)
    assert np.abs(a[:, -1] - b[:, 0]).mean() > 3 * across


@pytest.mark.parametrize("kind", ["wang16", "blob47"])
def test_the_sample_map_is_painted_by_the_rules(kind):
    made = assemble(kind, BASE, ("a", "b"))
    cells = made.sample_map(rows=10, columns=12, seed=3)
    around = made.terrains.neighbours
    for y, x in itertools.product(range(10), range(12)):
        if x + 1 < 12:
            assert may_neighbour(around[cells[y, x]], around[cells[y, x + 1]], "x")
        if y + 1 < 10:
            assert may_neighbour(around[cells[y, x]], around[cells[y + 1, x]], "y")
    assert len(np.unique(cells)) >= 10  # a map shows a good part of the set


def test_inpainting_redraws_only_the_cut_inside_the_outer_ring():
    mask = transition_mask((None, 1, None, 0, None, 0, None, 1), 1, S)  # top half terrain 1
    band = inpaint_band(mask, 2)
    assert band.any() and not band[[0, -1]].any() and not band[:, [0, -1]].any()
    assert set(np.nonzero(band.any(1))[0]) == {S // 2 - 2, S // 2 - 1, S // 2, S // 2 + 1}


@pytest.mark.parametrize("kind", ["wang16", "blob47"])
def test_tiled_renders_the_sample_map_as_pixelgen_draws_it(kind, tmp_path, tmxrasterizer):
    made = assemble(kind, BASE, ("grass", "snow"))
    written = made.save(tmp_path, scale=2, map_seed=1)
    assert "map.tmx" in written and "tileset.tsx" in written
    rendered = tmxrasterizer(tmp_path / "map.tmx")
    assert np.array_equal(rendered, read_png(tmp_path / "map.png"))
    cells = made.sample_map(seed=1)
    drawn = made.render(cells).repeat(2, 0).repeat(2, 1)
    assert np.array_equal(rendered, drawn)


def test_the_tiled_wang_set_names_each_tile_s_corners_and_sides(tmp_path):
    made = assemble("blob47", BASE, ("grass", "snow"))
    made.save(tmp_path)
    wangset = ET.parse(tmp_path / "tileset.tsx").getroot().find("wangsets/wangset")
    assert wangset.get("type") == "mixed"
    assert [c.get("name") for c in wangset.findall("wangcolor")] == ["grass", "snow"]
    ids = {int(t.get("tileid")): t.get("wangid") for t in wangset.findall("wangtile")}
    assert len(ids) == 47  # terrain 1 alone is Godot's only: its edges are terrain 0's
    assert ids[0] == "1,1,1,1,1,1,1,1" and ids[47] == "2,2,2,2,2,2,2,2"
    corners = assemble("wang16", BASE, ("a", "b"))
    corners.save(tmp_path / "w")
    wang = ET.parse(tmp_path / "w" / "tileset.tsx").getroot().find("wangsets/wangset")
    assert wang.get("type") == "corner"
    # tile 6 = 0b0110: top-right and bottom-right corners terrain 1, its right half
    assert wang.find("wangtile[@tileid='6']").get("wangid") == "0,2,0,2,0,1,0,1"
    assert np.array_equal(corners.tiles[6][:, S // 2 :], BASE[1][:, S // 2 :])


@pytest.mark.parametrize("kind", ["wang16", "blob47"])
def test_the_godot_tile_set_has_the_terrains_peering_bits(kind, tmp_path):
    import godot_parser

    made = assemble(kind, BASE, ("grass", "snow"))
    made.save(tmp_path)
    _, texture_line, source, resource = godot_parser.load(
        str(tmp_path / "tileset.tres")
    ).get_sections()
    assert texture_line.header["path"] == "res://tiles.png"
    assert resource["terrain_set_0/mode"] == (1 if kind == "wang16" else 0)
    assert resource["terrain_set_0/terrain_1/name"] == "snow"
    for i, around in enumerate(made.terrains.neighbours):
        cell = f"{i % made.columns}:{i // made.columns}/0"
        assert source[f"{cell}/terrain"] == made.terrains.centres[i]
        for bit, value in zip(NEIGHBOURS, around, strict=True):
            key = f"{cell}/terrains_peering_bit/{bit}"
            assert source.properties.get(key) == value  # None: no such bit written
