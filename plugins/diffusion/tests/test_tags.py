"""Tag-conditioned diffusion (issue 36): a bag of tags in the time embedding, per-tag
dropout for guidance, prompts and negative prompts when sampling and editing."""

import copy

import numpy as np
import pytest
import torch
from pixelgen_diffusion.testing import TINY

from pixelgen_core import Batch, ConfigError, DataInfo, Palette, Prompt
from pixelgen_core.testing import PALETTE, edit_raw, make_strategy, sample_raw

TAGS = ("red", "blue", "tall", "wide")
# Detail levels off: these tests count the network's passes, which holding each sprite to
# its level adds to (tag runs with levels: test_detail.py).
FAST = [*TINY, "training.lr=0.003", "consistency.share=0", "sampling.sampler=dpm++"]
FAST += ["model.detail=false"]
INFO = DataInfo(16, PALETTE, 0, 8, tags=TAGS, tag_counts=(4, 4, 4, 4))


def tagged_batch() -> Batch:
    """Eight sprites: a bar of colour 1 ("red") or 2 ("blue"), standing ("tall") or
    lying ("wide"), with those tags."""
    indices = torch.zeros(8, 16, 16, dtype=torch.long)
    tags = torch.zeros(8, len(TAGS))
    for i in range(8):
        colour, tall = 1 + i % 2, i // 4 == 0
        if tall:
            indices[i, 2:14, 6:10] = colour
        else:
            indices[i, 6:10, 2:14] = colour
        tags[i, colour - 1] = 1
        tags[i, 2 if tall else 3] = 1
    table = torch.tensor(PALETTE, dtype=torch.float32)
    images = table[indices].permute(0, 3, 1, 2).contiguous()
    return Batch(images, indices, None, tags)


TRAINED_STEPS = 300


@pytest.fixture(scope="module")
def trained():
    """Trained once for the module (300 steps); a test that trains on copies it. At 150
    steps the tags were learned on one CPU and not on another (a negative prompt's
    colour share 0.93 against 0.49: float kernels differ by CPU), so the margin is wide."""
    strategy = make_strategy("diffusion", [*FAST, "consistency.share=0.5"], INFO)
    batch = tagged_batch()
    torch.manual_seed(0)
    strategy.train()
    for _ in range(TRAINED_STEPS):
        strategy.train_step(batch, "base")
    return strategy


def colours(indices: np.ndarray) -> tuple[float, float]:
    """The share of opaque pixels in colour 1 and in colour 2."""
    opaque = max(int((indices > 0).sum()), 1)
    return float((indices == 1).sum() / opaque), float((indices == 2).sum() / opaque)


@pytest.mark.parametrize("design", ["bag", "cross"])
def test_the_condition_is_a_set_of_tags_and_none_is_the_unconditional_model(design):
    strategy = make_strategy("diffusion", [*FAST, f"model.tag_conditioning={design}"], INFO)
    net = strategy.modules["unet"]
    if design == "bag":
        assert net.tag_emb.weight.shape[1] == len(TAGS) and net.tag_attn is None
    else:
        assert net.tag_attn.tokens.shape[0] == len(TAGS) + 1 and net.tag_emb is None
    x, t = torch.randn(3, 4, 16, 16), torch.tensor([10, 10, 10])
    with torch.no_grad():
        torch.nn.init.normal_(net.conv_out.weight)
        if design == "cross":
            torch.nn.init.normal_(net.tag_attn.proj.weight)  # zero at first: a no-op
        none = net(x, t, torch.zeros(3, len(TAGS)))
        red = net(x, t, torch.tensor([[1.0, 0, 0, 0]] * 3))
        mixed = net(x, t, torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]]))
    assert not torch.allclose(none, red)  # the tags reach the output
    assert torch.allclose(mixed[0], red[0], atol=1e-5)  # each sprite its own tags
    assert torch.allclose(mixed[1], none[1], atol=1e-5)


def test_training_drops_whole_tag_sets_and_single_tags():
    strategy = make_strategy("diffusion", [*FAST, "diffusion.p_uncond=0.5"], INFO)
    batch = tagged_batch()
    batch.tags = torch.ones(4000, len(TAGS))
    torch.manual_seed(0)
    dropped = strategy._training_labels(batch, 4000, torch.device("cpu"))
    whole = (dropped.sum(1) == 0).float().mean().item()
    per_tag = 1 - dropped.mean().item()
    # none kept: 0.5 + 0.5 * 0.5**4; each tag dropped: 1 - 0.5 * 0.5
    assert abs(whole - (0.5 + 0.5 * 0.5**4)) < 0.03
    assert abs(per_tag - 0.75) < 0.03


def test_a_prompt_draws_its_tags_colour(trained):
    """Trained on red and blue bars, "red" draws mostly colour 1 and "blue" colour 2."""
    strategy = trained
    palette = Palette.from_tuples(PALETTE)
    shares = {}
    for tag in ("red", "blue"):
        prompt = Prompt(tag, (tag,))
        out, _ = sample_raw(strategy, palette, 8, seed=0, prompt=prompt)
        shares[tag] = colours(out)
    assert shares["red"][0] > 0.7 and shares["blue"][1] > 0.7


def test_a_negative_prompt_steers_away_from_its_tag(trained):
    strategy = trained
    palette = Palette.from_tuples(PALETTE)
    plain, _ = sample_raw(strategy, palette, 16, seed=1, prompt=Prompt("tall", ("tall",)))
    away, _ = sample_raw(strategy, palette, 16, seed=1, prompt=Prompt("tall", ("tall",), ("red",)))
    assert colours(away)[1] > colours(plain)[1]
    assert colours(away)[1] > 0.7


FP32 = {"precision": "fp32"}  # the EMA network itself samples (not a bfloat16 copy)
FP32_4 = {**FP32, "steps": 4}  # 4 trailing steps: t = 999, 749, 499, 249


def guided_batches(net) -> tuple[list[int], object]:
    """The batch size of each of `net`'s forward passes (2n where guided), and the hook."""
    calls: list[int] = []
    return calls, net.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))


def test_a_prompt_is_guided_harder_at_the_noisy_steps(trained):
    """With a prompt, guidance is sampling.prompt_guidance_scale from
    prompt_guidance_min_t (300) up: the steps where a sprite's kind is decided. A guidance
    option given replaces its part of that, and a draw without a prompt keeps the run's."""
    strategy = trained
    palette = Palette.from_tuples(PALETTE)
    blue = Prompt("blue", ("blue",))
    calls, hook = guided_batches(strategy.modules["ema"])
    prompted, _ = sample_raw(strategy, palette, 3, 0, None, FP32_4, prompt=blue)
    assert calls == [6, 6, 6, 3]  # t = 999, 749, 499 guided; 249 < 300 not
    calls.clear()
    sample_raw(strategy, palette, 3, 0, None, FP32_4)
    assert calls == [3, 3, 6, 6]  # no prompt: the run's guidance, at t <= 700
    calls.clear()
    sample_raw(strategy, palette, 3, 0, None, {**FP32_4, "guidance_min_t": 600}, prompt=blue)
    assert calls == [6, 6, 3, 3]  # the interval's lower end given: the rest the prompt's
    hook.remove()
    config = strategy.config.sampling
    explicit = {
        **FP32_4,
        "guidance_scale": config.prompt_guidance_scale,
        "guidance_min_t": config.prompt_guidance_min_t,
        "guidance_max_t": 999,
    }
    same, _ = sample_raw(strategy, palette, 3, 0, None, explicit, prompt=blue)
    assert config.prompt_guidance_scale == 4.0 and np.array_equal(prompted, same)
    harder, _ = sample_raw(
        strategy, palette, 3, 0, None, {**explicit, "guidance_scale": 9.0}, prompt=blue
    )
    rescaled, _ = sample_raw(
        strategy, palette, 3, 0, None, {**FP32_4, "guidance_scale": 9.0}, prompt=blue
    )
    assert np.array_equal(harder, rescaled) and not np.array_equal(harder, prompted)


def test_auto_draws_a_prompt_with_the_base_model_once_tuned(trained):
    """The consistency student learned the run's guidance, not a prompt's: `auto` draws a
    prompt with DPM-Solver++ and the base model, and a draw without one with the student."""
    strategy = copy.deepcopy(trained)
    strategy.consistency_steps = 1
    strategy.config.sampling.sampler = "auto"
    palette = Palette.from_tuples(PALETTE)
    base, base_hook = guided_batches(strategy.modules["ema"])
    student, student_hook = guided_batches(strategy.modules["consistency_ema"])
    sample_raw(strategy, palette, 2, 0, None, FP32, prompt=Prompt("red", ("red",)))
    assert len(base) == 12 and not student  # DPM-Solver++, 12 steps
    base.clear()
    sample_raw(strategy, palette, 2, 0, None, FP32)
    assert len(student) == 2  # consistency 2 steps (and its final base step)
    student.clear()
    options = {**FP32, "sampler": "consistency", "steps": 2, "final_step_t": 0}
    sample_raw(strategy, palette, 2, 0, None, options, prompt=Prompt("red", ("red",)))
    assert len(student) == 2  # asked for by name: the student, with its learned guidance
    base_hook.remove()
    student_hook.remove()


def test_edits_take_a_prompt_and_keep_their_kept_pixels(trained):
    strategy = trained
    palette = Palette.from_tuples(PALETTE)
    sprite = tagged_batch().indices[0].numpy()  # a red, tall bar
    keep = np.zeros(sprite.shape, dtype=bool)
    keep[:, :8] = True
    out, _ = edit_raw(
        strategy, palette, sprite, keep, 1.0, 4, seed=0, prompt=Prompt("blue", ("blue",))
    )
    assert (out[:, keep] == sprite[keep]).all()
    assert colours(out[:, ~keep])[1] > colours(out[:, ~keep])[0]


def test_the_consistency_stage_learns_tagged_trajectories(trained):
    strategy = copy.deepcopy(trained)
    batch = tagged_batch()
    for _ in range(60):
        strategy.train_step(batch, "consistency")
    palette = Palette.from_tuples(PALETTE)
    options = {"sampler": "consistency", "steps": 2}
    out, _ = sample_raw(strategy, palette, 8, 0, None, options, prompt=Prompt("blue", ("blue",)))
    assert colours(out)[1] > colours(out)[0]
    # Its final base step (t = 200) is guided by the run's guidance, not a prompt's (from
    # t = 300 up), so that a negative prompt still steers it.
    calls, hook = guided_batches(strategy.modules["ema"])
    sample_raw(strategy, palette, 3, 0, None, {**options, **FP32}, prompt=Prompt("blue", ("blue",)))
    hook.remove()
    assert calls == [6]
    with pytest.raises(ConfigError, match="negative prompt"):
        sample_raw(
            strategy,
            palette,
            2,
            0,
            None,
            {**options, "final_step_t": 0},
            prompt=Prompt("blue", ("blue",), ("red",)),
        )


def test_train_on_a_tagged_folder_and_sample_from_a_prompt(tmp_path):
    """From the command line: a folder's file names become the run's tags, `--prompt`
    reads them, a sheet's atlas records the prompt, `runs --tags` lists them, and bad
    prompts are one-line errors."""
    import json

    from pixelgen_core import write_png
    from pixelgen_core.testing import invoke

    batch = tagged_batch()
    table = (np.array(PALETTE) * 255).astype(np.uint8)
    for i in range(24):
        k = i % 8
        colour, shape = TAGS[k % 2], TAGS[2 + k // 4]
        if (colour, shape) == ("blue", "wide"):
            continue  # left out, for a novel pair to ask for
        name = tmp_path / "set" / colour / f"{shape}Bar{i}.png"  # "bar": on all, dropped
        write_png(table[batch.indices[k].numpy()], name)
    small = ["data.dataset=set", "training.epochs=1", "training.grid_size=4", *TINY]
    small += ["tracking.enabled=false", "training.choose_sampler=0", "consistency.share=0"]
    result = invoke("train", "diffusion", *small)
    assert result.exit_code == 0, result.output
    assert "conditioning on 4 tags from file names (0 of 18 sprites carry none)" in result.output
    [ckpt] = list(tmp_path.glob("runs/diffusion/*/checkpoint.pt"))
    run_id = ckpt.parent.name
    draw = ["sample", "diffusion", "--checkpoint", ckpt, "-n", 2, "--sampler", "dpm++"]
    result = invoke(*draw, "--steps", 3, "--prompt", "Tall, reds", "--sheet", "--out", "s")
    assert result.exit_code == 0, result.output
    atlas = json.loads((tmp_path / "s" / "sheet.json").read_text())
    assert {f["prompt"] for f in atlas["frames"].values()} == {"Tall, reds"}
    assert atlas["meta"]["pixelgen"]["prompt"] == "Tall, reds"
    result = invoke(*draw, "--prompt", "red slime")
    assert result.exit_code == 1
    assert "'slime' in the prompt is not one of this run's 4 tags" in result.output
    result = invoke(*draw, "--prompt", "bleu")
    assert "closest tags: blue" in result.output and "Traceback" not in result.output
    result = invoke(*draw, "--negative", "red")
    assert result.exit_code == 1 and "a negative prompt needs a prompt" in result.output
    result = invoke(*draw, "--prompt", "red", "--negative", "red")
    assert result.exit_code == 1 and "both asked for and in the negative prompt" in result.output
    result = invoke("runs", "--tags", run_id)
    assert result.exit_code == 0, result.output
    assert "4 tags" in result.output and "bar" not in result.output  # on all: dropped
    for tag in ("red 12", "blue 6", "tall 12", "wide 6"):
        assert tag in result.output
    result = invoke(
        "evaluate", "diffusion", "--checkpoint", ckpt, "--prompts", "--per-prompt", 4,
        "--sampler", "dpm++", "--steps", 3, "--json", "--out", "e",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    kinds = {row["prompt"]: row["kind"] for row in scored["rows"]}
    assert kinds["red"] == "tag" and kinds["red, tall"] == "seen pair"
    assert kinds["blue, wide"] == "novel pair"
    assert all(0 <= row["recognised"] <= 1 for row in scored["rows"])
    assert "prompts/tag/ceiling" in scored["summary"]
    assert (tmp_path / "e" / "prompts.md").is_file()


def test_no_prompt_draws_the_datas_tag_sets_by_their_counts(trained):
    """As a class run draws classes by their frequencies, a tagged run asked for no
    prompt draws the tag sets training saw, as often as it saw them."""
    batch = tagged_batch()
    sets = {tuple(row.nonzero().flatten().tolist()) for row in batch.tags}
    assert set(trained.tag_sets.counts) == sets  # (red|blue) x (tall|wide)
    assert all(count == TRAINED_STEPS * 2 for count in trained.tag_sets.counts.values())
    drawn = trained._labels(4000, None, torch.Generator().manual_seed(0))
    rows = [tuple(row.nonzero().flatten().tolist()) for row in drawn]
    assert set(rows) == sets
    for tag_set in sets:
        assert abs(rows.count(tag_set) / 4000 - 0.25) < 0.03


def test_tag_set_counts_are_kept_in_the_checkpoint_and_old_runs_draw_no_tags(trained):
    state = trained.state_dict()
    restored = make_strategy("diffusion", [*FAST, "consistency.share=0.5"], INFO)
    restored.load_state_dict(state)
    assert restored.tag_sets.counts == trained.tag_sets.counts
    generator = torch.Generator()
    same = restored._labels(16, None, generator.manual_seed(3))
    assert torch.equal(same, trained._labels(16, None, generator.manual_seed(3)))
    old = {**state, "extra": {k: v for k, v in state["extra"].items() if k != "tag_sets"}}
    before = make_strategy("diffusion", [*FAST, "consistency.share=0.5"], INFO)
    before.load_state_dict(old)
    assert not before._labels(4, None, generator).any()  # the unconditional model, as before
