"""A request's own pixel filter: a prompt's or tileable draws', fitted on a pool of them
against the training sprites they should look like."""

import os
from pathlib import Path

import numpy as np
import pytest
from pixelgen_diffusion.testing import TINY

from pixelgen_core import request_filter
from pixelgen_core.pixel_filter import COLUMNS, PixelFilter, statistics
from pixelgen_core.prompts import Prompt
from pixelgen_core.request import DrawRequest

TAGS = ("robot", "tile", "red")
ROBOT, TILE = Prompt("robot", ("robot",)), Prompt("tile", ("tile",))


def blocks(n: int, seed: int, specks: int = 0) -> np.ndarray:
    """One-colour blocks of a random size in 16x16, with `specks` stray pixels of
    another colour each."""
    rng = np.random.default_rng(seed)
    made = np.zeros((n, 16, 16), dtype=np.int64)
    for i in range(n):
        h, w = rng.integers(4, 14, size=2)
        made[i, 1 : 1 + h, 1 : 1 + w] = 1 + rng.integers(0, 3)
        for _ in range(specks):
            y, x = rng.integers(0, 16, size=2)
            made[i, y, x] = 5
    return made


@pytest.fixture
def tagged():
    """A strategy whose run kept a filter, with a reference of 60 clean "robot" sprites
    (a third also "red") and 30 speckled "tile" ones; and a pool that counts its draws."""
    from pixelgen_core.strategy import DataInfo
    from pixelgen_core.testing import PALETTE, make_strategy

    strategy = make_strategy("pixel-prior", info=DataInfo(16, PALETTE, 0, 8, tags=TAGS))
    robots, tiles = blocks(60, 0), blocks(30, 1, specks=4)
    carried = np.zeros((90, 3))
    carried[:60, 0], carried[60:, 1], carried[:20, 2] = 1, 1, 1
    pool = np.concatenate([blocks(100, 2), blocks(100, 3, specks=1)])
    run_filter = PixelFilter.fit(robots, pool).to_dict()
    strategy.chosen_sampling = {
        "filter": run_filter,
        request_filter.KEY: request_filter.reference(np.concatenate([robots, tiles]), carried),
    }
    pools: list[int] = []

    def draw_pool(count: int, seed: int) -> np.ndarray:
        pools.append(seed)
        half = count // 2  # half clean, half speckled: the prompt's filter tells them apart
        return np.concatenate([blocks(half, 10), blocks(count - half, 11, specks=3)])

    return strategy, draw_pool, pools


def for_prompt(strategy, prompt: Prompt | None, draw_pool, **request):
    from pixelgen_core.sampling import pixel_filter_for

    return pixel_filter_for(strategy, DrawRequest(4, prompt=prompt, **request), draw_pool)


def test_the_reference_picks_the_sprites_with_every_tag_and_no_negative_one(tagged):
    strategy, _, _ = tagged
    kept = strategy.chosen_sampling[request_filter.KEY]
    assert len(kept["statistics"]) == len(kept["tags"]) == 90
    assert kept["tags"][0] == [0, 2] and kept["tags"][60] == [1]
    pick = request_filter.real_statistics
    assert len(pick(kept, ROBOT, TAGS)) == 60
    assert len(pick(kept, Prompt("red robot", ("red", "robot")), TAGS)) == 20
    assert len(pick(kept, Prompt("robot", ("robot",), ("red",)), TAGS)) == 40
    assert np.array_equal(pick(kept, TILE, TAGS), statistics(blocks(30, 1, specks=4)))
    nothing = {"statistics": [], "tags": []}
    assert pick(nothing, None, TAGS).shape == (0, COLUMNS)  # a column per statistic still


def cached() -> list[Path]:
    return list((Path(os.environ["PIXELGEN_CACHE_DIR"]) / "request-filters").glob("*.json"))


def test_a_prompt_gets_a_filter_of_its_own_fitted_once(tagged, caplog):
    strategy, draw_pool, pools = tagged
    with caplog.at_level("INFO", logger="pixelgen"):
        robot = for_prompt(strategy, ROBOT, draw_pool)
        for_prompt(strategy, ROBOT, draw_pool)
    assert pools == [request_filter.POOL_SEED]  # one pool, whatever the request's seed
    said = [r.getMessage() for r in caplog.records if r.name == "pixelgen"]
    assert said == [
        "fitting a pixel filter for this prompt: 256 draws, once for this run (then kept "
        "in the cache)"
    ]  # the command line prints it: most of the first draw's wait
    clean, speckled = blocks(50, 20), blocks(50, 21, specks=3)
    odds = [robot.keep_probability(s).mean() for s in (clean, speckled)]
    assert odds[0] > 5 * odds[1]  # "robot" sprites are clean: its filter drops specks
    # kept: in memory, and on disk for the next process
    assert for_prompt(strategy, ROBOT, draw_pool, seed=9) is not None and len(pools) == 1
    request_filter._fitted.clear()
    again = for_prompt(strategy, ROBOT, draw_pool)
    assert len(pools) == 1 and again.to_dict() == robot.to_dict()
    assert len(cached()) == 1
    # another prompt, negative prompt or model gets its own
    tile = for_prompt(strategy, TILE, draw_pool)
    assert len(pools) == 2  # "tile" sprites are speckled: its filter keeps specks
    assert tile.keep_probability(speckled).mean() > tile.keep_probability(clean).mean()
    for_prompt(strategy, Prompt("robot", ("robot",), ("red",)), draw_pool)
    assert len(pools) == 3
    import torch

    with torch.no_grad():
        strategy.modules["prior"].logits[0, 0] += 1
    for_prompt(strategy, ROBOT, draw_pool)
    assert len(pools) == 4


def test_tileable_draws_get_a_filter_of_their_own_against_all_the_sprites(tagged):
    strategy, draw_pool, pools = tagged
    tiles = for_prompt(strategy, None, draw_pool, tileable=True)
    assert pools == [request_filter.POOL_SEED]
    real = request_filter.real_statistics(strategy.chosen_sampling[request_filter.KEY], None, TAGS)
    assert len(real) == 90  # every training sprite, clean robots and speckled tiles
    fitted = PixelFilter.fit_statistics(
        real, statistics(draw_pool(request_filter.POOL, 0)), request_filter.CAP_QUANTILE
    )
    assert tiles.to_dict() == fitted.to_dict()
    robot_tiles = for_prompt(strategy, ROBOT, draw_pool, tileable=True)  # a third pool
    assert len(pools) == 3 and robot_tiles.to_dict() != tiles.to_dict()
    for_prompt(strategy, None, draw_pool, tileable=True, seed=5)
    assert len(pools) == 3  # kept
    for_prompt(strategy, None, draw_pool, tileable=True, label=1)  # a class's own pool
    assert len(pools) == 4


def test_no_filter_without_enough_real_sprites_a_reference_or_the_run_filter(tagged):
    strategy, draw_pool, pools = tagged
    assert for_prompt(strategy, Prompt("red tile", ("red", "tile")), draw_pool) is None
    assert for_prompt(strategy, ROBOT, draw_pool, filtered=False) is None
    assert for_prompt(strategy, None, draw_pool, tileable=True, filtered=False) is None
    sprite = np.zeros((16, 16), dtype=np.int64)
    assert for_prompt(strategy, ROBOT, draw_pool, image=sprite, keep=sprite > 0) is None
    assert for_prompt(strategy, ROBOT, draw_pool, options={"temperature": 0.9}) is None
    strategy.chosen_sampling = {**strategy.chosen_sampling, "filter": None}
    assert for_prompt(strategy, ROBOT, draw_pool) is None
    strategy.chosen_sampling = {"filter": {"cap": 1}}  # a run trained before the reference
    assert for_prompt(strategy, ROBOT, draw_pool) is None
    assert pools == []


def test_a_pool_with_nothing_like_the_sprites_draws_unfiltered_and_is_not_drawn_again(tagged):
    strategy, _, pools = tagged

    def speckled_pool(count: int, seed: int) -> np.ndarray:
        pools.append(seed)
        return blocks(count, 12, specks=12)  # every one speckled; "robot" sprites never are

    assert for_prompt(strategy, ROBOT, speckled_pool) is None and len(pools) == 1
    request_filter._fitted.clear()
    assert for_prompt(strategy, ROBOT, speckled_pool) is None and len(pools) == 1
    assert [p.read_text() for p in cached()] == ['{"unfit": true}']


def test_a_cache_that_cannot_be_read_or_written_only_costs_a_new_fit(tagged, monkeypatch, tmp_path):
    strategy, draw_pool, pools = tagged
    for_prompt(strategy, ROBOT, draw_pool)
    [written] = cached()
    written.write_text("{not json")
    request_filter._fitted.clear()
    assert for_prompt(strategy, ROBOT, draw_pool) is not None and len(pools) == 2
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("PIXELGEN_CACHE_DIR", str(blocked))  # its folder cannot be made
    request_filter._fitted.clear()
    assert for_prompt(strategy, ROBOT, draw_pool) is not None and len(pools) == 3


def test_the_cache_keeps_the_most_recently_used_filters(tagged, monkeypatch):
    strategy, draw_pool, pools = tagged
    monkeypatch.setattr(request_filter, "KEEP", 2)
    for_prompt(strategy, ROBOT, draw_pool)
    [robot] = cached()
    for_prompt(strategy, TILE, draw_pool)
    [tile] = set(cached()) - {robot}
    os.utime(robot, (1e9, 1e9))  # long unused, the robots' the longest
    os.utime(tile, (1.5e9, 1.5e9))
    request_filter._fitted.clear()
    for_prompt(strategy, ROBOT, draw_pool)  # read from the cache: used now
    assert len(pools) == 2
    for_prompt(strategy, Prompt("robot", ("robot",), ("red",)), draw_pool)
    assert len(pools) == 3 and len(cached()) == 2
    assert robot in cached() and tile not in cached()  # the least recently used went


BARS = ("red", "blue", "tall", "wide")


def bars_folder(folder: Path, n: int = 64) -> None:
    """Bars of colour 1 ("red") or 2 ("blue"), standing ("tall") or lying ("wide")."""
    from pixelgen_core import write_png
    from pixelgen_core.testing import PALETTE

    table = (np.array(PALETTE) * 255).astype(np.uint8)
    for i in range(n):
        colour, tall = 1 + i % 2, (i // 2) % 2 == 0
        bar = np.zeros((16, 16), dtype=np.int64)
        (bar[2:14, 6:10] if tall else bar[6:10, 2:14])[...] = colour
        write_png(table[bar], folder / BARS[colour - 1] / f"{BARS[2 + (not tall)]}{i}.png")


@pytest.fixture
def tagged_run(tmp_path):
    """A small diffusion run trained (one epoch) on a folder of tagged bars."""
    import pixelgen_core as pg
    from pixelgen_core.testing import invoke

    bars_folder(tmp_path / "set")
    small = ["data.dataset=set", "training.epochs=1", "training.grid_size=4"]
    small += TINY
    small += ["tracking.enabled=false", "training.choose_sampler=0", "consistency.share=0"]
    small += ["model.detail=false", "sampling.sampler=dpm++", "sampling.steps=3"]
    result = invoke("train", "diffusion", "-q", *small)
    assert result.exit_code == 0, result.output
    [ckpt] = list(tmp_path.glob("runs/diffusion/*/checkpoint.pt"))
    return pg.open_run("diffusion", checkpoint=ckpt)


def test_the_choice_keeps_the_reference_where_a_tagged_run_keeps_a_filter(tagged_run, monkeypatch):
    """An untrained model draws nothing like bars, so the filters here are fitted against
    the model's own pool, and the filtered row ranked first: what is tested is that
    the choice keeps the training sprites' statistics and tags for the prompts."""
    from pixelgen_core.evaluation import choice
    from pixelgen_core.pixel_filter import PixelFilter

    run = tagged_run
    ranked = choice.rank
    monkeypatch.setattr(
        choice, "rank", lambda rows: sorted(ranked(rows), key=lambda r: "filter" not in r.name)
    )
    own = PixelFilter.fit_statistics
    monkeypatch.setattr(
        PixelFilter,
        "fit_statistics",
        classmethod(lambda cls, real, drawn, cap: own(drawn, drawn, cap)),
    )
    how = (run.strategy, run.palette, run.settings, True, {"dpm++ 3": {"steps": 3}}, 16)
    made = choice.choose_sampling(*how)
    assert made.filter is not None and made.to_dict().keys() == {
        "name", "options", "reason", "filter", "filter_reason", "scores"
    }  # fmt: skip
    kept = run.sampling_choice[request_filter.KEY]
    assert len(kept["statistics"]) == len(kept["tags"]) == 64
    named = {frozenset(run.info.tags[i] for i in carried) for carried in kept["tags"]}
    assert named == {frozenset((c, s)) for c in BARS[:2] for s in BARS[2:]}
    monkeypatch.setattr(  # the unfiltered row first: no filter kept, no reference
        choice, "rank", lambda rows: sorted(ranked(rows), key=lambda r: "filter" in r.name)
    )
    assert choice.choose_sampling(*how).filter is None
    assert request_filter.KEY not in run.sampling_choice


def test_a_prompt_is_drawn_through_its_own_filter_the_same_for_the_same_seed(
    tagged_run, monkeypatch
):
    """Through `Run.sample`: the prompt's pool is drawn once and its filter cached; the
    same seed gives the same sprites, steered towards the prompt's real sprites, unlike
    the unfiltered draw. The "real" sprites are the quarter of the model's own draws for
    the prompt with the fewest isolated pixels, so that an untrained model has some to
    keep and its filter something to steer (real sprites just like the pool leave a
    filter that keeps nearly every draw, and the test to chance: it failed so on
    another CPU)."""
    from pixelgen_core.evaluation.metrics import isolated_pixels
    from pixelgen_core.pixel_filter import PixelFilter

    run = tagged_run
    monkeypatch.setattr(request_filter, "POOL", 64)
    own = run.palette.snap(np.asarray(run.sample(128, seed=50, prompt="red", filtered=False)))
    isolated = isolated_pixels(own)
    clean = own[isolated <= np.quantile(isolated, 0.25)]
    tags = np.zeros((len(clean), len(run.info.tags)))
    tags[:, run.info.tags.index("red")] = 1
    run.strategy.chosen_sampling = {
        "name": "dpm++ 3",
        "options": {},
        "filter": PixelFilter.fit(own, own).to_dict(),
        request_filter.KEY: request_filter.reference(clean, tags),
    }
    red = run.sample(16, seed=2, prompt="red")
    assert len(cached()) == 1
    assert np.array_equal(red.rgba, run.sample(16, seed=2, prompt="red").rgba)
    plain = run.sample(16, seed=2, prompt="red", filtered=False).rgba
    assert not np.array_equal(red.rgba, plain)
    mean_isolated = lambda rgba: isolated_pixels(run.palette.snap(rgba)).mean()  # noqa: E731
    assert mean_isolated(red.rgba) < mean_isolated(plain)  # drawn like the real sprites
    assert len(cached()) == 1
    run.sample(2, prompt="blue")  # no real sprite has "blue" alone here: unfiltered
    assert len(cached()) == 1


def test_evaluate_prompts_draws_as_sample_does_and_no_filter_reaches_it(tagged_run, monkeypatch):
    """`evaluate --prompts` scores the default path (each prompt through its filter);
    `--no-filter` scores the prompts as the model draws them."""
    import pixelgen_core as pg
    from pixelgen_core.testing import invoke

    asked: list[bool] = []
    sample = pg.Run.sample

    def noted(self, *args, filtered=True, **kwargs):
        asked.append(filtered)
        return sample(self, *args, filtered=filtered, **kwargs)

    monkeypatch.setattr(pg.Run, "sample", noted)
    scored = ["evaluate", "diffusion", "--checkpoint", tagged_run.checkpoint, "--prompts"]
    scored += ["--per-prompt", 2, "--out", "e"]
    assert invoke(*scored).exit_code == 0
    assert asked and all(asked)
    asked.clear()
    assert invoke(*scored[:-2], "--no-filter", "--out", "f").exit_code == 0
    assert asked and not any(asked)


def test_a_prompt_through_its_own_filter_loses_the_specks_its_sprites_never_have(
    tagged_run, monkeypatch
):
    """A prompt with a filter of its own whose real sprites never have a floating speck:
    what the filter keeps has its specks erased too. (The filter here is fitted on the
    model's own draws, so it keeps specks as readily as anything else, as the words
    run's filters let some through.)"""
    import torch

    from pixelgen_core.evaluation.metrics import floating_pixels
    from pixelgen_core.pixel_filter import PixelFilter

    def dotted(draw) -> torch.Tensor:
        seed = int(torch.randint(0, 2**31, (1,), generator=draw.generator))
        made = blocks(draw.n, seed)
        made[:, 15, 15] = 2  # a dot beside every block
        return torch.from_numpy(made)

    run = tagged_run
    monkeypatch.setattr(run.strategy, "sample", dotted)
    own = run.palette.snap(np.asarray(run.sample(64, seed=50, filtered=False)))
    lenient = PixelFilter.fit(own, own)
    asked = []

    def its_own(strategy, prompt, *how):
        asked.append(prompt)
        return lenient

    monkeypatch.setattr(request_filter, "request_filter", its_own)
    bars = blocks(request_filter.MIN_REAL + 10, 5)
    tags = np.zeros((len(bars), len(run.info.tags)))
    tags[:, run.info.tags.index("red")] = 1
    run.strategy.chosen_sampling = {
        "name": "dpm++ 3",
        "options": {},
        "filter": lenient.to_dict(),
        request_filter.KEY: request_filter.reference(bars, tags),
    }
    cleaned = run.palette.snap(run.sample(16, seed=2, prompt="red").rgba)
    assert [p.tags for p in asked] == [("red",)]  # it went through the prompt's filter
    assert floating_pixels(cleaned).sum() == 0 and (cleaned[:, 15, 15] == 0).all()
    assert (cleaned > 0).sum(axis=(1, 2)).min() > 0  # the blocks stay
    bars[:, 15, 15] = 1  # real sprites with a dot of their own: theirs is kept
    run.strategy.chosen_sampling[request_filter.KEY] = request_filter.reference(bars, tags)
    assert (run.palette.snap(run.sample(16, seed=2, prompt="red").rgba)[:, 15, 15] == 2).all()


def test_a_prompt_with_no_filter_of_its_own_loses_the_specks_its_sprites_never_have(
    tagged_run, monkeypatch
):
    """Too few "red" sprites for a filter (fewer than MIN_REAL), none with a floating
    speck: the default draw erases the model's and leaves the rest of each sprite as
    drawn. `filtered=False`, an edit, or real sprites with a speck of their own keep
    every pixel. (The model draws blocks with a lone dot beside them in most sprites.)"""
    import torch

    from pixelgen_core.evaluation.metrics import floating_pixels
    from pixelgen_core.pixel_filter import PixelFilter

    def specky(draw) -> torch.Tensor:
        seed = int(torch.randint(0, 2**31, (1,), generator=draw.generator))
        made = blocks(draw.n, seed)
        dots = np.random.default_rng(seed).random(draw.n) < 0.7
        made[dots, 15, 15] = 2
        return torch.from_numpy(made)

    run = tagged_run
    monkeypatch.setattr(run.strategy, "sample", specky)
    bars = blocks(request_filter.MIN_REAL - 1, 5)
    tags = np.zeros((len(bars), len(run.info.tags)))
    tags[:, run.info.tags.index("red")] = 1
    own = run.palette.snap(np.asarray(run.sample(64, seed=50, filtered=False)))
    run.strategy.chosen_sampling = {
        "name": "dpm++ 3",
        "options": {},
        "filter": PixelFilter.fit(own, own).to_dict(),
        request_filter.KEY: request_filter.reference(bars, tags),
    }
    cleaned = run.palette.snap(run.sample(16, seed=2, prompt="red").rgba)
    drawn = run.palette.snap(run.sample(16, seed=2, prompt="red", filtered=False).rgba)
    assert floating_pixels(drawn).sum() > 5 and floating_pixels(cleaned).sum() == 0
    # the specks went clear, and nothing else changed
    assert np.array_equal(cleaned[cleaned > 0], drawn[cleaned > 0])
    assert (drawn != cleaned).sum() == floating_pixels(drawn).sum()
    sprite = drawn[np.argmax(floating_pixels(drawn))]
    edited = run.edit(run.palette.to_rgba(sprite), strength=0.0, prompt="red", seed=2)
    assert np.array_equal(run.palette.snap(edited.rgba)[0], sprite)  # an edit keeps specks
    bars[:, 15, 15] = 1  # every real sprite has a lone dot in its corner
    run.strategy.chosen_sampling[request_filter.KEY] = request_filter.reference(bars, tags)
    assert np.array_equal(run.palette.snap(run.sample(16, seed=2, prompt="red").rgba), drawn)
