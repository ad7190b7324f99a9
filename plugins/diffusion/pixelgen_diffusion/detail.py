"""Detail levels: a second condition beside the class, how much one-pixel detail a sprite
has, read from its isolated pixels (opaque pixels with no 4-neighbour of their colour).

Why: real sprites are bimodal in this. Most have no isolated pixel at all, and a few have
many (one-pixel diagonal lines, dithering). An unconditioned model averages the two and
adds a speck or two to most sprites, which a pixel artist sees first and which no sampler
or cleanup removed (benchmarks/RESULTS.md, 2026-12-04). Told each training sprite's level,
the model draws solid sprites and detailed ones apart, and sampling draws the levels by
their frequency in the data, beside the class or tags, so the mix of the two is the data's.

The sampler then holds each sprite to its level (`DiffusionStrategy._held`): a sprite asked
for no isolated pixel that came with a speck or a few (level 1) has them mended
(`pixelgen_core.mend_specks`; `sampling.mend`), and any other that misses is drawn again."""

from __future__ import annotations

from typing import Any

import torch

from pixelgen_core import DataInfo

EDGES = (1, 5)  # isolated pixels: none; 1 to 4; 5 or more
LEVELS = len(EDGES) + 1
# Times a sprite that still misses its level is drawn again before it is kept as it is.
# With mending (`sampling.mend`), of the default run's two-step sprites one in seven
# missed in the first draw, one in 25 after one round and one in 57 after two (RESULTS,
# 2026-12-06); each round is a model call of its own, which on a CPU costs about as much
# for a few sprites as for sixteen. Without it, the solid sprites' redraws need more.
REDRAWS_MENDED = 2
REDRAWS = 8
PATIENCE = 2  # rounds in a row that bring no sprite in before the redraws stop


def uses_detail(model: Any, data: DataInfo) -> bool:
    """`model.detail`, for runs conditioned on classes or on tags (a run with neither
    keeps its condition, the null class, as it is)."""
    return bool(model.detail) and (data.num_classes > 0 or len(data.tags) > 0)


def detail_levels(indices: torch.Tensor) -> torch.Tensor:
    """(N,) long in [0, LEVELS): each sprite's detail level, from its isolated pixels
    counted as `pixelgen evaluate` counts them (`pixelgen_core.evaluation.isolated_pixels`:
    opaque pixels with no 4-neighbour of their own colour)."""
    from pixelgen_core.evaluation import isolated_pixels

    counts = isolated_pixels(indices.cpu().numpy()).astype("int64")
    return torch.bucketize(torch.from_numpy(counts), torch.tensor(EDGES), right=True).to(
        indices.device
    )
