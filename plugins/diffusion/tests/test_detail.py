"""Detail levels: each sprite's count of isolated pixels, paired with its class."""

import io

import torch
from pixelgen_diffusion.detail import PATIENCE, REDRAWS, REDRAWS_MENDED, detail_levels
from pixelgen_diffusion.testing import TINY as TINY_MODEL

from pixelgen_core import Batch, DataInfo, Palette, Prompt
from pixelgen_core.evaluation import isolated_pixels
from pixelgen_core.testing import PALETTE, edit_raw, make_strategy, sample, sample_raw

TINY = [*TINY_MODEL, "sampling.steps=2"]


def make(*overrides, classes=3):
    return make_strategy("diffusion", [*TINY, *overrides], DataInfo(16, PALETTE, classes, 8))


def sprites() -> torch.Tensor:
    """Three 16x16 sprites: a solid block, a block with one speck of another colour
    beside it, and a one-pixel diagonal line of six pixels."""
    out = torch.zeros(3, 16, 16, dtype=torch.long)
    out[0, 4:10, 4:10] = 1
    out[1, 4:10, 4:10] = 1
    out[1, 2, 12] = 2  # alone
    out[1, 6, 6] = 2  # inside the block: its own colour has no neighbour of its colour
    for k in range(6):
        out[2, 3 + k, 3 + k] = 1
    return out


def test_levels_come_from_isolated_pixels_as_evaluate_counts_them():
    assert isolated_pixels(sprites().numpy()).tolist() == [0, 2, 6]
    assert detail_levels(sprites()).tolist() == [0, 1, 2]
    edge = torch.zeros(1, 16, 16, dtype=torch.long)
    edge[0, 0, :5] = 3  # a line along the border: no pixel of it is alone
    assert isolated_pixels(edge.numpy()).tolist() == [0]


def test_training_counts_each_class_and_level_pair():
    strategy = make()
    assert strategy.levels == 3 and strategy.null_class == 3
    assert strategy.modules["unet"].class_emb.num_embeddings == 12  # (3 + null) x 3 levels
    batch = Batch(torch.rand(3, 4, 16, 16), sprites(), torch.tensor([0, 2, 2]))
    strategy.train_step(batch, "base")
    # class 0 solid -> 0; class 2 with two specks -> 2 * 3 + 1; class 2 a line -> 2 * 3 + 2
    assert strategy.class_counts.nonzero().flatten().tolist() == [0, 7, 8]


def test_guidance_drops_the_class_and_keeps_the_level():
    """Guidance pushes towards the class; the level is a plain condition, the same in
    both passes, so guidance does not exaggerate it."""
    strategy = make("diffusion.p_uncond=1.0")
    pairs = torch.tensor([0, 4, 8, 10])  # (0, 0), (1, 1), (2, 2), (null, 1)
    assert strategy._unconditioned(pairs).tolist() == [9, 10, 11, 10]
    assert strategy._conditioned(pairs).tolist() == [True, True, True, False]
    batch = Batch(torch.rand(3, 4, 16, 16), sprites(), torch.tensor([0, 2, 2]))
    dropped = strategy._training_labels(batch, 3, torch.device("cpu"))
    assert dropped.tolist() == [9, 10, 11]


def test_a_class_asked_for_draws_only_its_own_pairs():
    strategy = make()
    # class 1 at levels 0, 1 and 2 (pairs 3, 4, 5), class 2 at level 0 (pair 6)
    strategy.class_counts = torch.zeros(9, dtype=torch.float64)
    weights = torch.tensor([1e6, 1.0, 2e6, 5e5], dtype=torch.float64)
    strategy.class_counts[[3, 4, 5, 6]] = weights
    drawn = strategy._labels(600, 1, torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) <= {3, 4, 5}  # class 1 with each level: 1 * 3 + level
    assert (drawn == 5).sum() > (drawn == 3).sum() > 100  # by the class's own frequencies
    unasked = strategy._labels(600, None, torch.Generator().manual_seed(0))
    assert set(unasked.tolist()) <= {3, 4, 5, 6} and (unasked == 6).any()


def test_without_classes_or_with_detail_off_the_condition_is_the_class():
    assert make(classes=0).levels == 1
    off = make("model.detail=false")
    assert off.levels == 1 and off.null_class == 3
    assert off.modules["unet"].class_emb.num_embeddings == 4


def test_a_run_from_before_detail_levels_loads_and_samples_by_class():
    old = make("model.detail=false")
    saved = io.BytesIO()
    torch.save(old.state_dict(), saved)
    saved.seek(0)
    new = make()
    new.load_state_dict(torch.load(saved, weights_only=False))
    assert new.levels == 1 and new.null_class == 3 and new.config.model.detail is False
    a = sample(new, 2, torch.Generator().manual_seed(1), label=2)
    b = sample(old, 2, torch.Generator().manual_seed(1), label=2)
    assert torch.equal(a, b)


def as_images(indices: torch.Tensor) -> torch.Tensor:
    """(N, H, W) palette indices -> (N, 4, H, W) RGBA in [0, 1], as `sample` returns."""
    return torch.tensor(PALETTE, dtype=torch.float32)[indices].permute(0, 3, 1, 2)


def test_a_sprite_asked_solid_that_came_with_specks_is_mended_not_drawn_again():
    strategy = make()
    asked = torch.tensor([0 * 3 + 0, 1 * 3 + 0])  # both asked solid

    def never(rows):
        raise AssertionError("a mended sprite is not drawn again")

    held = strategy._held(as_images(sprites()[:2]), asked, never)
    # the lone speck beside the block is cleared, the one inside takes the block's colour
    assert (strategy_snap(held) == sprites()[0].numpy()).all()


def test_a_sprite_off_its_level_is_drawn_again_at_it():
    strategy = make()
    came = sprites()[[0, 0, 2]]  # levels 0, 0, 2
    asked = torch.tensor([0 * 3 + 0, 1 * 3 + 2, 2 * 3 + 2])  # the second was asked detailed
    redrawn = []

    def again(rows):  # a diagonal line each time
        redrawn.append(asked[rows].tolist())
        return as_images(sprites()[2:].expand(len(rows), -1, -1))

    held = strategy._held(as_images(came), asked, again)
    assert redrawn == [[1 * 3 + 2]]  # drawn again with the same condition
    assert detail_levels(torch.tensor(strategy_snap(held))).tolist() == [0, 2, 2]


def test_a_solid_ask_that_came_detailed_is_drawn_again_not_emptied():
    """Five or more isolated pixels make a drawing (a diagonal line here), not a solid
    sprite with specks: mending would clear all of it."""
    strategy = make()

    def solid(rows):
        return as_images(sprites()[:1].expand(len(rows), -1, -1))

    held = strategy._held(as_images(sprites()[2:]), torch.tensor([0]), solid)
    assert (strategy_snap(held) == sprites()[0].numpy()).all()


def test_a_level_never_reached_is_kept_as_drawn_after_the_rounds():
    strategy = make()
    calls = []

    def never(rows):
        calls.append(len(rows))
        return as_images(sprites()[:1].expand(len(rows), -1, -1))  # always solid

    came = as_images(sprites()[:1].expand(2, -1, -1))
    held = strategy._held(came, torch.tensor([2, 2]), never)  # asked detailed
    assert calls == [2] * min(REDRAWS_MENDED, PATIENCE) and held.shape == (2, 4, 16, 16)


def test_each_round_draws_again_only_the_sprites_still_off_their_level():
    strategy = make()
    calls = []

    def one_at_a_time(rows):  # the first sprite of each round comes out detailed
        calls.append(len(rows))
        out = sprites()[:1].expand(len(rows), -1, -1).clone()
        out[0] = sprites()[2]
        return as_images(out)

    for mend, rounds in ((True, REDRAWS_MENDED), (False, REDRAWS)):
        calls.clear()
        many = rounds + 3
        came = as_images(sprites()[:1].expand(many, -1, -1))  # all solid, asked detailed
        held = strategy._held(came, torch.full((many,), 2), one_at_a_time, mend=mend)
        assert calls == list(range(many, many - rounds, -1))
        assert (detail_levels(torch.tensor(strategy_snap(held))) == 2).sum() == rounds


def test_without_mending_a_solid_ask_with_specks_is_drawn_again():
    """`--no-mend`: the hold of before, rejection alone."""
    strategy = make()
    redrawn = []

    def solid(rows):
        redrawn.append(len(rows))
        return as_images(sprites()[:1].expand(len(rows), -1, -1))

    held = strategy._held(as_images(sprites()[1:2]), torch.tensor([0]), solid, mend=False)
    assert redrawn == [1] and (strategy_snap(held) == sprites()[0].numpy()).all()


def test_without_mending_redraws_stop_once_rounds_in_a_row_bring_none_in():
    strategy = make()
    calls = []

    def never(rows):
        calls.append(len(rows))
        return as_images(sprites()[1:2].expand(len(rows), -1, -1))  # always a speck

    strategy._held(as_images(sprites()[1:2]), torch.tensor([0]), never, mend=False)
    assert calls == [1] * PATIENCE


def test_mend_is_a_sample_option_that_reaches_the_hold(monkeypatch):
    strategy = make()
    seen = []

    def held(images, labels, redraw, colours=None, mend=True):
        seen.append(mend)
        return images

    monkeypatch.setattr(strategy, "_held", held)
    sample(strategy, 2, torch.Generator().manual_seed(0))
    sample(strategy, 2, torch.Generator().manual_seed(0), mend=False)
    assert seen == [True, False]


def test_an_edit_asks_for_the_inputs_detail_level_and_is_held_to_it(monkeypatch):
    """Variations of a solid sprite that come out detailed (a line of single pixels) are
    drawn again; those of a detailed sprite are not."""
    strategy = make()
    palette = Palette.from_tuples(PALETTE)
    drawn = []

    def repaint(runner, timesteps, predict, known, kept, draw):  # detailed, then solid
        drawn.append(len(known))
        return as_images(sprites()[2 if len(drawn) == 1 else 0].expand(len(known), -1, -1))

    monkeypatch.setattr(strategy, "_repaint", repaint)
    keep_none = torch.zeros(16, 16, dtype=torch.bool).numpy()  # every pixel redrawn
    solid, _ = edit_raw(strategy, palette, sprites()[0].numpy(), keep_none, 0.5, 3, seed=0)
    assert drawn == [3, 3] and detail_levels(torch.from_numpy(solid)).tolist() == [0, 0, 0]
    drawn.clear()
    lined, _ = edit_raw(strategy, palette, sprites()[2].numpy(), keep_none, 0.5, 3, seed=0)
    assert drawn == [3] and detail_levels(torch.from_numpy(lined)).tolist() == [2, 2, 2]


def strategy_snap(images: torch.Tensor):
    return Palette.from_tuples(PALETTE).snap(images.permute(0, 2, 3, 1).numpy())


def test_an_edit_is_held_to_no_more_colours_than_its_input():
    """A one-colour sprite's variation that comes back with a speck of a second colour,
    at the input's detail level, is drawn again."""
    from pixelgen_core.evaluation import opaque_colours

    strategy = make()
    palette = Palette.from_tuples(PALETTE)
    one_colour = sprites()[0].clone()
    one_colour[2, 12] = 1  # one isolated pixel of its own colour: level 1, as sprites()[1]
    two_colours = sprites()[1]  # level 1 too, with a second colour
    assert detail_levels(torch.stack([one_colour, two_colours])).tolist() == [1, 1]
    drawn = []

    def repaint(runner, timesteps, predict, known, kept, draw):  # two colours, then one
        drawn.append(len(known))
        came = two_colours if len(drawn) == 1 else one_colour
        return as_images(came.expand(len(known), -1, -1))

    strategy._repaint = repaint
    keep_none = torch.zeros(16, 16, dtype=torch.bool).numpy()
    edited, _ = edit_raw(strategy, palette, one_colour.numpy(), keep_none, 0.5, 3, seed=0)
    assert drawn == [3, 3] and opaque_colours(edited).tolist() == [1, 1, 1]
    drawn.clear()
    edited, _ = edit_raw(strategy, palette, two_colours.numpy(), keep_none, 0.5, 3, seed=0)
    assert drawn == [3]  # two colours in, two out: kept


def test_an_edits_variation_of_a_solid_sprite_with_a_speck_is_mended(monkeypatch):
    strategy = make()
    palette = Palette.from_tuples(PALETTE)
    drawn = []

    def repaint(runner, timesteps, predict, known, kept, draw):  # the block with two specks
        drawn.append(len(known))
        return as_images(sprites()[1].expand(len(known), -1, -1))

    monkeypatch.setattr(strategy, "_repaint", repaint)
    keep_none = torch.zeros(16, 16, dtype=torch.bool).numpy()
    solid, _ = edit_raw(strategy, palette, sprites()[0].numpy(), keep_none, 0.5, 2, seed=0)
    assert drawn == [2] and (solid == sprites()[0].numpy()).all()


# -- runs with tags: the level after the tags --------------------------------------------
TAGS = ("red", "blue", "tall")


def make_tagged(*overrides):
    info = DataInfo(16, PALETTE, 0, 8, tags=TAGS, tag_counts=(4, 4, 4))
    return make_strategy("diffusion", [*TINY, *overrides], info)


def tagged(levels: list[int], *tag_rows: list[float]) -> torch.Tensor:
    return torch.cat([torch.tensor(tag_rows), torch.tensor(levels, dtype=torch.float)[:, None]], 1)


def test_a_tag_run_conditions_on_its_tags_and_each_sprites_level():
    strategy = make_tagged("diffusion.p_uncond=1.0")
    net = strategy.modules["unet"]
    assert strategy.levels == 3 and net.class_emb.num_embeddings == 3  # the levels' vectors
    tags = torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 1, 0]])
    batch = Batch(torch.rand(3, 4, 16, 16), sprites(), None, tags)
    strategy.train_step(batch, "base")
    # every tag dropped (p_uncond 1), each sprite's level kept: guidance drops the tags
    dropped = strategy._training_labels(batch, 3, torch.device("cpu"))
    assert dropped.tolist() == tagged([0, 1, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0]).tolist()
    assert strategy.tag_sets.level_counts == {(0, 2): [1, 0, 0], (1,): [0, 1, 1]}
    x, t = torch.randn(2, 4, 16, 16), torch.tensor([10, 10])
    with torch.no_grad():
        torch.nn.init.normal_(net.conv_out.weight)
        torch.nn.init.normal_(net.class_emb.weight)
        out = net(x, t, tagged([0, 2], [1, 0, 1], [1, 0, 1]))
    assert not torch.allclose(out[0], out[1])  # the level reaches the output


def test_a_tag_runs_guidance_keeps_the_level_and_its_negative_prompt():
    strategy = make_tagged()
    labels = tagged([0, 2], [1, 0, 1], [0, 0, 0])
    assert strategy._unconditioned(labels).tolist() == tagged([0, 2], [0, 0, 0], [0, 0, 0]).tolist()
    negative = torch.tensor([0.0, 1, 0])
    away = strategy._unconditioned(labels, negative)
    assert away.tolist() == tagged([0, 2], [0, 1, 0], [0, 1, 0]).tolist()
    assert strategy._conditioned(labels).tolist() == [True, False]


def test_a_tag_run_draws_each_sets_levels_and_a_prompts_by_its_sprites():
    strategy = make_tagged()
    strategy.tag_sets.add(
        torch.tensor([[1.0, 0, 1]] * 3 + [[0, 1, 0]] * 3), torch.tensor([0] * 3 + [2] * 3)
    )
    drawn = strategy._labels(400, None, torch.Generator().manual_seed(0))
    red_tall = drawn[:, 0] == 1
    assert 100 < int(red_tall.sum()) < 300
    assert (drawn[red_tall, 3] == 0).all() and (drawn[~red_tall, 3] == 2).all()
    prompt = torch.tensor([0.0, 1, 0])  # "blue": only the detailed set holds it
    asked = strategy._labels(50, None, torch.Generator().manual_seed(0), prompt)
    assert (asked[:, :3] == prompt).all() and (asked[:, 3] == 2).all()
    unknown = strategy._labels(400, None, torch.Generator().manual_seed(0), torch.ones(3))
    assert set(unknown[:, 3].tolist()) == {0.0, 2.0}  # no set holds all three: every sprite's


def test_a_tag_runs_draws_and_prompts_are_held_to_their_levels(monkeypatch):
    strategy = make_tagged()
    seen = []

    def held(images, labels, redraw, colours=None, mend=True):
        seen.append(strategy._asked_levels(labels).tolist())
        return images

    monkeypatch.setattr(strategy, "_held", held)
    strategy.tag_sets.add(torch.tensor([[1.0, 0, 1]] * 2), torch.tensor([2, 2]))
    sample(strategy, 2, torch.Generator().manual_seed(0))
    palette = Palette.from_tuples(PALETTE)
    sample_raw(strategy, palette, 2, 0, None, {"sampler": "dpm++"}, prompt=Prompt("red", ("red",)))
    assert seen == [[2, 2], [2, 2]]


def test_a_tag_run_from_before_detail_levels_loads_and_draws_as_it_did():
    old = make_tagged("model.detail=false")
    old.tag_sets.add(torch.tensor([[1.0, 0, 1], [0, 1, 0]]))
    saved = io.BytesIO()
    torch.save(old.state_dict(), saved)
    saved.seek(0)
    new = make_tagged()
    new.load_state_dict(torch.load(saved, weights_only=False))
    assert new.levels == 1 and new.tag_sets.levels == 1 and new.config.model.detail is False
    a = sample(new, 2, torch.Generator().manual_seed(1))
    b = sample(old, 2, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
