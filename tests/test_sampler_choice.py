"""`auto` sampling: the ranking that picks a run's default sampler, and the Trainer's choice."""

from types import SimpleNamespace

import numpy as np
import pytest

from pixelgen_core.evaluation import choice
from pixelgen_core.evaluation.choice import explain, rank
from pixelgen_core.evaluation.report import Row, Verdict
from pixelgen_core.pixel_filter import COLUMNS, NOTCHES

LIMITS = {"isolated": 0.5, "colours": 0.05, "components": 0.8, "notches": 1.2, "palette": 0.01}


def row(name: str, fd: float, **values: float) -> Row:
    made = Row(name, {"fd": fd, "fd_sd": 0.1})
    made.verdict = Verdict(LIMITS, {**dict.fromkeys(LIMITS, 0.0), **values})
    made.metrics["pixel_clean"] = float(made.verdict.clean)
    return made


def test_a_clean_sampler_wins_over_a_speckled_one_with_a_better_fd():
    fast = row("consistency 2", 2.8, isolated=1.2, colours=0.9)
    slow = row("dpm++ 24", 2.9)
    assert [r.name for r in rank([fast, slow])] == ["dpm++ 24", "consistency 2"]
    said = explain(slow, [fast, slow])
    assert said.startswith("dpm++ 24 (the best FD of the pixel-clean: dpm++ 24: FD 2.90")
    assert "consistency 2: FD 2.80, not pixel-clean: isolated W1 1.2 > 0.5" in said


def test_among_clean_samplers_the_best_fd_wins():
    rows = [row("a", 3.0), row("b", 2.5), row("c", 2.7, colours=0.5)]
    assert [r.name for r in rank(rows)] == ["b", "a", "c"]


def test_when_none_is_clean_the_cleanest_wins_then_fd():
    one_fail = row("one", 9.0, colours=0.1)  # one statistic over, by 2 limits
    two_fail = row("two", 2.0, colours=0.06, isolated=0.6)
    further = row("three", 1.0, colours=0.5)  # one over, by 10 limits
    palette_only = row("four", 3.0, palette=0.5)  # not seen in the sprites: 0 limits
    ranked = rank([two_fail, further, one_fail, palette_only])
    assert [r.name for r in ranked] == ["four", "one", "three", "two"]
    assert explain(ranked[0], ranked).startswith("four (none is pixel-clean; the cleanest: ")
    # the demo's case: both fail all four; the visibly cleaner one wins over a better FD
    speckled = row("dpm++ 24", 5.71, isolated=2.98, colours=0.58, components=3.71, palette=0.2)
    cleaner = row("consistency 2", 7.03, isolated=1.11, colours=0.25, components=1.24, palette=0.2)
    assert rank([speckled, cleaner])[0].name == "consistency 2"


@pytest.mark.parametrize("clean_fd", [1.0, 5.0, 50.0])
def test_never_a_failing_sampler_while_another_passes(clean_fd):
    rows = [row("speckled", 0.5, isolated=0.51), row("clean", clean_fd)]
    assert rank(rows)[0].name == "clean"


def stand_in_filter(
    monkeypatch,
    shape: tuple[int, int],
    acceptance: dict,
    isolated: dict,
    failing="isolated",
    notched: dict | None = None,
):
    """`choice._through_filter` on sprites of `shape` with stand-ins for the pool, the fit
    and the scoring: each cap's filter keeps `acceptance[cap]` (`acceptance[cap, columns]`
    where given, for a filter weighing `columns` statistics) and its row's statistic
    `failing` is `isolated[cap]`, or `notched[cap]` (default: the same) for a filter that
    weighs notches where the first one left them out (its FD one worse). Returns (the
    (cap, columns weighed) scored, in order; a call of `_through_filter` for a strategy)."""
    from pixelgen_core import sampling
    from pixelgen_core.pixel_filter import PixelFilter

    scored: list[tuple[float, int]] = []
    pool = np.zeros((8, *shape), dtype=np.int64)
    monkeypatch.setattr(sampling, "sample_raw", lambda *a, **k: (pool, None))

    def fit(cls, real, drawn, cap):
        # a stand-in whose cap is its quantile (a real one's is a ratio), to tell them
        # apart, with one cell edge per statistic it weighs
        keeps = acceptance.get((cap, real.shape[1]), acceptance[cap])
        return cls(tuple(np.zeros(1) for _ in range(real.shape[1])), (), cap, keeps)

    monkeypatch.setattr(PixelFilter, "fit_statistics", classmethod(fit))
    first = choice.filter_columns(shape)

    def score(strategy, *how):
        state = strategy.chosen_sampling["filter"]  # drawn through, while scored
        cap, columns = state["cap"], len(state["edges"])
        scored.append((cap, columns))
        value = (notched or isolated)[cap] if columns > first else isolated[cap]
        return row("dpm++ 3 + filter", 2.0 + columns - first, **{failing: value}), ""

    monkeypatch.setattr(choice, "_score_filter", score)
    reference = SimpleNamespace(training=np.zeros((8, *shape), dtype=np.int64))

    def through_filter(strategy):
        return choice._through_filter(strategy, None, {}, False, "dpm++ 3", 4, 0, reference)

    return scored, through_filter


@pytest.mark.parametrize(
    "isolated, kept_cap, note",
    [
        ({0.9: 0.0, 0.99: 0.0}, 0.9, ""),  # the cheaper cap holds clean: the only one tried
        ({0.9: 0.7, 0.99: 0.0}, 0.99, "a cap keeping 50% of draws was not pixel-clean"),
        ({0.9: 0.6, 0.99: 0.9}, 0.9, "a cap keeping 20% of draws was not pixel-clean"),
    ],
)
def test_the_filter_keeps_the_cheaper_cap_unless_only_the_stricter_is_clean(
    monkeypatch, isolated, kept_cap, note
):
    """`CAP_QUANTILES` in turn: the stricter cap is drawn through only where the cheaper
    one's row fails the verdict, and where both fail the cleaner row is kept."""
    acceptance = {0.9: 0.5, 0.99: 0.2}
    scored, through_filter = stand_in_filter(monkeypatch, (4, 4), acceptance, isolated)
    strategy = SimpleNamespace(chosen_sampling={"name": "dpm++ 3", "filter": None})
    made, state, said = through_filter(strategy)
    caps = [0.9] if kept_cap == 0.9 and not note else [0.9, 0.99]
    assert scored == [(cap, NOTCHES) for cap in caps]  # no row failed notches: not weighed
    assert state["cap"] == kept_cap and made.verdict.clean == (isolated[kept_cap] == 0)
    assert said.startswith(f"keeps {acceptance[kept_cap]:.0%} of draws; with it FD 2.00")
    assert said.endswith(f"({note})" if note else "pixel-clean")
    assert strategy.chosen_sampling == {"name": "dpm++ 3", "filter": None}


@pytest.mark.parametrize(
    "shape, failing, tried",
    [
        # left out at 16x16, where no cap steers it; weighed then, by both caps in turn
        ((16, 16), "notches", [(0.9, NOTCHES), (0.9, COLUMNS), (0.99, COLUMNS)]),
        ((16, 16), "palette", [(0.9, NOTCHES)]),  # never weighed: raw output, before snapping
        ((16, 16), "isolated", [(0.9, NOTCHES), (0.99, NOTCHES)]),
        ((32, 32), "notches", [(0.99, COLUMNS), (0.9, COLUMNS)]),  # weighed from 32x32 up
    ],
)
def test_another_cap_only_where_the_filter_weighs_a_failed_statistic(
    monkeypatch, shape, failing, tried
):
    """A stricter cap steers only the statistics the filter weighs; a row unclean on
    others alone (the palette share) would cost draws for nothing."""
    over = {0.9: 5.0, 0.99: 5.0}
    scored, through_filter = stand_in_filter(monkeypatch, shape, {0.9: 0.5, 0.99: 0.2}, over,
                                             failing)  # fmt: skip
    _, _, said = through_filter(SimpleNamespace(chosen_sampling={"name": "d", "filter": None}))
    assert scored == tried
    assert ("no other cap tried: the filter does not weigh" in said) == (len(tried) == 1)
    assert said.endswith(f"does not weigh {failing})") == (len(tried) == 1)


@pytest.mark.parametrize(
    "shape, order",
    [
        ((16, 16), (0.9, 0.99)),
        ((31, 32), (0.9, 0.99)),
        ((32, 32), (0.99, 0.9)),
        ((16, 64), (0.99, 0.9)),
    ],
)
def test_large_sprites_try_the_stricter_cap_first(monkeypatch, shape, order):
    """At 32x32 the cheaper cap let off-kind sprites through: the stricter one is tried
    first there, and where it is clean the cheaper one is not drawn through at all."""
    assert choice.cap_quantiles(shape) == order
    clean = {0.9: 0.0, 0.99: 0.0}
    scored, through_filter = stand_in_filter(monkeypatch, shape, {0.9: 0.5, 0.99: 0.5}, clean)
    through_filter(SimpleNamespace(chosen_sampling={"name": "dpm++ 3", "filter": None}))
    assert scored == [(order[0], choice.filter_columns(shape))]


@pytest.mark.parametrize("shape, weighed", [((16, 16), NOTCHES), ((32, 32), COLUMNS)])
def test_the_filter_weighs_notches_first_from_32x32_up(monkeypatch, shape, weighed):
    """Below 32x32 a filter that holds the draws clean leaves notches out (at 16x16,
    without an outline cleaner, weighing them tripled FD); so does the reference its
    prompts' filters are fitted against."""
    from pixelgen_core import request_filter

    clean = {0.9: 0.0, 0.99: 0.0}
    scored, through_filter = stand_in_filter(monkeypatch, shape, {0.9: 0.5, 0.99: 0.5}, clean)
    _, state, _ = through_filter(SimpleNamespace(chosen_sampling={"name": "d", "filter": None}))
    assert choice.filter_columns(shape) == weighed and [c for _, c in scored] == [weighed]
    sprites = np.zeros((3, *shape), dtype=np.int64)
    assert len(state["edges"]) == weighed
    kept = request_filter.reference(sprites, None, choice.filter_columns(shape))
    assert np.asarray(kept["statistics"]).shape == (3, weighed)


@pytest.mark.parametrize(
    "notched, kept_columns, note",
    [
        # the full default with its cleaner: weighing notches made it pixel-clean
        ({0.9: 0.0, 0.99: 0.0}, COLUMNS, "keeps 50% of draws, notches weighed; with it FD 3.00"),
        # and the row it beat is said to be the one without them
        ({0.9: 0.0, 0.99: 0.0}, COLUMNS, "(a cap without notches keeping 50% of draws was not"),
        # no better for notches: the filter without them is kept, at the better FD
        ({0.9: 5.0, 0.99: 5.0}, NOTCHES, "a cap weighing notches keeping 20% of draws"),
    ],
)
def test_notches_are_weighed_at_16x16_where_the_filter_left_them_failing(
    monkeypatch, notched, kept_columns, note
):
    """A 16x16 row that fails notches alone gets a filter that weighs them too; it is
    kept only where it ranks better (`rank`)."""
    over = {0.9: 5.0, 0.99: 5.0}
    scored, through_filter = stand_in_filter(monkeypatch, (16, 16), {0.9: 0.5, 0.99: 0.2}, over,
                                             "notches", notched)  # fmt: skip
    made, state, said = through_filter(SimpleNamespace(chosen_sampling={"name": "d"}))
    assert len(state["edges"]) == kept_columns and made.verdict.clean == (kept_columns == COLUMNS)
    assert note in said
    assert scored[:2] == [(0.9, NOTCHES), (0.9, COLUMNS)]


@pytest.mark.parametrize(
    "keeps, tried, note",
    [
        ({(0.9, COLUMNS): 0.15}, [], "weighing notches too would keep 15% of draws"),
        ({(0.99, COLUMNS): 0.1}, [0.9], "a stricter cap weighing notches would keep 10% of draws"),
    ],
)
def test_a_filter_weighing_notches_that_keeps_few_draws_is_not_drawn_through(
    monkeypatch, keeps, tried, note
):
    """On the main job's model, filters weighing notches kept 15% and 6% of the draws and
    were clean at neither: below NOTCH_MIN_KEEPS they are fitted, not drawn through."""
    over = {0.9: 5.0, 0.99: 5.0}
    acceptance = {0.9: 0.5, 0.99: 0.3, **keeps}
    scored, through_filter = stand_in_filter(monkeypatch, (16, 16), acceptance, over, "notches")
    made, state, said = through_filter(SimpleNamespace(chosen_sampling={"name": "d"}))
    assert scored == [(0.9, NOTCHES)] + [(cap, COLUMNS) for cap in tried]
    assert len(state["edges"]) == NOTCHES and not made.verdict.clean
    assert said.endswith(f"({note}: not drawn through)")


def test_no_filter_weighing_notches_where_none_could_be_drawn_through(monkeypatch):
    """A filter that cannot be drawn through (it keeps too few draws to score) leaves
    the candidate unfiltered; no filter weighing more statistics is tried after it."""
    scored, through_filter = stand_in_filter(monkeypatch, (16, 16), {0.9: 0.5, 0.99: 0.2},
                                             {0.9: 5.0, 0.99: 5.0}, "notches")  # fmt: skip

    def cannot(strategy, *how):
        state = strategy.chosen_sampling["filter"]
        scored.append((state["cap"], len(state["edges"])))
        return None, "pixel filter not fitted: too few"

    monkeypatch.setattr(choice, "_score_filter", cannot)
    made, state, said = through_filter(SimpleNamespace(chosen_sampling={"name": "d"}))
    assert (made, state, said) == (None, None, "pixel filter not fitted: too few")
    assert scored == [(0.9, NOTCHES)]
