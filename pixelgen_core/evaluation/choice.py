"""`auto` sampling: the sampler a run draws with by default, chosen by measurement.

A strategy names the sample-option sets it could draw with (`Strategy.sampler_candidates`,
for example two consistency steps and 24 DPM-Solver++ steps). At the end of training,
core scores each one on the run's data exactly as `pixelgen evaluate` does, only with
fewer sprites, and keeps the one that passes the pixel-clean verdict with the best FD.
A fast sampler whose sprites are speckled is never chosen over a clean one.

Then core fits the chosen sampler's pixel filter (`pixelgen_core.pixel_filter`) on a pool
of its sprites, scores the filtered draws the same way, and keeps the filter only where
they rank above the unfiltered ones by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixelgen_core.evaluation.report import Reference, Row

CHOICE_REPEATS = 3  # sampling seeds and data splits per candidate
FILTER_POOL = 8  # x the sprites per repeat: the chosen sampler's draws a filter is fitted on


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


SEEN = ("isolated", "colours", "components")  # what a pixel artist sees in the sprites


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
    """One line: what was chosen, and what the others scored."""

    def said(row: Row) -> str:
        return f"{row.name}: FD {row.metrics['fd']:.2f}, {row.verdict.describe()}"

    others = "; ".join(said(r) for r in rows if r is not best)
    head = "the best FD of the pixel-clean" if best.verdict.clean else "none is pixel-clean;"
    if not best.verdict.clean:
        head += " the cleanest"
    return f"{best.name} ({head}: {said(best)})" + (f"; {others}" if others else "")


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
    reference) and choose."""
    from pixelgen_core.data.prepare import prepare
    from pixelgen_core.evaluation.run import evaluate

    data = prepare(config, conditional, palette, vocabulary=strategy.data.tags)
    reference = Reference(data, seed, CHOICE_REPEATS)
    rows = []
    for name, options in candidates.items():
        evaluation = evaluate(
            strategy,
            palette,
            config,
            conditional,
            n,
            seed,
            options=options,
            name=name,
            calibrate=False,
            repeats=CHOICE_REPEATS,
            reference=reference,
        )
        rows.append(evaluation.model)
    best = rank(rows)[0]
    return SamplingChoice(best.name, candidates[best.name], explain(best, rows), rows, reference)


def choose_filter(
    strategy, palette, config: dict, conditional: bool, choice: SamplingChoice, n: int, seed: int
) -> None:
    """Fit the chosen sampler's pixel filter on `FILTER_POOL` x `n` of its sprites against
    the training sprites, score the filtered draws like the candidates, and keep the filter in
    `choice` only if they rank above the unfiltered row (`rank`). The strategy must have
    `choice` as its `chosen_sampling`, so that its default draws are the chosen ones."""
    from pixelgen_core.evaluation.run import evaluate
    from pixelgen_core.pixel_filter import NoSpriteToKeep, PixelFilter
    from pixelgen_core.sampling import sample_raw

    reference = choice.reference
    pool, _ = sample_raw(strategy, palette, FILTER_POOL * n, seed + 7919, filtered=False)
    try:
        fitted = PixelFilter.fit(reference.training, pool)
    except NoSpriteToKeep as exc:
        choice.filter_reason = f"pixel filter not kept: {exc}"
        return
    strategy.chosen_sampling = {**choice.to_dict(), "filter": fitted.to_dict()}
    name = f"{choice.name} + filter"
    filtered = evaluate(
        strategy,
        palette,
        config,
        conditional,
        n,
        seed,
        name=name,
        calibrate=False,
        repeats=CHOICE_REPEATS,
        reference=reference,
    ).model
    plain = next(row for row in choice.rows if row.name == choice.name)
    choice.rows.append(filtered)
    kept = rank([plain, filtered])[0] is filtered
    choice.filter = fitted.to_dict() if kept else None
    share = f"keeps {fitted.acceptance:.0%} of draws"
    said = f"FD {filtered.metrics['fd']:.2f}, {filtered.verdict.describe()}"
    verb = "kept" if kept else "not kept (no cleaner than without it)"
    choice.filter_reason = f"pixel filter {verb}: {share}; with it {said}"
    strategy.chosen_sampling = choice.to_dict()
