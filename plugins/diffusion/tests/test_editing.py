"""Diffusion's edit and tileable capabilities: RePaint inpainting, variations, seams."""

import numpy as np
import pytest
import torch
from pixelgen_diffusion.testing import TINY

from pixelgen_core import ConfigError, DataInfo, Palette
from pixelgen_core.testing import (
    PALETTE,
    draw,
    edit_raw,
    gradient_batch,
    make_strategy,
    seam_difference,
)

FAST = [*TINY, "sampling.steps=8", "training.lr=0.003", "consistency.share=0"]


def trained_on_gradients(steps: int = 120, *overrides: str):
    strategy = make_strategy(
        "diffusion",
        [*FAST, "diffusion.ema_decay=0.9", "sampling.sampler=dpm++", *overrides],
        DataInfo(16, PALETTE, 3, 8),
    )
    batch = gradient_batch()
    torch.manual_seed(0)
    strategy.train()
    for _ in range(steps):
        strategy.train_step(batch, "base")
    return strategy


def test_tileable_sprites_wrap_around_without_a_seam():
    strategy = trained_on_gradients()
    palette = Palette.from_tuples(PALETTE)
    plain_wrap, plain_middle = seam_difference(draw(strategy, palette, 64, seed=0))
    tiled = draw(strategy, palette, 64, seed=0, tileable=True)
    wrap, middle = seam_difference(tiled)
    # The model learned the data's seam: without --tileable the wrap-around edge is far
    # rougher than the middle. With it, the edge is drawn like any other neighbourhood
    # (the same in expectation, so a margin for 64 sprites' sampling noise).
    assert plain_wrap > 3 * plain_middle
    assert wrap <= 1.25 * middle, (wrap, middle)


def test_inpainting_keeps_pixels_and_changes_the_rest():
    # RGBA output: with the palette head this tiny model draws the gradient's middle back
    # exactly (right, but it shows nothing about what is redrawn)
    strategy = trained_on_gradients(40, "model.palette_head=false")
    palette = Palette.from_tuples(PALETTE)
    sprite = gradient_batch().indices[0].numpy()
    keep = np.ones(sprite.shape, dtype=bool)
    keep[4:12, 4:12] = False
    out, _ = edit_raw(strategy, palette, sprite, keep, 1.0, 6, seed=3)
    assert (out[:, keep] == sprite[keep]).all()
    assert (out[:, ~keep] != sprite[~keep]).any()  # something was redrawn
    assert len({o.tobytes() for o in out}) > 1  # and not the same way every time


def test_strength_sets_how_far_variations_go():
    # The training sprites are one gradient up to a few pixels: a palette head learns it
    # in 120 steps and redraws it at any strength, so the trajectory is read from RGBA.
    strategy = trained_on_gradients(40, "model.palette_head=false")
    palette = Palette.from_tuples(PALETTE)
    sprite = gradient_batch().indices[0].numpy()
    everything = np.zeros(sprite.shape, dtype=bool)
    changed = [
        (edit_raw(strategy, palette, sprite, everything, s, 16, seed=1)[0] != sprite).mean()
        for s in (0.0, 0.3, 1.0)
    ]
    assert changed[0] == 0
    assert changed[0] < changed[1] < changed[2]


def test_edit_refuses_samplers_it_cannot_use():
    strategy = trained_on_gradients(1)
    palette = Palette.from_tuples(PALETTE)
    sprite = gradient_batch().indices[0].numpy()
    keep = np.zeros(sprite.shape, dtype=bool)
    with pytest.raises(ConfigError, match="the consistency sampler cannot edit"):
        edit_raw(strategy, palette, sprite, keep, 0.5, 1, 0, options={"sampler": "consistency"})
    for option in ({"mid_t": 500}, {"final_step_t": 50}):  # not ignored in silence
        with pytest.raises(ConfigError, match="edit draws with the base model's DDIM steps"):
            edit_raw(strategy, palette, sprite, keep, 0.5, 1, 0, options=option)
    with pytest.raises(ConfigError, match="restarts are for sample"):
        edit_raw(strategy, palette, sprite, keep, 0.5, 1, 0, options={"restarts": 2})
