"""The pixel filter: rejection sampling on per-sprite pixel statistics."""

import numpy as np
import pytest

from pixelgen_core.evaluation import metrics
from pixelgen_core.pixel_filter import (
    COLUMNS,
    NOTCHES,
    NoSpriteToKeep,
    PixelFilter,
    cell_edges,
    statistics,
)


def sprites(n: int, seed: int, specks: int = 0) -> np.ndarray:
    """One-colour blocks of a random size in 16x16 with up to three lone dots of their own
    colour (detail real sprites have), and `specks` pixels of a second colour scattered
    over each (the model's mistake the filter is for)."""
    rng = np.random.default_rng(seed)
    made = np.zeros((n, 16, 16), dtype=np.int64)
    for i in range(n):
        h, w = rng.integers(4, 14, size=2)
        colour = 1 + rng.integers(0, 3)
        made[i, 1 : 1 + h, 1 : 1 + w] = colour
        for k in range(rng.integers(0, 4)):
            made[i, 15, 2 * k] = colour
        for _ in range(specks):
            y, x = rng.integers(0, 16, size=2)
            made[i, y, x] = 5
    return made


def test_cell_edges_give_a_cell_to_each_common_value_and_merge_rare_ones_upward():
    values = np.array([0] * 50 + [1] * 30 + [2] * 5 + [3] * 5 + [4] * 30 + [9] * 3)
    assert cell_edges(values, min_count=25).tolist() == [0, 1, 2]  # 2-3-4 make 40, 9 joins
    assert cell_edges(np.ones(100), min_count=25).tolist() == [1]


def test_speckled_draws_are_dropped_and_clean_ones_kept():
    data = sprites(800, 0)
    pool = np.concatenate([sprites(1000, 1), sprites(1000, 2, specks=3)])
    keep = PixelFilter.fit(data, pool)
    clean, speckled = (
        keep.keep_probability(sprites(300, 3)),
        keep.keep_probability(sprites(300, 4, specks=3)),
    )
    assert clean.mean() > 0.5 and speckled.max() < 0.01
    assert 0.25 < keep.acceptance < 0.5  # the clean half of the pool, less the cap's cost


def test_kept_sprites_follow_the_data_statistics_better_than_the_draws():
    data = sprites(800, 0)
    pool = np.concatenate([sprites(1500, 1), sprites(500, 2, specks=1), sprites(500, 3, specks=4)])
    keep = PixelFilter.fit(data, pool)
    fresh = np.concatenate([sprites(600, 5), sprites(200, 6, specks=1), sprites(200, 7, specks=4)])
    chance = np.random.default_rng(0)
    kept = fresh[chance.random(len(fresh)) < keep.keep_probability(fresh)]
    real = sprites(800, 8)
    for stat in (metrics.isolated_pixels, metrics.opaque_colours, metrics.colour_components):
        before = metrics.wasserstein(stat(fresh), stat(real))
        after = metrics.wasserstein(stat(kept), stat(real))
        assert after < before / 4, stat.__name__


def dotted(n: int, seed: int, floating: bool) -> np.ndarray:
    """One-colour blocks with up to four dots of their colour, each diagonal to one of
    the block's corners (one-pixel detail on the shape) or, with `floating`, one pixel
    further out (specks off it): the same isolated pixels, regions and colours either
    way."""
    rng = np.random.default_rng(seed)
    made = np.zeros((n, 16, 16), dtype=np.int64)
    for i in range(n):
        h, w = rng.integers(4, 11, size=2)
        made[i, 2 : 2 + h, 2 : 2 + w] = 1
        step = 2 if floating else 1
        corners = [(2 - step, 2 - step), (2 - step, 1 + w + step), (1 + h + step, 2 - step)]
        corners.append((1 + h + step, 1 + w + step))
        for y, x in corners[: rng.integers(0, 5)]:
            made[i, y, x] = 1
    return made


def test_floating_specks_are_dropped_where_the_other_statistics_see_nothing():
    data = dotted(800, 0, floating=False)
    pool = np.concatenate([dotted(1000, 1, floating=False), dotted(1000, 2, floating=True)])
    on, off = dotted(300, 3, floating=False), dotted(300, 3, floating=True)  # same blocks
    assert np.array_equal(statistics(on)[:, :5], statistics(off)[:, :5])
    keep = PixelFilter.fit(data, pool)
    dots = metrics.floating_pixels(off) > 0
    assert keep.keep_probability(on).mean() > 0.5 and keep.keep_probability(off[dots]).max() < 0.01
    # a filter fitted on five columns (a run made before floating pixels) cannot see them
    five = PixelFilter.fit_statistics(statistics(data)[:, :5], statistics(pool))
    assert len(five.edges) == 5
    assert np.array_equal(five.keep_probability(off), five.keep_probability(on))


def blocks(n: int, seed: int, bump: bool) -> np.ndarray:
    """One-colour blocks; with `bump`, one pixel more on the middle of the top edge (a
    notch, and nothing the other statistics count)."""
    rng = np.random.default_rng(seed)
    made = np.zeros((n, 16, 16), dtype=np.int64)
    for i in range(n):
        h, w = rng.integers(4, 11, size=2)
        made[i, 3 : 3 + h, 2 : 2 + w] = 1
        if bump:
            made[i, 2, 2 + w // 2] = 1
    return made


def test_notches_are_dropped_where_the_other_statistics_see_nothing():
    data = blocks(800, 0, bump=False)
    pool = np.concatenate([blocks(1000, 1, bump=False), blocks(1000, 2, bump=True)])
    plain, bumped = blocks(300, 3, bump=False), blocks(300, 3, bump=True)
    assert (metrics.notches(bumped) == 1).all() and (metrics.notches(plain) == 0).all()
    keep = PixelFilter.fit(data, pool)
    assert keep.keep_probability(plain).mean() > 0.5 and keep.keep_probability(bumped).max() < 0.01
    # a filter fitted without the notches column (below 32x32, or an older run) keeps them
    six = PixelFilter.fit_statistics(statistics(data)[:, :NOTCHES], statistics(pool))
    assert len(six.edges) == NOTCHES and six.keep_probability(bumped).mean() > 0.2


def test_an_empty_sprite_is_never_kept():
    from pixelgen_core.pixel_filter import _cells, _product

    data = sprites(300, 0)
    pool = np.concatenate([sprites(150, 1), sprites(150, 2, specks=1)])
    pool[:3] = 0  # a few empty draws: their statistics' cells are the small clean sprites'
    keep = PixelFilter.fit(data, pool)
    odds = keep.keep_probability(pool)
    assert (odds[:3] == 0).all() and odds[3:].max() > 0
    assert (_product(keep.factors, _cells(keep.edges, statistics(pool[:3]))) > 0).all()


def test_real_sprites_are_not_filtered_away():
    """Fitted on a pool of the data's own kind, it keeps most of it, and no kind of real
    sprite is all but dropped."""
    keep = PixelFilter.fit(sprites(800, 0), sprites(2000, 1))
    odds = keep.keep_probability(sprites(500, 2))
    assert keep.acceptance > 0.6 and odds.min() > 0.3


def test_a_pool_with_nothing_like_the_data_keeps_nothing_and_says_so():
    with pytest.raises(NoSpriteToKeep):
        PixelFilter.fit(sprites(300, 0), sprites(600, 1, specks=3))


def test_state_round_trips_through_plain_data():
    pool = np.concatenate([sprites(300, 1), sprites(300, 3, specks=1)])
    keep = PixelFilter.fit(sprites(300, 0), pool)
    again = PixelFilter.from_dict(keep.to_dict())
    probe = np.concatenate([sprites(50, 2), sprites(50, 4, specks=1)])
    assert np.array_equal(again.keep_probability(probe), keep.keep_probability(probe))
    assert again.acceptance == keep.acceptance and statistics(probe).shape == (100, COLUMNS)


@pytest.fixture(scope="module")
def filtered_prior():
    """The test plugin's per-pixel prior (mostly clear, scattered pixels), with a filter
    fitted as training fits one: its own draws against "real" sprites that are the third
    of them with the fewest isolated pixels."""
    import torch

    from pixelgen_core.palette import Palette
    from pixelgen_core.sampling import sample_raw
    from pixelgen_core.testing import PALETTE, make_strategy

    strategy = make_strategy("pixel-prior")
    with torch.no_grad():
        strategy.modules["prior"].logits[:, 0] = 1.5
    palette = Palette.from_tuples(PALETTE)
    pool, _ = sample_raw(strategy, palette, 1500, seed=100)
    lonely = metrics.isolated_pixels(pool)
    data = pool[lonely <= np.quantile(lonely, 1 / 3)]
    strategy.chosen_sampling = {"filter": PixelFilter.fit(data, pool).to_dict()}
    return strategy, palette, metrics.isolated_pixels(data).mean()


def test_a_plain_draw_goes_through_the_filter_and_keeps_its_seed(filtered_prior):
    from pixelgen_core.sampling import sample_raw

    strategy, palette, real_mean = filtered_prior
    kept, _ = sample_raw(strategy, palette, 64, seed=1)
    plain, _ = sample_raw(strategy, palette, 64, seed=1, filtered=False)
    assert kept.shape == plain.shape == (64, 16, 16)
    off = [abs(metrics.isolated_pixels(made).mean() - real_mean) for made in (kept, plain)]
    assert off[0] < off[1] / 3  # the kept are like the "real" ones, the plain are not
    assert np.array_equal(kept, sample_raw(strategy, palette, 64, seed=1)[0])  # same seed
    assert not np.array_equal(kept, sample_raw(strategy, palette, 64, seed=2)[0])
    # a sheet's sprite i is the first kept one from seed + i: drawn again by itself alike
    sheet, _ = sample_raw(strategy, palette, 3, seed=5, separate=True)
    assert np.array_equal(sheet[2:], sample_raw(strategy, palette, 1, seed=7, separate=True)[0])


def test_a_class_asked_for_goes_through_the_filter(filtered_prior):
    """A class's sprites share the run's mistakes, so `--class` draws are filtered too
    (the plugin's prior ignores the class: the same "real" sprites are the target)."""
    from pixelgen_core.sampling import sample_raw

    strategy, palette, real_mean = filtered_prior
    kept, _ = sample_raw(strategy, palette, 64, seed=1, label=1)
    plain, _ = sample_raw(strategy, palette, 64, seed=1, label=1, filtered=False)
    off = [abs(metrics.isolated_pixels(made).mean() - real_mean) for made in (kept, plain)]
    assert off[0] < off[1] / 3
    assert np.array_equal(kept, sample_raw(strategy, palette, 64, seed=1, label=1)[0])


def test_other_options_tiles_prompts_and_edits_do_not_go_through_the_run_filter(filtered_prior):
    """The filter was fitted on the run's default draws, and applies to those alone
    (prompts and tileable draws get filters of their own: test_request_filter.py; this
    run keeps no sprite statistics for them)."""
    from pixelgen_core.prompts import Prompt
    from pixelgen_core.request import DrawRequest
    from pixelgen_core.sampling import pixel_filter_for, sample_raw

    strategy, palette, _ = filtered_prior
    assert np.array_equal(
        sample_raw(strategy, palette, 16, seed=3, options={"temperature": 0.9})[0],
        sample_raw(strategy, palette, 16, seed=3, filtered=False, options={"temperature": 0.9})[0],
    )
    sprite = np.zeros((16, 16), dtype=np.int64)
    assert pixel_filter_for(strategy, DrawRequest(4, label=1)) is not None
    for unfiltered in (
        DrawRequest(4, label=1, tileable=True),
        DrawRequest(4, prompt=Prompt("robot", ("robot",))),
        DrawRequest(4, image=sprite, keep=sprite > 0),
        DrawRequest(4, label=1, filtered=False),
    ):
        assert pixel_filter_for(strategy, unfiltered) is None


def test_a_filter_that_passes_too_few_still_gives_n_sprites(filtered_prior, monkeypatch):
    """A run whose model drifted from the filter's pool: after its budget of draws it
    fills up with the likeliest of the dropped, rather than drawing for ever."""
    from pixelgen_core import pixel_filter
    from pixelgen_core.sampling import sample_raw

    strategy, palette, _ = filtered_prior
    monkeypatch.setattr(
        pixel_filter.PixelFilter, "keep_probability", lambda self, idx: np.full(len(idx), 1e-9)
    )
    made, _ = sample_raw(strategy, palette, 10, seed=0)
    assert made.shape == (10, 16, 16)
