"""The U-Net's palette head: per-pixel logits over the palette, learned beside RGBA, that
let the sampler end on palette colours; and runs from before it still load."""

import numpy as np
import torch
from pixelgen_diffusion.testing import TINY

from pixelgen_core import DataInfo, Palette, Step
from pixelgen_core.evaluation import on_palette
from pixelgen_core.testing import PALETTE, blocky_batch, edit_raw, make_strategy, sample, sample_raw

FAST = [*TINY, "training.lr=0.003", "consistency.share=0", "sampling.sampler=dpm++"]


def make(*overrides: str):
    """With the head (the small test palette would get none by default), unless overridden."""
    overrides = ("model.palette_head=true", *overrides)
    return make_strategy("diffusion", [*FAST, *overrides], DataInfo(16, PALETTE, 3, 8))


def test_the_head_gives_one_logit_per_palette_colour():
    with_head, without = make(), make("model.palette_head=false")
    x, t, labels = torch.randn(2, 4, 16, 16), torch.tensor([5, 500]), torch.tensor([0, 3])
    assert with_head.modules["ema"](x, t, labels).shape == (2, 4 + len(PALETTE), 16, 16)
    assert without.modules["ema"](x, t, labels).shape == (2, 4, 16, 16)


def test_by_default_a_palette_of_more_than_eight_colours_gets_the_head():
    grey = [(0, 0, 0, 0)] + [(i / 16, i / 16, i / 16, 1.0) for i in range(1, 17)]
    for colours, head in ((8, False), (9, True), (16, True)):
        info = DataInfo(16, tuple(grey[: colours + 1]), 3, 8)
        for setting, expected in (("null", head), ("true", True), ("false", False)):
            strategy = make_strategy("diffusion", [*FAST, f"model.palette_head={setting}"], info)
            has_head = strategy.modules["ema"].palette_out is not None
            assert has_head is expected, (colours, setting)


def test_its_cross_entropy_is_part_of_the_loss_only_below_palette_max_t():
    strategy = make("diffusion.palette_loss=1.0")
    logits = torch.randn(3, len(PALETTE), 16, 16)
    indices = blocky_batch(16, 3, 3).indices
    loss = strategy._palette_loss(logits, indices, torch.tensor([10, 10, 10]))
    expected = torch.nn.functional.cross_entropy(logits, indices)
    assert torch.isclose(loss, expected)
    strategy.config.diffusion.palette_max_t = 300
    mixed = strategy._palette_loss(logits, indices, torch.tensor([10, 299, 300]))
    per_sprite = [
        torch.nn.functional.cross_entropy(logits[i : i + 1], indices[i : i + 1]) for i in range(3)
    ]
    assert torch.isclose(mixed, (per_sprite[0] + per_sprite[1]) / 3)


def test_samples_land_on_the_palette_where_rgba_alone_does_not():
    """Trained a little on blocks of palette colour, the RGBA output is still between
    colours at many pixels; with the head every raw pixel is a palette colour."""
    palette = Palette.from_tuples(PALETTE)
    table = np.array(PALETTE) * 255
    shares = {}
    for head in ("true", "false"):
        strategy = make(f"model.palette_head={head}")
        batch = blocky_batch(16, 3)
        torch.manual_seed(0)
        strategy.train()
        for _ in range(30):
            strategy.train_step(batch, "base")
        _, raw = sample_raw(strategy, palette, 16, seed=0)
        shares[head] = on_palette(raw, table, tolerance=1e-6).mean()
    assert shares["true"] == 1.0
    assert shares["false"] < 0.9


def test_edits_end_on_the_palette_and_keep_their_kept_pixels():
    palette = Palette.from_tuples(PALETTE)
    strategy = make()
    sprite = blocky_batch(16, 3).indices[0].numpy()
    keep = np.ones(sprite.shape, dtype=bool)
    keep[4:12, 4:12] = False
    out, raw = edit_raw(strategy, palette, sprite, keep, 1.0, 4, seed=3)
    assert (out[:, keep] == sprite[keep]).all()
    # Kept pixels come back as the sprite's 8-bit colours, drawn ones as the palette's.
    assert on_palette(raw, np.array(PALETTE) * 255, tolerance=1 / 255).all()


def test_it_decodes_only_from_a_timestep_it_learned():
    """With diffusion.palette_max_t below the sampler's last timestep, the head is not
    asked: one DDIM step from t = 999 returns the RGBA mean, not a palette colour."""
    strategy = make("diffusion.palette_max_t=300")
    for p in strategy.modules["ema"].parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    one_step = sample(strategy, 4, torch.Generator().manual_seed(0), ddim_steps=1)
    table = torch.tensor(PALETTE, dtype=torch.float32)
    pixels = one_step.permute(0, 2, 3, 1).reshape(-1, 1, 4)
    assert not (pixels - table[None]).abs().amax(dim=2).min(dim=1).values.eq(0).all()
    many = sample(strategy, 4, torch.Generator().manual_seed(0), ddim_steps=8)
    pixels = many.permute(0, 2, 3, 1).reshape(-1, 1, 4)
    assert (pixels - table[None]).abs().amax(dim=2).min(dim=1).values.lt(1e-6).all()


def test_a_run_from_before_the_head_loads_and_samples_as_before():
    old = make("model.palette_head=false")
    for p in old.modules["ema"].parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    state = old.state_dict()
    new = make()  # a config with the head
    new.load_state_dict(state)
    assert new.config.model.palette_head is False
    assert new.modules["ema"].palette_out is None
    a = sample(old, 3, torch.Generator().manual_seed(0))
    b = sample(new, 3, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)


def tuned(weight: float):
    """A few base steps on blocks of palette colour, then a few consistency steps with
    `consistency.palette` at `weight`."""
    strategy = make(f"consistency.palette={weight}", "consistency.share=0.5")
    batch = blocky_batch(16, 3)
    torch.manual_seed(0)
    strategy.train()
    for _ in range(20):
        strategy.train_step(batch, "base")
    for _ in range(10):
        strategy.train_step(batch, "consistency")
    return strategy


def test_the_students_palette_head_learns_only_with_consistency_palette():
    """Its logits are in the tuning's loss only where asked: without, no gradient of the
    loss reaches the student's head."""
    reached = {}
    for weight in (0.0, 1.0):
        strategy = tuned(weight)
        assert strategy.student_palette is (weight > 0)
        head = strategy.modules["consistency"].palette_out.weight
        head.grad = None
        strategy._consistency_loss(blocky_batch(16, 3), Step("consistency", 5, 10, 0)).backward()
        reached[weight] = head.grad is not None and bool(head.grad.abs().sum() > 0)
    assert reached == {0.0: False, 1.0: True}


def test_a_taught_student_ends_on_the_palette_without_the_base_step():
    """With `final_step_t=0` the student's last step is the sample: a taught head puts
    every pixel on a palette colour, and the run remembers that it was taught."""
    palette = Palette.from_tuples(PALETTE)
    table = np.array(PALETTE) * 255
    shares = {}
    for weight in (0.0, 1.0):
        strategy = tuned(weight)
        options = {"sampler": "consistency", "final_step_t": 0}
        _, raw = sample_raw(strategy, palette, 16, 0, options=options, filtered=False)
        shares[weight] = on_palette(raw, table, tolerance=1e-6).mean()
        again = make(f"consistency.palette={weight}")
        again.load_extra_state(strategy.extra_state())
        assert again.student_palette is (weight > 0)
    assert shares[1.0] == 1.0
    assert shares[0.0] < 0.9
    old = make()  # a run from before the setting: its student was never taught
    old.load_extra_state({"consistency_steps": 10})
    assert old.student_palette is False
