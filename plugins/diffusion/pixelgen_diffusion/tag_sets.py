"""The tag sets of the training data and how often each occurs, so that a draw without a
prompt asks for sprites as the data describes them.

A run with classes draws its classes by their data frequencies when none is asked for;
this is the same for tags. Drawing with no tags at all instead samples the unconditional
model, which is trained on a tenth of the steps and never guided: on `kenney-arcade`
after ten minutes of training it drew shapeless textures at FD 34.5, where the data's
tag sets drew characters, coins and tiles at FD 6.7 (benchmarks/RESULTS.md, 2026-12-04).
With detail levels (`pixelgen_diffusion.detail`) each set also counts its sprites' levels,
so a draw asks for each set's levels as often as the data has them.
"""

from __future__ import annotations

import torch


class TagSetCounts:
    """Counts of each distinct tag set among the sprites training has seen, and of their
    detail levels (`levels` of them; 1: none kept), kept in the checkpoint. Counting the
    batches (rather than the dataset once) also works on resume and under torchrun, where
    each rank sees its own share."""

    def __init__(self, num_tags: int, levels: int = 1) -> None:
        self.num_tags = num_tags
        self.levels = levels
        # each set's count of sprites at each level (all at level 0 without levels)
        self.level_counts: dict[tuple[int, ...], list[float]] = {}

    @property
    def counts(self) -> dict[tuple[int, ...], float]:
        """Each set's count of sprites, whatever their levels."""
        return {key: sum(per_level) for key, per_level in self.level_counts.items()}

    def add(self, tags: torch.Tensor, levels: torch.Tensor | None = None) -> None:
        """Count a batch's tag sets, `tags` 0/1 of shape (N, num_tags), with each
        sprite's detail level `levels` (N,) where the run has them."""
        rows = tags.detach().bool().cpu()
        if levels is None:
            levels = torch.zeros(len(rows), dtype=torch.long)
        pairs = torch.cat([rows.long(), levels.detach().cpu().long()[:, None]], dim=1)
        unique, counts = torch.unique(pairs, dim=0, return_counts=True)
        for row, count in zip(unique, counts.tolist(), strict=True):
            key = tuple(row[:-1].nonzero().flatten().tolist())
            per_level = self.level_counts.setdefault(key, [0.0] * self.levels)
            per_level[min(int(row[-1]), self.levels - 1)] += count

    def draw(
        self, n: int, generator: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` tag sets drawn by their counts, 0/1 of shape (n, num_tags), and for each
        a detail level drawn by that set's counts of them, (n,) long; none counted (a run
        from before the counts): no tags, the unconditional model, at level 0."""
        if not self.level_counts:
            return torch.zeros(n, self.num_tags, device=device), self._none(n, device)
        state = self.state()
        weights = state["counts"].to(device)
        rows = torch.multinomial(weights, n, replacement=True, generator=generator)
        sets = state["sets"].to(device, torch.float32)[rows]
        if self.levels == 1:
            return sets, self._none(n, device)
        per_level = state["levels"].to(device)[rows].clamp_min(1e-9)
        return sets, torch.multinomial(per_level, 1, generator=generator).flatten()

    def draw_levels(
        self, tags: torch.Tensor, n: int, generator: torch.Generator, device: torch.device
    ) -> torch.Tensor:
        """`n` detail levels for a prompt's `tags` (num_tags,) 0/1: by their counts among
        the sprites whose tag sets hold every tag asked for (all sprites where none do)."""
        if self.levels == 1 or not self.level_counts:
            return self._none(n, device)
        state = self.state()
        asked = tags.detach().cpu().bool()
        holding = (state["sets"].bool() | ~asked).all(dim=1)
        if not holding.any():
            holding = torch.ones_like(holding)
        weights = state["levels"][holding].sum(dim=0).clamp_min(1e-9).to(device)
        return torch.multinomial(weights, n, replacement=True, generator=generator)

    @staticmethod
    def _none(n: int, device: torch.device) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.long, device=device)

    def state(self) -> dict[str, torch.Tensor]:
        """The sets as 0/1 rows in a fixed order (so a seed draws the same sets), their
        counts, and each set's counts of each detail level."""
        sets = sorted(self.level_counts)
        table = torch.zeros(len(sets), self.num_tags, dtype=torch.uint8)
        for i, tag_set in enumerate(sets):
            table[i, list(tag_set)] = 1
        levels = [self.level_counts[s] for s in sets]
        per_level = torch.tensor(levels, dtype=torch.float64).reshape(len(sets), self.levels)
        return {"sets": table, "counts": per_level.sum(dim=1), "levels": per_level}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        """A checkpoint's counts; one from before levels were counted (or with another
        number of them) counts every sprite at level 0."""
        table, counts = state["sets"], state["counts"]
        keys = [tuple(row.nonzero().flatten().tolist()) for row in table]
        levels = state.get("levels")
        if levels is None or levels.shape[1:] != (self.levels,):
            levels = torch.zeros(len(keys), self.levels, dtype=torch.float64)
            levels[:, 0] = counts
        self.level_counts = {k: row for k, row in zip(keys, levels.tolist(), strict=True)}
