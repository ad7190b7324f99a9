"""Keep the sprites whose pixel statistics real sprites have: rejection sampling.

A model can match real sprites on average and still spread its mistakes thinly: a stray
pixel or a second colour in most sprites, where real sprites are either clean or
deliberately detailed. At the end of training core bins the per-sprite statistics of
`pixelgen evaluate` (isolated and floating pixels, opaque colours, one-colour regions,
notches; and each sprite's main colour and size) of the training sprites and of a pool
of the run's own default samples, and weighs each cell so that the weighted pool has
the data's distribution of each statistic. A drawn sprite is then kept with probability
weight / cap: its density ratio p_data / p_model on these statistics, capped at a high
quantile so that a few rare cells do not make every draw expensive. The kept sprites'
statistics follow the data's; which sprites of a cell are kept is left to chance, so
nothing else about them is steered. The cost is drawing about 1 / `acceptance` sprites
for each one kept."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_CELL = 25  # pooled sprites a statistic's cell holds at least (the top cells merge)
CAP_QUANTILE = 0.99  # of the pool's ratios: the ratio above which a sprite is always kept
ROUNDS = 100  # of iterative proportional fitting; it settles in a few dozen
FLOATING = 5  # the column of `statistics` that counts floating pixels
NOTCHES = 6  # the column that counts notches
COLUMNS = 7  # of `statistics`: NOTCHES is the last
# the verdict's statistics (`evaluation.report.Verdict`) the filter can weigh, by column
VERDICT_COLUMNS = {"isolated": 0, "colours": 1, "components": 2, "floating": FLOATING,
                   "notches": NOTCHES}  # fmt: skip


def statistics(indices: np.ndarray) -> np.ndarray:
    """(N, 7) per sprite: the statistics of the pixel-clean verdict (isolated pixels,
    opaque colours, one-colour regions: `pixelgen_core.evaluation.metrics`), two that
    keep what is drawn as the data has it (its main colour, its opaque pixels), since a
    model's mistakes are not spread evenly: without them, the kinds of sprite it draws
    less cleanly (one colour more than another) would be dropped more often; and then
    the verdict's floating pixels and notches, each added after the others so that a
    filter or a reference kept with fewer columns (a run made before it) reads as it
    did."""
    from pixelgen_core.evaluation.metrics import (
        colour_components,
        floating_pixels,
        isolated_pixels,
        notches,
        opaque_colours,
    )

    flat = indices.reshape(len(indices), -1)
    # at least one colour column: a batch of empty sprites has a main colour too (1)
    counts = np.zeros((len(flat), max(int(flat.max(initial=0)), 1) + 1), dtype=np.int64)
    np.add.at(counts, (np.arange(len(flat))[:, None], flat), 1)
    main = counts[:, 1:].argmax(axis=1) + 1  # index 0 is clear
    return np.stack(
        [
            isolated_pixels(indices),
            opaque_colours(indices),
            colour_components(indices),
            main.astype(np.float64),
            (flat > 0).sum(axis=1) // 8.0,  # in steps of 8 pixels: cells, not single pixels
            floating_pixels(indices),
            notches(indices),
        ],
        axis=1,
    )


def cell_edges(values: np.ndarray, min_count: int | None = None) -> np.ndarray:
    """Lower edges of cells over one integer statistic: a cell per value, except that a
    value held by fewer than `min_count` (MIN_CELL) sprites joins the values above it."""
    min_count = MIN_CELL if min_count is None else min_count
    edges: list[float] = []
    held = 0
    for value, count in zip(*np.unique(values, return_counts=True), strict=True):
        if held == 0:
            edges.append(float(value))
        held = 0 if held + count >= min_count else held + count
    if held and len(edges) > 1:  # a thin top cell joins the one below it
        edges.pop()
    return np.asarray(edges)


class NoSpriteToKeep(ValueError):
    """The model's sprites are nothing like the data's: a filter would keep none."""


@dataclass(frozen=True)
class PixelFilter:
    """The ratio of a sprite is the product of one factor per statistic, at its cell."""

    edges: tuple[np.ndarray, ...]  # per statistic, the lower edges of its cells
    factors: tuple[np.ndarray, ...]  # per statistic, a factor per cell
    cap: float
    acceptance: float  # the share of the pool it keeps: about how many draws a kept sprite costs

    @classmethod
    def fit(
        cls, data: np.ndarray, pool: np.ndarray, cap_quantile: float = CAP_QUANTILE
    ) -> PixelFilter:
        """From palette indices of real sprites (`data`) and of the model's (`pool`).

        The factors come from iterative proportional fitting (raking): the pool's weights
        are scaled, one statistic at a time, until the weighted pool has each statistic's
        distribution as the data has it, correlations between the statistics included.
        One factor per cell of each statistic, rather than a ratio per joint cell, is what
        a thousand real sprites can estimate; and the verdict compares exactly these
        per-statistic distributions."""
        return cls.fit_statistics(statistics(data), statistics(pool), cap_quantile)

    @classmethod
    def fit_statistics(
        cls, real: np.ndarray, drawn: np.ndarray, cap_quantile: float = CAP_QUANTILE
    ) -> PixelFilter:
        """`fit` from the `statistics` of the real sprites and of the pool: a checkpoint
        keeps the real sprites' statistics, not the sprites. Where the real ones have
        fewer columns (kept by a run made before the last statistic was added), the
        filter weighs those columns alone."""
        drawn = drawn[:, : real.shape[1]]
        both = np.concatenate([real, drawn])
        edges = tuple(cell_edges(both[:, k]) for k in range(both.shape[1]))
        real_cells, pool_cells = _cells(edges, real), _cells(edges, drawn)
        factors = [np.ones(len(e)) for e in edges]
        for _ in range(ROUNDS):
            for k, e in enumerate(edges):
                weights = _product(factors, pool_cells)
                if not weights.sum() > 0:
                    raise NoSpriteToKeep("no sprite of the pool has statistics real sprites have")
                want = np.bincount(real_cells[:, k], minlength=len(e)) / len(real)
                got = np.bincount(pool_cells[:, k], weights, minlength=len(e)) / weights.sum()
                # a cell the pool never reaches keeps its factor: nothing there to scale
                factors[k] *= np.divide(want, got, out=np.ones(len(e)), where=got > 0)
        ratios = _product(factors, pool_cells)
        cap = float(np.quantile(ratios, cap_quantile))
        if not cap > 0:
            raise NoSpriteToKeep("no sprite of the pool has statistics real sprites have")
        acceptance = float(np.minimum(ratios / cap, 1).mean())
        return cls(edges, tuple(factors), cap, acceptance)

    def keep_probability(self, indices: np.ndarray) -> np.ndarray:
        """Per sprite, the chance it is kept. Never an empty sprite (no opaque pixel):
        no sprite of a dataset is empty (slicing drops empty tiles), yet a rare value's
        cell merges with its neighbour's, so an empty draw shares the odds of small
        one-colour sprites; in a sheet it is a blank frame."""
        cells = _cells(self.edges, statistics(indices))
        odds = np.minimum(_product(self.factors, cells) / self.cap, 1.0)
        return np.where((indices > 0).reshape(len(indices), -1).any(axis=1), odds, 0.0)

    def to_dict(self) -> dict:
        """Plain data, for the checkpoint (`torch.load(weights_only=True)` reads it)."""
        return {
            "edges": [e.tolist() for e in self.edges],
            "factors": [f.tolist() for f in self.factors],
            "cap": self.cap,
            "acceptance": self.acceptance,
        }

    @classmethod
    def from_dict(cls, state: dict) -> PixelFilter:
        edges = tuple(np.asarray(e, dtype=np.float64) for e in state["edges"])
        factors = tuple(np.asarray(f, dtype=np.float64) for f in state["factors"])
        return cls(edges, factors, float(state["cap"]), float(state["acceptance"]))


def _cells(edges: tuple[np.ndarray, ...], stats: np.ndarray) -> np.ndarray:
    """(N, statistics): each sprite's cell of each statistic."""
    return np.stack(
        [
            np.clip(np.searchsorted(e, stats[:, k], side="right") - 1, 0, len(e) - 1)
            for k, e in enumerate(edges)
        ],
        axis=1,
    )


def _product(factors, cells: np.ndarray) -> np.ndarray:
    """Per sprite, the product of its cells' factors."""
    made = np.ones(len(cells))
    for k, f in enumerate(factors):
        made = made * f[cells[:, k]]
    return made
