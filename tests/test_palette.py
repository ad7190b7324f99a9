"""Palette extraction and snapping."""

import numpy as np

from pixelgen_core.palette import Palette, extract


def sprites_with(colors, size=4):
    n = len(colors)
    out = np.zeros((n, size, size, 4), dtype=np.uint8)
    for i, c in enumerate(colors):
        out[i, : size // 2, :, :3] = c
        out[i, : size // 2, :, 3] = 255
    return out


def test_exact_palette_when_few_colours():
    palette = extract(sprites_with([(200, 10, 10), (10, 10, 10), (200, 10, 10)]), max_colors=4)
    assert palette.colors.tolist() == [[10, 10, 10], [200, 10, 10]]  # dark to light
    assert palette.size == 3
    assert palette.rgba[0].tolist() == [0, 0, 0, 0]


def test_kmeans_palette_when_too_many_colours_is_deterministic():
    rng = np.random.default_rng(0)
    colors = [tuple(rng.integers(0, 256, 3)) for _ in range(40)]
    a = extract(sprites_with(colors), max_colors=5)
    b = extract(sprites_with(colors), max_colors=5)
    assert len(a.colors) == 5
    assert (a.colors == b.colors).all()


def test_transparent_pixels_are_excluded_from_the_palette():
    sprites = sprites_with([(50, 60, 70)])
    sprites[0, 3, 3] = (255, 255, 255, 0)  # colour hidden under zero alpha
    assert extract(sprites, 8).colors.tolist() == [[50, 60, 70]]


def test_snap_maps_to_nearest_colour_and_low_alpha_to_background():
    palette = Palette(np.array([[0, 0, 0], [255, 255, 255]], dtype=np.uint8))
    pixels = np.array([[0.1, 0.1, 0.1, 1.0], [0.8, 0.9, 0.7, 0.9], [1, 1, 1, 0.2]])
    assert palette.snap(pixels).tolist() == [1, 2, 0]
    assert palette.to_rgba(palette.snap(pixels)).tolist() == [
        [0, 0, 0, 255],
        [255, 255, 255, 255],
        [0, 0, 0, 0],
    ]


def test_round_trip_through_float_tuples():
    palette = Palette(np.array([[1, 2, 3], [250, 128, 0]], dtype=np.uint8))
    assert (Palette.from_tuples(palette.as_tuples()).colors == palette.colors).all()


def test_a_half_sure_pixel_keeps_its_colour_once_unblended():
    from pixelgen_core.palette import Palette, unblend

    palette = Palette(np.array([[200, 180, 160], [100, 40, 30]], dtype=np.uint8))  # beige, dark
    beige = np.array([200, 180, 160]) / 255
    sure = np.array([*beige, 1.0])
    unsure = np.array([*(0.6 * beige), 0.6])  # 60% beige, 40% clear (0, 0, 0, 0)
    clear = np.zeros(4)
    pixels = np.stack([sure, unsure, clear]).astype(np.float32)
    assert palette.snap(pixels).tolist() == [1, 2, 0]  # the blend reads as the dark colour
    assert palette.snap(unblend(pixels)).tolist() == [1, 1, 0]
    assert np.allclose(unblend(pixels)[1], [*beige, 0.6]) and (unblend(pixels)[2] == 0).all()
    assert unblend(np.array([[0.9, 0.9, 0.9, 0.5]]))[0, :3].max() == 1.0  # clipped
