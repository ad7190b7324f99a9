"""specks: isolated pixels recoloured, floating specks erased, as a pixel artist would."""

import numpy as np

from pixelgen_core.evaluation import isolated_pixels
from pixelgen_core.specks import erase_floating, mend


def block() -> np.ndarray:
    out = np.zeros((1, 8, 8), dtype=np.int64)
    out[0, 2:6, 2:6] = 1
    return out


def test_a_dot_beside_the_shape_is_cleared_and_the_shape_kept():
    dotted = block()
    dotted[0, 0, 7] = 1
    assert np.array_equal(mend(dotted), block())


def test_a_speck_of_another_colour_takes_the_shapes_colour():
    inside, edge = block(), block()
    inside[0, 3, 3] = 2  # all four neighbours are the block
    edge[0, 2, 4] = 2  # on the top edge: two of the block's colour, one clear above
    assert np.array_equal(mend(inside), block())
    assert np.array_equal(mend(edge), block())


def test_an_opaque_colour_wins_a_tie_with_clear():
    corner = block()
    corner[0, 2, 2] = 3  # the corner: two neighbours clear, two of the block
    assert np.array_equal(mend(corner), block())


def test_sprites_without_isolated_pixels_come_back_unchanged():
    two_shapes = block()
    two_shapes[0, 0, 0:3] = 2  # a line of three touches nothing of its colour but itself
    assert isolated_pixels(two_shapes).tolist() == [0]
    assert np.array_equal(mend(two_shapes), two_shapes)


def test_no_sprite_keeps_an_isolated_pixel_even_with_specks_side_by_side():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 4, size=(200, 8, 8))  # specks everywhere, many touching
    assert isolated_pixels(noise).sum() > 1000
    mended = mend(noise)
    assert isolated_pixels(mended).tolist() == [0] * 200


def test_plugins_get_it_from_the_public_surface():
    import pixelgen_core

    assert pixelgen_core.mend_specks is mend and "mend_specks" in pixelgen_core.__all__


def test_floating_specks_are_erased_and_detail_on_the_shape_kept():
    sprite = np.zeros((1, 8, 8), dtype=np.int64)
    sprite[0, 2:6, 2:6] = 1
    sprite[0, 1, 1] = 2  # diagonal to the corner: on the shape
    shape = sprite.copy()
    sprite[0, 7, 7] = 1  # a lone speck
    sprite[0, 0, 6:8] = 3  # a two-pixel speck
    assert np.array_equal(erase_floating(sprite), shape)
    assert np.array_equal(erase_floating(shape), shape)


def test_a_tileable_sprite_keeps_a_pixel_that_goes_on_across_the_edge():
    tile = np.zeros((1, 8, 8), dtype=np.int64)
    tile[0, 3, 1:8] = 1  # a line from column 1 to the right edge ...
    tile[0, 3, 0] = 1  # ... and on, across it: one pixel at the left edge touches it
    tile[0, 3, 1] = 0  # cut here, the left pixel is alone but for the tiled neighbour
    tile[0, 6, 4] = 2  # a lone speck in the middle
    erased = erase_floating(tile, tileable=True)
    assert erased[0, 3, 0] == 1 and erased[0, 6, 4] == 0
    assert erase_floating(tile)[0, 3, 0] == 0  # as a lone sprite it is a speck


def test_a_sprite_of_specks_alone_is_kept_as_drawn_not_emptied():
    dots = np.zeros((2, 8, 8), dtype=np.int64)
    dots[:, 0, 7] = dots[:, 7, 6:8] = 2  # nothing but two specks
    dots[1, 2:6, 2:5] = 1  # the second sprite has a shape away from them
    erased = erase_floating(dots)
    assert np.array_equal(erased[0], dots[0])
    assert erased[1, 0, 7] == 0 and (erased[1] > 0).sum() == 12
    assert np.array_equal(erase_floating(dots, tileable=True)[0], dots[0])
