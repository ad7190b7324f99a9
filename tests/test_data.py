"""Bundled datasets, slicing, folder datasets, augmentation and class labels."""

import os

import numpy as np
import pytest
import torch

from pixelgen_core.data import load_dataset, slice_sheet
from pixelgen_core.data.augment import hflip, palette_swap
from pixelgen_core.data.datasets import opaque_share
from pixelgen_core.data.labels import class_labels, label_cache_dir
from pixelgen_core.errors import PixelgenError
from pixelgen_core.images import read_png, write_png


def test_bundled_sheets_give_sprites_with_binary_alpha():
    colored = load_dataset("kenney-colored")
    mono = load_dataset("kenney-mono")
    assert colored.sprites.shape[1:] == (16, 16, 4)
    assert 900 < len(colored) <= 49 * 22
    assert 900 < len(mono) <= 49 * 22  # same layout; empty tiles are skipped
    assert set(np.unique(colored.sprites[..., 3])) == {0, 255}
    assert (colored.sprites[colored.sprites[..., 3] == 0] == 0).all()


def test_focused_keeps_sprites_in_the_opaque_share_range():
    full = load_dataset("kenney-colored")
    focused = load_dataset("kenney-colored", focused=True)
    share = opaque_share(focused.sprites)
    assert ((share >= 0.15) & (share <= 0.5)).all()
    assert focused.total == len(full) > len(focused) > 0
    assert f"kept {len(focused)} of {len(full)}" in focused.describe()


def test_slice_respects_spacing_and_margin_and_skips_empty_tiles():
    sheet = np.zeros((2 + 4 * 2 + 1, 2 + 4 * 3 + 2, 4), dtype=np.uint8)  # margin 1, spacing 1
    for r in range(2):
        for c in range(3):
            if (r, c) != (1, 1):
                y, x = 1 + r * 5, 1 + c * 5
                sheet[y : y + 4, x : x + 4] = (10 * c, 10 * r, 0, 255)
    tiles = slice_sheet(sheet, 4, spacing=1, margin=1)
    assert len(tiles) == 5
    assert all(t.shape == (4, 4, 4) and (t[..., 3] == 255).all() for t in tiles)
    assert len(slice_sheet(sheet, 4, spacing=1, margin=1, keep_empty=True)) == 6


def test_slice_takes_rectangular_tiles_from_the_command_line(tmp_path):
    from pixelgen_core.testing import invoke

    sheet = np.zeros((1 + 24 * 2 + 1 + 1, 1 + 16 * 3 + 2 + 1, 4), dtype=np.uint8)
    sheet[1:-1, 1:-1] = (200, 40, 40, 255)
    write_png(sheet, tmp_path / "sheet.png")
    result = invoke("data", "slice", str(tmp_path / "sheet.png"), str(tmp_path / "out"),
                    "--tile", "16x24", "--spacing", "1", "--margin", "1")  # fmt: skip
    assert result.exit_code == 0 and "wrote 6 tiles of 16x24" in result.output
    assert load_dataset(str(tmp_path / "out")).shape == (24, 16)
    result = invoke("data", "slice", str(tmp_path / "sheet.png"), "x", "--tile", "16by24")
    assert result.exit_code == 1 and "is not a side or WIDTHxHEIGHT" in result.output


def test_slice_rejects_a_sheet_too_small():
    with pytest.raises(PixelgenError, match="holds no"):
        slice_sheet(np.zeros((8, 8, 4), np.uint8), 16)


def test_a_folder_of_pngs_is_a_dataset(tmp_path):
    for i in range(3):
        sprite = np.zeros((8, 8, 4), np.uint8)
        sprite[i : i + 3, 2:5] = (255, 0, 0, 255)
        write_png(sprite, tmp_path / "set" / f"s{i}.png")
    data = load_dataset(str(tmp_path / "set"))
    assert len(data) == 3 and data.image_size == 8
    assert data.names == ["s0", "s1", "s2"]


def test_a_folder_is_decoded_once_and_its_cache_follows_the_files(tmp_path, monkeypatch):
    """The second load reads the cache beside the folder, not the PNGs; adding, editing
    or removing a sprite changes the key, so the folder is decoded again."""
    from pixelgen_core.data import datasets

    rng = np.random.default_rng(0)
    folder = tmp_path / "set"
    for i in range(40):
        sprite = rng.integers(0, 256, (16, 24, 4), dtype=np.uint8)  # rectangular, odd alpha
        write_png(sprite, folder / f"s{i:02d}.png")
    first = load_dataset(str(folder))
    assert first.shape == (16, 24) and "40 sprites of 24x16" in first.describe()
    assert set(np.unique(first.sprites[..., 3])) == {0, 255}  # binarised before caching
    [cache] = list((folder / ".pixelgen").glob("sprites-*.npy"))

    decoded = []
    real_read = datasets.read_png
    monkeypatch.setattr(datasets, "read_png", lambda path: decoded.append(path) or real_read(path))
    again = load_dataset(str(folder))
    assert decoded == [] and np.array_equal(again.sprites, first.sprites)
    assert not again.sprites.flags.writeable  # memory-mapped, not a second copy in memory

    write_png(rng.integers(0, 256, (16, 24, 4), dtype=np.uint8), folder / "s99.png")
    assert len(load_dataset(str(folder))) == 41 and len(decoded) == 41
    [newer] = list((folder / ".pixelgen").glob("sprites-*.npy"))  # the stale one is gone
    assert newer != cache
    edited = rng.integers(0, 256, (16, 24, 4), dtype=np.uint8)
    edited[..., 3] = 255
    write_png(edited, folder / "s00.png")
    os.utime(folder / "s00.png", ns=(1, 1))  # a different time even on a coarse clock
    assert np.array_equal(load_dataset(str(folder)).sprites[0], edited)
    (folder / "s99.png").unlink()
    assert len(load_dataset(str(folder))) == 40

    newer = next((folder / ".pixelgen").glob("sprites-*.npy"))
    newer.write_bytes(b"truncated")  # a damaged cache is decoded again, not an error
    assert len(load_dataset(str(folder))) == 40


def test_folder_errors(tmp_path):
    with pytest.raises(PixelgenError, match="neither built in"):
        load_dataset(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PixelgenError, match="no PNG files"):
        load_dataset(str(tmp_path / "empty"))
    write_png(np.zeros((8, 8, 4), np.uint8), tmp_path / "mixed" / "a.png")
    write_png(np.zeros((16, 16, 4), np.uint8), tmp_path / "mixed" / "b.png")
    with pytest.raises(PixelgenError, match="differ in size"):
        load_dataset(str(tmp_path / "mixed"))
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "x.png").write_bytes(b"not a png")
    with pytest.raises(PixelgenError, match="cannot read image"):
        load_dataset(str(tmp_path / "corrupt"))


def test_png_round_trip_keeps_transparency_and_upscales(tmp_path):
    sprite = np.zeros((2, 2, 4), np.uint8)
    sprite[0, 0] = (1, 2, 3, 255)
    back = read_png(write_png(sprite, tmp_path / "s.png", scale=3))
    assert back.shape == (6, 6, 4)
    assert back[:3, :3].reshape(-1, 4).tolist() == [[1, 2, 3, 255]] * 9
    assert (back[3:, 3:, 3] == 0).all()


def test_hflip_mirrors_the_chosen_sprites():
    x = torch.arange(2 * 2 * 3).view(2, 2, 3)
    out = hflip(x, torch.Generator().manual_seed(0), p=1.0)
    assert torch.equal(out, x.flip(-1))
    assert torch.equal(hflip(x, torch.Generator(), p=0.0), x)


def test_palette_swap_permutes_colours_and_keeps_background():
    x = torch.tensor([[[0, 1, 2, 3]]])
    out = palette_swap(x, 3, torch.Generator().manual_seed(1), p=1.0)
    assert out[0, 0, 0] == 0
    assert sorted(out[0, 0, 1:].tolist()) == [1, 2, 3]
    assert torch.equal(palette_swap(x, 3, torch.Generator(), p=0.0), x)


def test_class_labels_are_deterministic_cached_and_previewed():
    data = load_dataset("kenney-mono", focused=True)
    labels = class_labels(data, 5)
    assert labels.shape == (len(data),) and set(labels.tolist()) == set(range(5))
    cache = label_cache_dir(data, 5)
    assert (cache / "labels.npy").is_file()
    assert sorted(p.name for p in cache.glob("class_*.png")) == [
        f"class_{k:02d}.png" for k in range(5)
    ]
    (cache / "labels.npy").unlink()
    assert (class_labels(data, 5) == labels).all()


def test_the_bundled_32x32_arcade_sheet_has_named_sprites_in_one_small_palette():
    from pathlib import Path

    from pixelgen_core.data import load_dataset

    sprites = load_dataset("kenney-arcade")
    assert sprites.shape == (32, 32) and len(sprites) == 279
    assert sprites.names[0] == "animated_characters/femaleAdventurer_climb0"
    assert "enemies/slimeGreen" in sprites.names and "items/coinGold" in sprites.names
    assert all(s[..., 3].any() for s in sprites.sprites)  # no empty tile took a name
    opaque = sprites.sprites[sprites.sprites[..., 3] == 255][:, :3]
    assert len(np.unique(opaque, axis=0)) <= 16  # pixel art: one exact 16-colour palette
    licence = Path(__file__).parents[1] / "pixelgen_core" / "data" / "sheets" / "LICENSE.txt"
    assert "kenney-arcade.png" in licence.read_text() and "CC0" in licence.read_text()


def test_a_folder_skips_link_loops_and_linked_folders(tmp_path):
    """A PNG that links to itself is no sprite, and a folder linked into itself is not
    followed, so neither ends in a traceback or a recursion."""
    root = tmp_path / "set"
    for i in range(2):
        sprite = np.zeros((8, 8, 4), np.uint8)
        sprite[i, 2:5] = (255, 0, 0, 255)
        write_png(sprite, root / "sub" / f"s{i}.png")
    (root / "loop.png").symlink_to(root / "loop.png")
    (root / "sub" / "again").symlink_to(root, target_is_directory=True)
    data = load_dataset(str(root))
    assert data.names == ["sub/s0", "sub/s1"]


def test_a_dataset_too_small_to_measure_is_said_when_training_starts(tmp_path):
    """A handful of sprites trains (a user may want copies of them), but not silently:
    the model learns them by heart and evaluation needs MIN_DATASET."""
    from pixelgen_core.checks import MIN_DATASET
    from pixelgen_core.data.prepare import prepare

    sprite = np.zeros((16, 16, 4), dtype=np.uint8)
    sprite[4:12, 4:12] = (200, 50, 50, 255)
    write_png(sprite, tmp_path / "a.png")
    data = prepare({"data": {"dataset": str(tmp_path)}}, conditional=False)
    assert len(data) == 1 and data.dataset.describe().endswith(": 1 sprite of 16x16")
    assert data.notes == (
        f"only 1 sprite: the model will learn it by heart and draw copies, and pixelgen "
        f"evaluate needs at least {MIN_DATASET} (a few hundred train well)",
    )
    bundled = prepare({"data": {"dataset": "kenney-mono"}}, conditional=False)
    assert len(bundled) >= MIN_DATASET and bundled.notes == ()
