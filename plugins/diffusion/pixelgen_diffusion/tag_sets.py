"""The tag sets of the training data and how often each occurs, so that a draw without a
prompt asks for sprites as the data describes them.

A run with classes draws its classes by their data frequencies when none is asked for;
this is the same for tags. Drawing with no tags at all instead samples the unconditional
model, which is trained on a tenth of the steps and never guided: on `kenney-arcade`
after ten minutes of training it drew shapeless textures at FD 34.5, where the data's
tag sets drew characters, coins and tiles at FD 6.7 (benchmarks/RESULTS.md, 2026-12-04).
"""

from __future__ import annotations

import torch


class TagSetCounts:
    """Counts of each distinct tag set among the sprites training has seen, kept in the
    checkpoint. Counting the batches (rather than the dataset once) also works on resume
    and under torchrun, where each rank sees its own share."""

    def __init__(self, num_tags: int) -> None:
        self.num_tags = num_tags
        self.counts: dict[tuple[int, ...], float] = {}

    def add(self, tags: torch.Tensor) -> None:
        """Count a batch's tag sets, `tags` 0/1 of shape (N, num_tags)."""
        rows, counts = torch.unique(tags.detach().bool().cpu(), dim=0, return_counts=True)
        for row, count in zip(rows, counts.tolist(), strict=True):
            key = tuple(row.nonzero().flatten().tolist())
            self.counts[key] = self.counts.get(key, 0.0) + count

    def draw(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        """`n` tag sets drawn by their counts, 0/1 of shape (n, num_tags); none counted
        (a run from before the counts): no tags, the unconditional model."""
        if not self.counts:
            return torch.zeros(n, self.num_tags, device=device)
        state = self.state()
        weights = state["counts"].to(device)
        rows = torch.multinomial(weights, n, replacement=True, generator=generator)
        return state["sets"].to(device, torch.float32)[rows]

    def state(self) -> dict[str, torch.Tensor]:
        """The sets as 0/1 rows in a fixed order (so a seed draws the same sets), and
        their counts."""
        sets = sorted(self.counts)
        table = torch.zeros(len(sets), self.num_tags, dtype=torch.uint8)
        for i, tag_set in enumerate(sets):
            table[i, list(tag_set)] = 1
        counts = torch.tensor([self.counts[s] for s in sets], dtype=torch.float64)
        return {"sets": table, "counts": counts}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        table, counts = state["sets"], state["counts"]
        self.counts = {
            tuple(row.nonzero().flatten().tolist()): float(c)
            for row, c in zip(table, counts.tolist(), strict=True)
        }
