"""`auto` sampling: the sampler a run draws with by default, chosen by measurement.

A strategy names the sample-option sets it could draw with (`Strategy.sampler_candidates`,
for example two consistency steps and 24 DPM-Solver++ steps). At the end of training,
core scores each one on the run's data exactly as `pixelgen evaluate` does, only with
fewer sprites, and keeps the one that passes the pixel-clean verdict with the best FD.
A fast sampler whose sprites are speckled is never chosen over a clean one.

Each candidate is scored twice: as it draws, and through a pixel filter
(`pixelgen_core.pixel_filter`) fitted on a pool of its own sprites. The best of all these
rows by the same rule gives the sampler, and the filter where its row is the filtered
one, so a few-step sampler that is clean only through its filter can win too.

The filter's cap is measured too (`cap_quantiles`): one first, the other only where the
first leaves the draws unclean on a statistic the filter weighs; which one first depends
on the sprites' size. Below 32x32 the filter leaves notches out, and weighs them too only
where the best filtered row still fails them (`filter_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixelgen_core.evaluation.report import Reference, Row

CHOICE_REPEATS = 3  # sampling seeds and data splits per candidate
FILTER_POOL = 8  # x the sprites per repeat: a candidate's draws its filter is fitted on
FILTERED = " + filter"  # a candidate's row through its filter is named so
# The filter's cap, as a quantile of its pool's ratios, in the order tried: a lower cap
# keeps more of the draws (about half instead of a quarter at 16x16, where it held
# pixel-clean with a better FD) but steers them less. On sprites of LARGE_SPRITE_PIXELS
# and more, where the model is further from the data, the lower cap let off-kind sprites
# through: on one 32x32 run it failed three statistics where the higher passed, with a
# better FD; on another the choice kept it and `evaluate` found it unclean. With the
# higher cap first, two ten-minute 32x32 runs were clean, and on one of them the lower
# cap was not (benchmarks/RESULTS.md, "The pixel filter's cap ...", "Your own sprites at
# 32x32 again ..." and "... a third time"). So large sprites try the higher cap first.
CAP_QUANTILES = (0.9, 0.99)
LARGE_SPRITE_PIXELS = 32 * 32
# Below LARGE_SPRITE_PIXELS a filter that weighs notches too is drawn through only where
# it keeps at least this share of the draws. On the full default (16x16, with its outline
# cleaner) it kept 31% and was pixel-clean; on the main job's weaker model it kept 15%
# and then 6% at the stricter cap, was clean at neither, and took the demo from under 7
# minutes to nearly 10 (benchmarks/RESULTS.md, "Notches weighed at 16x16 ...").
NOTCH_MIN_KEEPS = 0.2


def is_large(shape: tuple[int, ...]) -> bool:
    """Whether sprites of `shape` (..., height, width) are LARGE_SPRITE_PIXELS or more."""
    height, width = shape[-2:]
    return height * width >= LARGE_SPRITE_PIXELS


def cap_quantiles(shape: tuple[int, ...]) -> tuple[float, ...]:
    """The caps to try, in order, for sprites of `shape` (height, width)."""
    return tuple(sorted(CAP_QUANTILES, reverse=is_large(shape)))


def filter_columns(shape: tuple[int, ...]) -> int:
    """How many of `pixel_filter.statistics`' columns the filter weighs first for sprites
    of `shape`: notches (the last) from LARGE_SPRITE_PIXELS up. On a 32x32 run, weighing
    them made the draws pixel-clean where no other row was, torn tiles gone (at an FD cost
    two measurements put between none and more than twice the data's). Below that they
    are weighed only where the filter without them leaves the draws failing notches
    (`_through_filter`): on a 16x16 run without an outline cleaner the draws with the
    data's notches were the model's plainer shapes, and weighing them tripled FD, failing
    two other statistics; on the full default with its cleaner, it made the draws
    pixel-clean at an FD near the data's (benchmarks/RESULTS.md, "Notches: ragged
    outlines ..." and "The outline cleaner ...")."""
    from pixelgen_core.pixel_filter import COLUMNS, NOTCHES

    return COLUMNS if is_large(shape) else NOTCHES


@dataclass
class SamplingChoice:
    """The chosen candidate, why, and every candidate's row as measured."""

    name: str
    options: dict[str, Any]
    reason: str
    rows: list[Row]
    reference: Reference | None = None  # what the rows were scored against
    filter: dict | None = None  # the kept pixel filter's state (`PixelFilter.to_dict`)
    filter_reason: str = ""

    def to_dict(self) -> dict:
        """What the checkpoint and run.json keep: plain data."""
        return {
            "name": self.name,
            "options": dict(self.options),
            "reason": self.reason,
            "filter": self.filter,
            "filter_reason": self.filter_reason,
            "scores": {
                row.name: {
                    "fd": row.metrics["fd"],
                    "fd_sd": row.metrics["fd_sd"],
                    "pixel_clean": bool(row.verdict.clean),
                    "failed": row.verdict.failed,
                }
                for row in self.rows
            },
        }


# what a pixel artist sees in the sprites
SEEN = ("isolated", "floating", "colours", "components", "notches")


def rank(rows: list[Row]) -> list[Row]:
    """Best first: pixel-clean rows by FD; then the others by how many pixel statistics
    they fail (fewer first), then by how far over their limits the failing ones that
    show in the sprites are (summed in limits; the palette share, which snapping hides
    and whose limit is tiny, is left out of that sum), then by FD."""

    def key(row: Row) -> tuple:
        verdict = row.verdict
        over = sum(verdict.values[k] / verdict.limits[k] for k in verdict.failed if k in SEEN)
        return (len(verdict.failed), over, row.metrics["fd"])

    return sorted(rows, key=key)


def explain(best: Row, rows: list[Row]) -> str:
    """One line: the sampler chosen, its row, and what the others scored."""

    def said(row: Row) -> str:
        return f"{row.name}: FD {row.metrics['fd']:.2f}, {row.verdict.describe()}"

    others = "; ".join(said(r) for r in rows if r is not best)
    head = "the best FD of the pixel-clean" if best.verdict.clean else "none is pixel-clean;"
    if not best.verdict.clean:
        head += " the cleanest"
    sampler = best.name.removesuffix(FILTERED)  # the filter has its own line
    return f"{sampler} ({head}: {said(best)})" + (f"; {others}" if others else "")


def choose_sampling(
    strategy,
    palette,
    config: dict,
    conditional: bool,
    candidates: dict[str, dict[str, Any]],
    n: int,
    seed: int = 0,
) -> SamplingChoice:
    """Score each candidate (`n` sprites per repeat, CHOICE_REPEATS repeats, against one
    reference) as it draws and through its own pixel filter, and choose the best row
    (`rank`). Leaves the choice as the strategy's `chosen_sampling` (on an error, what
    it was before)."""
    from pixelgen_core import request_filter
    from pixelgen_core.data.prepare import prepare
    from pixelgen_core.evaluation.run import evaluate

    before = strategy.chosen_sampling
    data = prepare(config, conditional, palette, vocabulary=strategy.data.tags)
    reference = Reference(data, seed, CHOICE_REPEATS)
    how = (strategy, palette, config, conditional)
    rows, filters, notes = [], {}, {}
    try:
        for name, options in candidates.items():
            rows.append(
                evaluate(*how, n, seed, options=options, name=name, calibrate=False,
                         repeats=CHOICE_REPEATS, reference=reference, filtered=False).model
            )  # fmt: skip
            strategy.chosen_sampling = {"name": name, "options": dict(options), "filter": None}
            filtered, filters[name], notes[name] = _through_filter(*how, name, n, seed, reference)
            rows += [filtered] if filtered is not None else []
    except BaseException:
        strategy.chosen_sampling = before
        raise
    best = rank(rows)[0]
    name = best.name.removesuffix(FILTERED)
    kept = filters[name] if best.name.endswith(FILTERED) else None
    choice = SamplingChoice(name, candidates[name], explain(best, rows), rows, reference, kept)
    if filters[name] is None:
        choice.filter_reason = notes[name]
    else:
        verb = "kept" if kept else "not kept (no cleaner than without it)"
        choice.filter_reason = f"pixel filter {verb}: {notes[name]}"
    strategy.chosen_sampling = choice.to_dict()
    if kept is not None:
        # what the filters of prompts and tileable draws are fitted against: drawing
        # needs no dataset
        tags = data.tags.numpy() if data.tags is not None else None
        indices = data.indices.long().numpy()
        # as measured: without notches below 32x32, even where the run's filter weighs
        # them (a prompt's or tileable draws' filter weighing them is not measured)
        kept_sprites = request_filter.reference(indices, tags, filter_columns(indices.shape))
        strategy.chosen_sampling[request_filter.KEY] = kept_sprites
    return choice


def _through_filter(
    strategy, palette, config: dict, conditional: bool, name: str, n: int, seed: int,
    reference: Reference,
) -> tuple[Row | None, dict | None, str]:  # fmt: skip
    """The strategy's default draws (candidate `name`, unfiltered) through a pixel filter
    fitted on `FILTER_POOL` x `n` of them against the training sprites, scored like the
    candidates: (row, the filter's state, what it keeps and scores), or (None, None,
    why not) where no filter could be fitted or drawn through. Each cap of
    `cap_quantiles` in turn, until one's row is pixel-clean or fails only statistics
    the filter does not weigh (`steers`); then, where the best row still fails notches
    and the filter left them out (`filter_columns`), the same with notches weighed, as
    long as such a filter keeps NOTCH_MIN_KEEPS of the draws. The best row of all
    (`rank`) is kept."""
    from pixelgen_core.pixel_filter import COLUMNS, NoSpriteToKeep, PixelFilter, statistics
    from pixelgen_core.sampling import sample_raw

    pool, _ = sample_raw(strategy, palette, FILTER_POOL * n, seed + 7919, filtered=False)
    real, drawn = statistics(reference.training), statistics(pool)  # for every filter
    first = filter_columns(reference.training.shape)
    unfiltered = strategy.chosen_sampling

    def each_cap(weighed: int, least_keeps: float) -> tuple[list, str, float | None]:
        """Filters on the first `weighed` statistics, a cap at a time while the rows
        fail what they steer: ([(filter, weighed, row)], why the last was not scored,
        the share the first filter not drawn through for keeping too few would keep)."""
        rows: list[tuple[PixelFilter, int, Row]] = []
        for cap in cap_quantiles(reference.training.shape):
            try:
                fitted = PixelFilter.fit_statistics(real[:, :weighed], drawn, cap)
            except NoSpriteToKeep as exc:  # from the ratios, before any cap: so for all
                return rows, f"pixel filter not kept: {exc}", None
            if fitted.acceptance < least_keeps:
                return rows, "", fitted.acceptance  # a stricter cap keeps fewer still
            strategy.chosen_sampling = {**unfiltered, "filter": fitted.to_dict()}
            row, why_not = _score_filter(strategy, palette, config, conditional, name, n,
                                         seed, reference)  # fmt: skip
            strategy.chosen_sampling = unfiltered
            if row is None:
                return rows, why_not, None
            rows.append((fitted, weighed, row))
            if not steers(row.verdict.failed, weighed):
                break  # clean, or unclean only where no cap steers
        return rows, "", None

    tried, why_not, skipped = each_cap(first, 0.0)
    if tried and first < COLUMNS and "notches" in rank([r for *_, r in tried])[0].verdict.failed:
        more, _, skipped = each_cap(COLUMNS, NOTCH_MIN_KEEPS)  # notches, where still failed
        tried += more
    if not tried:
        return None, None, why_not
    best = rank([row for *_, row in tried])[0]
    fitted, weighed = next((f, w) for f, w, row in tried if row is best)
    said = f"FD {best.metrics['fd']:.2f}, {best.verdict.describe()}"
    notched = ", notches weighed" if weighed > first else ""
    note = f"keeps {fitted.acceptance:.0%} of draws{notched}; with it {said}"
    for other, columns, row in tried:
        if row is not best:
            how = " weighing notches" if columns > first else " without notches" * bool(notched)
            note += f" (a cap{how} keeping {other.acceptance:.0%} of draws was not pixel-clean)"
    failed = best.verdict.failed
    if skipped is not None:
        stricter = any(columns > first for _, columns, _ in tried)
        which = "a stricter cap weighing notches" if stricter else "weighing notches too"
        note += f" ({which} would keep {skipped:.0%} of draws: not drawn through)"
    elif failed and len(tried) == 1 and not steers(failed, weighed):
        note += f" (no other cap tried: the filter does not weigh {', '.join(failed)})"
    return best, fitted.to_dict(), note


def steers(failed: list[str], columns: int) -> bool:
    """Whether a filter weighing the first `columns` of `pixel_filter.statistics` steers
    any of the verdict's `failed` statistics: where it steers none (at 16x16, a row
    unclean on notches alone), a stricter cap cannot mend the row, only draw more."""
    from pixelgen_core.pixel_filter import VERDICT_COLUMNS

    return any(VERDICT_COLUMNS.get(name, columns) < columns for name in failed)


def _score_filter(
    strategy, palette, config: dict, conditional: bool, name: str, n: int, seed: int,
    reference: Reference,
) -> tuple[Row | None, str]:  # fmt: skip
    """Candidate `name`'s draws through the filter in `strategy.chosen_sampling`, scored
    like the candidates: (row, "") or (None, why not)."""
    from pixelgen_core.errors import PixelgenError, first_line
    from pixelgen_core.evaluation.run import evaluate

    try:
        row = evaluate(
            strategy, palette, config, conditional, n, seed, name=f"{name}{FILTERED}",
            calibrate=False, repeats=CHOICE_REPEATS, reference=reference,
        ).model  # fmt: skip
    except PixelgenError as exc:  # e.g. a filter that keeps too few of the draws
        return None, f"pixel filter not fitted: {first_line(exc)}"
    return row, ""
