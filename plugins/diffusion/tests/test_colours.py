"""Colours per sprite: the most a training sprite has, decoding the palette head into
at most that many (`--colours`), and the choice's candidate that uses it: a taught
student's two steps alone."""

import numpy as np
import pytest
import torch
from pixelgen_diffusion.colours import fewest_colours
from pixelgen_diffusion.testing import TINY

from pixelgen_core import DataInfo, Palette, SettingError
from pixelgen_core.evaluation import opaque_colours
from pixelgen_core.testing import (
    PALETTE,
    blocky_batch,
    edit_raw,
    make_strategy,
    sample,
    sample_raw,
)


def make(*overrides: str):
    info = DataInfo(16, PALETTE, 3, 8)
    return make_strategy("diffusion", [*TINY, "model.palette_head=true", *overrides], info)


def noisy(strategy):
    """Random weights, so that the head's likeliest colour changes from pixel to pixel."""
    for module in ("ema", "consistency_ema"):
        for p in strategy.modules[module].parameters():
            torch.nn.init.normal_(p, 0, 0.1)
        torch.nn.init.normal_(strategy.modules[module].palette_out.weight, 0, 3.0)
    return strategy


def most_colours(indices: torch.Tensor) -> int:
    """What training counts: the most opaque colours of a sprite of `indices`."""
    return int(opaque_colours(indices.numpy()).max(initial=0))


def test_most_colours_counts_opaque_colours_per_sprite():
    indices = torch.zeros(3, 4, 4, dtype=torch.long)
    indices[0, 0, :3] = torch.tensor([1, 2, 3])
    indices[1, 1, 1] = 2
    assert most_colours(indices) == 3
    assert most_colours(indices[1:]) == 1
    assert most_colours(indices[2:]) == 0
    assert most_colours(indices[:0]) == 0


def test_fewest_colours_keeps_each_sprites_likeliest_colours_by_mass():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, len(PALETTE), 8, 8, generator=g)
    mass = logits.softmax(dim=1)[:, 1:].sum(dim=(2, 3))
    own = logits.argmax(dim=1)
    for k in (1, 2):
        decoded = fewest_colours(logits, k).argmax(dim=1)
        top = (mass.topk(k, dim=1).indices + 1).tolist()
        for sprite, allowed in zip(decoded, top, strict=True):
            assert set(sprite[sprite > 0].tolist()) <= set(allowed)
            assert len(set(sprite[sprite > 0].tolist())) <= k
        # a pixel whose own choice is allowed keeps it
        kept = torch.zeros_like(own, dtype=torch.bool)
        for i, allowed in enumerate(top):
            kept[i] = torch.isin(own[i], torch.tensor([0, *allowed]))
        assert torch.equal(decoded[kept], own[kept])
        assert not torch.equal(decoded, own)
    assert torch.equal(fewest_colours(logits, len(PALETTE) - 1), logits)


def test_colours_holds_every_sprite_to_that_many():
    strategy = noisy(make("consistency.share=0"))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    table = torch.tensor(PALETTE)
    free = sample(strategy, 8, g(), sampler="dpm++", steps=2)
    held = sample(strategy, 8, g(), sampler="dpm++", steps=2, colours=1)
    palette = Palette.from_tuples(PALETTE)

    def counts(images):
        return opaque_colours(palette.snap(images.permute(0, 2, 3, 1).numpy()))

    assert counts(free).max() > 1
    assert counts(held).max() <= 1
    assert (held.permute(0, 2, 3, 1).reshape(-1, 1, 4) - table[None]).abs().amax(2).min(1)[
        0
    ].max() < 1e-6  # still palette colours


def test_colours_without_the_palette_head_is_a_one_line_error():
    strategy = make("model.palette_head=false", "consistency.share=0")
    with pytest.raises(SettingError, match="palette head"):
        sample(strategy, 2, torch.Generator().manual_seed(0), sampler="dpm++", colours=1)
    sprite, keep = np.zeros((16, 16), dtype=np.int64), np.zeros((16, 16), dtype=bool)
    palette = Palette.from_tuples(PALETTE)
    with pytest.raises(SettingError, match="palette head"):  # an edit does not ignore it
        edit_raw(strategy, palette, sprite, keep, 0.5, 1, 0, options={"colours": 1})
    untaught = make()
    untaught.consistency_steps = 1
    with pytest.raises(SettingError, match="consistency.palette"):
        sample(
            untaught, 2, torch.Generator().manual_seed(0), sampler="consistency",
            final_step_t=0, colours=1,
        )  # fmt: skip


def test_training_counts_the_most_colours_and_the_run_keeps_it():
    strategy = make("consistency.share=0")
    batch = blocky_batch(16, 3)  # one colour a sprite
    strategy.train()
    strategy.train_step(batch, "base")
    assert strategy.colours_seen == 1
    others = [c for c in range(1, len(PALETTE)) if c != int(batch.indices[0].max())]
    batch.indices[0, 0, :2] = torch.tensor(others[:2])  # three colours in the first sprite
    strategy.train_step(batch, "base")
    assert strategy.colours_seen == 3
    again = make("consistency.share=0")
    again.load_extra_state(strategy.extra_state())
    assert again.colours_seen == strategy.colours_seen
    old = make()
    old.load_extra_state({"consistency_steps": 3})  # a run from before it was counted
    assert old.colours_seen == 0


def test_a_taught_student_adds_its_two_steps_alone_to_the_choice_and_auto_draws_them():
    strategy = noisy(make("consistency.palette=0.1"))
    strategy.consistency_steps = 10
    assert set(strategy.sampler_candidates()) == {"consistency 2", "dpm++ 24"}
    strategy.student_palette, strategy.colours_seen = True, 1
    candidates = strategy.sampler_candidates()
    alone = candidates["consistency 2 alone"]
    assert alone == {
        "sampler": "consistency", "steps": 2, "final_step_t": 0, "colours": 1, "mid_t": 700
    }  # fmt: skip
    strategy.chosen_sampling = {"name": "consistency 2 alone", "options": alone, "filter": None}
    palette = Palette.from_tuples(PALETTE)
    auto, _ = sample_raw(strategy, palette, 6, 1)
    given, _ = sample_raw(strategy, palette, 6, 1, options=alone)
    base_step, _ = sample_raw(strategy, palette, 6, 1, options={"sampler": "consistency"})
    assert np.array_equal(auto, given)
    assert not np.array_equal(auto, base_step)
    # an option the user gives (a value other than the config's) stays theirs
    mine, _ = sample_raw(strategy, palette, 6, 1, options={"final_step_t": 100})
    theirs = {"sampler": "consistency", "final_step_t": 100, "colours": 1, "mid_t": 700}
    assert np.array_equal(mine, sample_raw(strategy, palette, 6, 1, options=theirs)[0])
    mine, _ = sample_raw(strategy, palette, 6, 1, options={"mid_t": 500})
    theirs = {**alone, "mid_t": 500}
    assert np.array_equal(mine, sample_raw(strategy, palette, 6, 1, options=theirs)[0])
    # the second step's share of the way holds for another number of timesteps
    short = make("consistency.palette=0.1", "diffusion.timesteps=500")
    short.consistency_steps, short.student_palette = 10, True
    assert short.sampler_candidates()["consistency 2 alone"]["mid_t"] == 350
