"""The outline cleaner: what its training copies look like, that it learns to take a
bump off a straight edge and keep a line's end, and how sampling and editing use it."""

import numpy as np
import torch
from pixelgen_diffusion.cleaner import OutlineCleaner, clean, cleaner_loss, jitter
from pixelgen_diffusion.testing import TINY

from pixelgen_core import Batch, DataInfo, Palette
from pixelgen_core.testing import PALETTE, draw, edit_raw, make_strategy


def square(n: int = 1, size: int = 8) -> torch.Tensor:
    sprites = torch.zeros(n, size, size, dtype=torch.long)
    sprites[:, 2:6, 2:6] = 2
    return sprites


def test_jitter_recolours_edge_pixels_only_and_to_a_neighbours_colour():
    torch.manual_seed(0)
    sprites = square(500)
    assert torch.equal(jitter(sprites, 0.0), sprites)
    jittered = jitter(sprites, 0.2)
    changed = jittered != sprites
    assert changed.any()
    # the square's inside and the clear pixels away from it never change
    assert not changed[:, 3:5, 3:5].any()
    far = torch.ones(8, 8, dtype=torch.bool)
    far[1:7, 1:7] = False
    assert not changed[:, far].any()
    assert set(jittered.unique().tolist()) == {0, 2}  # only colours beside them
    assert (jitter(sprites, 0.05) != sprites).float().mean() < changed.float().mean()


def test_a_trained_cleaner_takes_a_bump_off_an_edge_and_keeps_a_line_end():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    sprites = torch.zeros(256, 12, 12, dtype=torch.long)
    for sprite in sprites:  # a filled rectangle and a one-pixel line of another colour
        top, left = rng.integers(1, 4, size=2)
        sprite[top : top + rng.integers(4, 7), left : left + rng.integers(4, 7)] = 2
        row, start = rng.integers(9, 11), rng.integers(0, 4)
        sprite[row, start : start + rng.integers(4, 8)] = 3
    cleaner = OutlineCleaner(len(PALETTE), 16, 3)
    optimizer = torch.optim.AdamW(cleaner.parameters(), 0.005)
    for _ in range(300):
        loss = cleaner_loss(cleaner, sprites[torch.randint(0, 256, (32,))], 0.15)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = torch.zeros(1, 12, 12, dtype=torch.long)
    test[0, 3:8, 3:8] = 2
    test[0, 10, 1:7] = 3
    bumped = test.clone()
    bumped[0, 2, 5] = 2  # one pixel out of the top edge
    with torch.no_grad():
        assert torch.equal(clean(cleaner, bumped, 2), test)
        assert torch.equal(clean(cleaner, test, 2), test)  # the line keeps both its ends


def test_the_cleaner_wraps_around_for_tileable_sprites():
    torch.manual_seed(0)
    cleaner = OutlineCleaner(4, 8, 2)
    sprites = torch.randint(0, 4, (4, 8, 8))
    shifted = sprites.roll((3, 5), dims=(1, 2))
    with torch.no_grad():
        tiled = cleaner(sprites, tileable=True).roll((3, 5), dims=(2, 3))
        assert torch.allclose(tiled, cleaner(shifted, tileable=True), atol=1e-5)
        framed = cleaner(sprites).roll((3, 5), dims=(2, 3))
        assert not torch.allclose(framed, cleaner(shifted), atol=1e-3)


def strategy_with_cleaner(*overrides: str):
    """A tiny untrained run whose cleaner, once it counts as trained, paints every pixel
    palette colour 1: what reaches the sprites shows at once."""
    strategy = make_strategy(
        "diffusion",
        [*TINY, "sampling.steps=4", "consistency.share=0", "sampling.sampler=dpm++", *overrides],
        DataInfo(16, PALETTE, 3, 8),
    )
    with torch.no_grad():
        strategy.modules["cleaner"].out.bias.copy_(torch.tensor([0.0, 50.0, 0.0, 0.0]))
    return strategy


def test_sampling_cleans_once_the_cleaner_trained_and_no_clean_draws_as_drawn():
    strategy = strategy_with_cleaner("model.detail=false")
    palette = Palette.from_tuples(PALETTE)
    as_drawn = palette.snap(draw(strategy, palette, 8, seed=0))
    assert (as_drawn != 1).any()
    strategy.cleaner_steps = 1
    assert (palette.snap(draw(strategy, palette, 8, seed=0)) == 1).all()
    unclean = draw(strategy, palette, 8, seed=0, options={"clean": False})
    assert np.array_equal(palette.snap(unclean), as_drawn)


def test_an_edit_is_cleaned_where_it_was_redrawn_only():
    strategy = strategy_with_cleaner()
    strategy.cleaner_steps = 1
    palette = Palette.from_tuples(PALETTE)
    sprite = np.zeros((16, 16), dtype=np.int64)
    sprite[4:12, 4:12] = 2
    keep = np.ones(sprite.shape, dtype=bool)
    keep[6:10, 6:10] = False
    out, _ = edit_raw(strategy, palette, sprite, keep, 1.0, 4, seed=0)
    assert (out[:, keep] == sprite[keep]).all()
    assert (out[:, ~keep] == 1).all()


def test_the_cleaner_stage_trains_the_cleaner_alone_and_old_runs_keep_their_stages():
    strategy = make_strategy("diffusion", TINY, DataInfo(16, PALETTE, 3, 8))
    batch = Batch(torch.rand(4, 4, 16, 16), square(4, 16), torch.zeros(4, dtype=torch.long))
    unet = {k: v.clone() for k, v in strategy.modules["unet"].state_dict().items()}
    before = strategy.modules["cleaner"].out.weight.clone()
    strategy.train()
    strategy.train_step(batch, "cleaner")
    assert strategy.cleaner_steps == 1
    assert not torch.equal(strategy.modules["cleaner"].out.weight, before)
    after = strategy.modules["unet"].state_dict()
    assert all(torch.equal(after[k], v) for k, v in unet.items())
    state = strategy.state_dict()
    again = make_strategy("diffusion", TINY, DataInfo(16, PALETTE, 3, 8))
    again.load_state_dict(state)
    assert again.cleaner_steps == 1 and again.stages()[0].name == "cleaner"
    del state["modules"]["cleaner"]  # a run saved before the cleaner
    del state["extra"]["cleaner_steps"]
    old = make_strategy("diffusion", TINY, DataInfo(16, PALETTE, 3, 8))
    old.load_state_dict(state)
    assert old.cleaner_steps == 0
    assert [s.name for s in old.stages()] == ["base", "consistency"]
