"""For game developers: palettes in and out, sheets with atlases, and `pixelgen edit`."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from pixelgen_diffusion.testing import TINY

import pixelgen_core as pg
from pixelgen_core.cli import cli
from pixelgen_core.editing import redraw_mask, snap_sprite
from pixelgen_core.errors import PixelgenError
from pixelgen_core.images import read_png, write_png
from pixelgen_core.palette import Palette, remap
from pixelgen_core.palette_files import BUILTIN, load_palette, save_palette
from pixelgen_core.sprites import Sprites

TINY_DIFFUSION = [
    "data.dataset=kenney-mono",
    "data.focused=true",
    "training.epochs=1",
    "training.batch_size=128",
    "training.grid_size=4",
    *TINY,
    "sampling.steps=4",
    "sampling.resample=1",
    "tracking.enabled=false",
    "training.choose_sampler=0",  # auto by the strategy's rule: the choice is tested alone
]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result, message, code=1):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) <= 2  # the error (and a notice at most)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny diffusion run, trained once for this module's tests."""
    import os

    folder = tmp_path_factory.mktemp("gamedev")
    here = os.getcwd()
    os.chdir(folder)
    try:
        trained = pg.train("diffusion", overrides=TINY_DIFFUSION, progress=False)
    finally:
        os.chdir(here)
    return trained.checkpoint


# -- palettes ---------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".hex", ".gpl", ".pal", ".png"])
def test_palette_files_round_trip(tmp_path, suffix):
    palette = load_palette("endesga-32")
    path = save_palette(palette, tmp_path / f"p{suffix}")
    assert np.array_equal(load_palette(path).colors, palette.colors)


def test_builtin_palettes_and_the_lospec_text_formats(tmp_path):
    assert {k: load_palette(k).size - 1 for k in BUILTIN} == {
        "pico-8": 16,
        "gameboy": 4,
        "endesga-32": 32,
    }
    assert load_palette("PICO-8").hex()[1] == "#1d2b53"
    (tmp_path / "a.txt").write_text(";paint.net Palette File\n;Colors: 2\nFF0F380F\nFF306230\n")
    assert load_palette(tmp_path / "a.txt").hex() == ["#0f380f", "#306230"]
    gpl = "GIMP Palette\nName: x\nColumns: 4\n# comment\n 15  56  15\tdark\n48 98 48 b\n15 56 15\n"
    (tmp_path / "b.gpl").write_text(gpl)
    assert load_palette(tmp_path / "b.gpl").hex() == ["#0f380f", "#306230"]  # repeat dropped


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.hex", None, "palette file not found"),
        ("p.act", "", "neither a built-in"),
        ("p.hex", "ff0000\nnot-a-colour\n", "bad colour 'not-a-colour'"),
        ("p.hex", "\n\n", "has no colours"),
        ("p.gpl", "JASC-PAL\n", "is not a GIMP palette"),
        ("p.pal", "GIMP Palette\n", "is not a JASC palette"),
        ("p.pal", "JASC-PAL\n0100\n1\n300 0 0\n", "bad colour line"),
        ("p.hex", "".join(f"{i:06x}\n" for i in range(300)), "at most 255"),
    ],
)
def test_bad_palettes_are_one_line_errors(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(PixelgenError, match=message):
        load_palette(tmp_path / name)


def test_remap_pairs_colours_one_to_one_and_spreads_many_over_few():
    pico, gameboy = load_palette("pico-8"), load_palette("gameboy")
    assert np.array_equal(remap(pico, pico), np.arange(pico.size))
    up = remap(gameboy, pico)
    assert up[0] == 0 and len(set(up[1:])) == 4  # no two colours merged
    down = remap(pico, gameboy)
    assert down[0] == 0
    assert np.bincount(down[1:], minlength=5)[1:].tolist() == [4, 4, 4, 4]  # all used, evenly
    # dark stays dark: pico-8's black goes to the Game Boy's darkest green
    assert down[1] == 1


def test_training_in_a_palette_pairs_the_data_colours_with_it():
    from pixelgen_core.config import resolve
    from pixelgen_core.data.prepare import prepare

    record = pg.get_strategy("diffusion")
    config = resolve(record.spec, overrides=[*TINY_DIFFUSION, "data.palette=pico-8"])
    data = prepare(config, conditional=False)
    assert np.array_equal(data.palette.colors, load_palette("pico-8").colors)
    own = prepare(resolve(record.spec, overrides=TINY_DIFFUSION), conditional=False)
    # one to one: the sprites keep their number of colours, and their layout
    assert len(np.unique(data.indices)) == len(np.unique(own.indices))
    assert np.array_equal(data.indices == 0, own.indices == 0)


def test_data_palette_writes_the_dataset_palette(tmp_path):
    assert run("data", "palette", "kenney-mono", "--out", tmp_path / "k.gpl").exit_code == 0
    assert load_palette(tmp_path / "k.gpl").size >= 2
    assert_user_error(run("data", "palette", "--out", tmp_path / "k.act"), "--out must end in")


# -- sheets -----------------------------------------------------------------------------
def test_sheet_atlas_rectangles_hold_the_sprites(tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (5, 6, 4, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    sprites = Sprites(rgba, seeds=[10, 11, 12, 13, 14], labels=[None, 1, None, 2, None])
    image_path, atlas_path = sprites.save_sheet(tmp_path, columns=2, spacing=3, margin=1, scale=2)
    sheet, atlas = read_png(image_path), json.loads(atlas_path.read_text())
    # 2 columns of 4 px, 3 rows of 6 px, 3 px apart, 1 px margin; all doubled
    assert sheet.shape == (2 * (2 + 3 * 6 + 2 * 3), 2 * (2 + 2 * 4 + 3), 4)
    assert atlas["meta"]["image"] == "sheet.png"
    assert atlas["meta"]["size"] == {"w": sheet.shape[1], "h": sheet.shape[0]}
    for i, (name, entry) in enumerate(atlas["frames"].items()):
        assert name == f"sprite_{i:04d}.png"
        f = entry["frame"]
        crop = sheet[f["y"] : f["y"] + f["h"], f["x"] : f["x"] + f["w"]]
        assert np.array_equal(crop, rgba[i].repeat(2, 0).repeat(2, 1))
        assert (entry["seed"], entry["class"]) == (10 + i, sprites.labels[i])
        assert entry["sourceSize"] == {"w": 8, "h": 12} and entry["rotated"] is False


# -- editing inputs ---------------------------------------------------------------------
def test_masks_regions_and_their_errors(tmp_path):
    region = redraw_mask((16, 16), region="2,3,4,5")
    assert region.sum() == 20 and region[3, 2] and region[7, 5] and not region[8, 5]
    picture = np.zeros((16, 16, 4), np.uint8)
    picture[..., 3] = 255
    picture[:8, :, :3] = 255  # white top half: redraw it
    write_png(picture, tmp_path / "m.png")
    assert redraw_mask((16, 16), mask=tmp_path / "m.png").sum() == 128
    assert redraw_mask((16, 16)) is None
    for kwargs, message in [
        ({"region": "1,2,3"}, "X,Y,W,H"),
        ({"region": "10,10,8,8"}, "not inside"),
        ({"region": "0,0,0,4"}, "not inside"),
        ({"mask": np.zeros((16, 16, 4), np.uint8)}, "selects no pixels"),
        ({"mask": np.zeros((8, 8, 4), np.uint8)}, "the mask is 8x8"),
        ({"mask": tmp_path / "m.png", "region": "0,0,1,1"}, "not both"),
    ]:
        with pytest.raises(PixelgenError, match=message):
            redraw_mask((16, 16), **kwargs)


def test_snap_sprite_counts_moved_pixels_and_reads_upscaled_sprites():
    palette = Palette(np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    sprite = np.zeros((4, 4, 4), np.uint8)
    sprite[:2, :, 3] = 255  # two black rows, the rest transparent
    sprite[0, 0, :3] = 250  # one almost-white pixel
    snapped = snap_sprite(sprite, (4, 4), palette, None)
    assert snapped.moved == 1 and snapped.pixels == 16
    assert snapped.indices[0, 0] == 2 and snapped.indices[1, 1] == 1 and snapped.indices[3, 3] == 0
    big = snap_sprite(sprite.repeat(3, 0).repeat(3, 1), (4, 4), palette, None)
    assert np.array_equal(big.indices, snapped.indices)
    with pytest.raises(PixelgenError, match="the sprite is 5x4"):
        snap_sprite(np.zeros((4, 5, 4), np.uint8), (4, 4), palette, None)


# -- the commands -----------------------------------------------------------------------
def test_sheet_sprites_can_each_be_drawn_again_alone(checkpoint, tmp_path):
    args = ["sample", "diffusion", "--checkpoint", checkpoint, "--sampler", "dpm++"]
    result = run(*args, "-n", 3, "--seed", 5, "--sheet", "--columns", 2, "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    atlas = json.loads((tmp_path / "s" / "sheet.json").read_text())
    assert [f["seed"] for f in atlas["frames"].values()] == [5, 6, 7]
    assert atlas["meta"]["pixelgen"]["strategy"] == "diffusion"
    result = run(*args, "-n", 3, "--seed", 2**63 - 2, "--sheet", "--out", tmp_path / "far")
    assert_user_error(result, "needs seeds up to 9223372036854775808")
    assert run(*args, "-n", 1, "--seed", 6, "--out", tmp_path / "one").exit_code == 0
    again = read_png(tmp_path / "one" / "sprite_0000.png")
    assert np.array_equal(again, read_png(tmp_path / "s" / "sprite_0001.png"))


def test_exports_from_the_command_line_imply_the_sheet(checkpoint, tmp_path):
    args = ["sample", "diffusion", "--checkpoint", checkpoint, "-n", 3, "--tileable"]
    exports = ["--export", "aseprite", "--export", "godot", "--export", "tiled"]
    result = run(*args, *exports, "--export", "aseprite-json", "--out", tmp_path / "e")
    assert result.exit_code == 0, result.output
    assert (
        "sheet.png, sheet.json, sprites.aseprite, sheet.tres, sheet-tileset.tres" in result.output
    )
    names = {p.name for p in (tmp_path / "e").iterdir()}
    assert {"sheet.tsx", "sheet-aseprite.json", "sheet.json"} <= names
    seeds = [
        f["seed"]
        for f in json.loads((tmp_path / "e" / "sheet.json").read_text())["frames"].values()
    ]
    assert seeds == [0, 1, 2]  # drawn one by one, as a sheet is
    refused = run(*args, "--export", "gif")
    assert refused.exit_code == 2 and "Invalid value for '--export'" in refused.output


def test_tileset_from_the_command_line_keeps_every_tile_edge(checkpoint, tmp_path):
    from pixelgen_core.tileset import assemble

    args = ["tileset", "diffusion", "--checkpoint", checkpoint]
    terrains = ["--kind", "blob47", "--class", 1, "--class", 2, "--transitions", "inpaint"]
    result = run(*args, *terrains, "--out", tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert "wrote 48 blob47 tiles of class 1 and class 2 (inpaint transitions)" in result.output
    sheet, base = read_png(tmp_path / "t" / "tiles.png"), read_png(tmp_path / "t" / "base.png")
    assert sheet.shape == (6 * 16, 8 * 16, 4)
    tiles = sheet.reshape(6, 16, 8, 16, 4).transpose(0, 2, 1, 3, 4).reshape(48, 16, 16, 4)
    cut = assemble("blob47", np.stack([base[:, :16], base[:, 16:]]), ("a", "b")).tiles
    ring = np.ones((16, 16), bool)
    ring[1:-1, 1:-1] = False
    assert np.array_equal(tiles[:, ring], cut[:, ring])  # inpainting kept every tile's edge
    assert not np.array_equal(tiles, cut)  # and redrew the cut between the terrains
    assert_user_error(run(*args, "--class", 1, "--prompt", "x"), "not both")
    assert_user_error(run(*args, "--class", 1, "--class", 2, "--class", 3), "at most twice")
    assert_user_error(run(*args, "--scale", 0), "--scale must be a positive integer")


def test_sampling_in_a_palette_and_tileable(checkpoint, tmp_path):
    result = run(
        "sample", "diffusion", "--checkpoint", checkpoint, "-n", 4, "--palette", "gameboy",
        "--tileable", "--out", tmp_path / "p",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    grid = read_png(tmp_path / "p" / "grid.png")
    opaque = grid[grid[..., 3] == 255][:, :3]
    allowed = {tuple(c) for c in load_palette("gameboy").colors}
    assert {tuple(c) for c in opaque} <= allowed
    tiled = read_png(tmp_path / "p" / "tiled.png")
    assert tiled.shape == (2 * 49 + 1, 2 * 49 + 1, 4)  # 2x2 previews of 3x3 tiles


def source_sprite(checkpoint, folder):
    """A sprite the model drew, as a user's PNG to edit."""
    result = run(
        "sample", "diffusion", "--checkpoint", checkpoint, "-n", 1, "--out", folder / "src"
    )
    assert result.exit_code == 0, result.output
    return folder / "src" / "sprite_0000.png"


def test_edit_inpaints_a_region_and_keeps_the_rest(checkpoint, tmp_path):
    source = source_sprite(checkpoint, tmp_path)
    base = ["edit", "diffusion", "--checkpoint", checkpoint, "--image", source]
    result = run(*base, "--region", "0,0,8,16", "-n", 3, "--out", tmp_path / "e")
    assert result.exit_code == 0, result.output
    assert "0 of 256 pixels changed colour" in result.output
    sprite = read_png(source)
    for i in range(3):
        edited = read_png(tmp_path / "e" / f"sprite_{i:04d}.png")
        assert np.array_equal(edited[:, 8:], sprite[:, 8:])
    result = run(*base, "--strength", 0, "-n", 2, "--out", tmp_path / "same")
    assert result.exit_code == 0, result.output
    assert np.array_equal(read_png(tmp_path / "same" / "sprite_0001.png"), sprite)


def test_edit_refuses_bad_input_in_one_line(checkpoint, tmp_path):
    base = [
        "edit",
        "diffusion",
        "--checkpoint",
        checkpoint,
        "--image",
        source_sprite(checkpoint, tmp_path),
    ]
    write_png(np.zeros((8, 8, 4), np.uint8), tmp_path / "small.png")
    for extra, message in [
        (["--strength", 2], "--strength must be between 0 and 1"),
        (["--region", "a,b"], "X,Y,W,H"),
        (["--mask", "small.png"], "the mask is 8x8"),
        (["--palette", "nope.gpl"], "palette file not found"),
        (["--columns", 0, "--sheet"], "--columns must be at least 1"),
        (["--spacing", -1], "--spacing and --margin must be 0 or more"),
        (["--sampler", "consistency"], "cannot edit"),  # a config error: exit 2
        (["--mid-t", 500], "--final-step-t and --mid-t steer the consistency sampler"),
    ]:
        code = 2 if extra[0] in ("--sampler", "--mid-t") else 1
        assert_user_error(run(*base, *extra, "--out", "bad"), message, code)
        assert not (tmp_path / "bad").exists()
    missing = ["edit", "diffusion", "--checkpoint", checkpoint, "--image", "none.png"]
    assert_user_error(run(*missing), "image not found")
    assert_user_error(run(*base[:2], "--image", "small.png", "--checkpoint", checkpoint), "8x8")
    assert_user_error(run("edit", "vae", "--image", "x.png"), "strategies that can: diffusion")


def test_list_strategies_shows_capabilities():
    rows = {r["name"]: r for r in json.loads(run("list-strategies", "--json").output)}
    assert rows["diffusion"]["capabilities"] == ["edit", "tileable", "tags"]
    assert rows["vae"]["capabilities"] == []


def test_a_strategy_without_the_capability_says_so():
    from pixelgen_core.sampling import sample_raw
    from pixelgen_core.testing import PALETTE, make_strategy

    strategy = make_strategy("vae", ["model.channels=[8,16]", "model.latent_dim=4"])
    with pytest.raises(PixelgenError, match="'vae' cannot make tileable sprites"):
        sample_raw(strategy, Palette.from_tuples(PALETTE), 1, 0, tileable=True)
    from pixelgen_core.prompts import Prompt

    prompt = Prompt("slime", ("slime",))
    with pytest.raises(PixelgenError, match="'vae' cannot draw from a prompt"):
        sample_raw(strategy, Palette.from_tuples(PALETTE), 1, 0, prompt=prompt)
