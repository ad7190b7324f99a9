"""Evaluate a trained strategy: sample, score, and put it next to the calibration rows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelgen_core.data.prepare import prepare
from pixelgen_core.evaluation import REPEATS
from pixelgen_core.evaluation.report import Reference, Row, judge, markdown_table
from pixelgen_core.images import check_output_size
from pixelgen_core.palette import Palette
from pixelgen_core.request import DrawRequest
from pixelgen_core.sampling import pixel_filter_for, sample_raw
from pixelgen_core.strategy import Strategy


@dataclass
class Evaluation:
    model: Row
    calibration: list[Row]
    samples: np.ndarray  # RGBA uint8 (repeats x n, H, W, 4), what was scored
    reference: Reference
    tileable: bool = False  # the model row's sprites were drawn tileable

    @property
    def rows(self) -> list[Row]:
        return [self.model, *self.calibration]

    @property
    def count(self) -> int:
        """Sprites scored per row and repeat (-n, capped at the held-out half)."""
        return len(self.samples) // self.reference.repeats

    def save(self, folder: Path | str) -> list[Path]:
        """``evaluation.md`` (the table) and ``samples.png`` (up to 64 of the samples)."""
        from pixelgen_core.files import write_text
        from pixelgen_core.images import grid, write_png

        folder = Path(folder)
        table = markdown_table(self.rows, sorted(self.model.extra)) + "\n"
        report = write_text(folder / "evaluation.md", table)
        picture = grid(self.samples[:64], background=(29, 29, 43, 255))
        return [report, write_png(picture, folder / "samples.png", scale=3)]


def evaluate(
    strategy: Strategy,
    palette: Palette,
    config: dict,
    conditional: bool,
    n: int = 1000,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    name: str = "model",
    calibrate: bool = True,
    repeats: int = REPEATS,
    reference: Reference | None = None,
    filtered: bool = True,
    tileable: bool = False,
) -> Evaluation:
    """Score a strategy against the dataset of its run's `config`: `repeats` sampling
    seeds (seed, seed+1, ...) of `n` sprites each, capped at half the dataset so the
    real-data row compares the same count, with calibration rows measured the same way
    (skipped with `calibrate=False`, when a caller already has them). A caller scoring
    several samplers of one run passes the `reference` (made with the same seed and
    repeats), so the data is embedded and its row measured once. `filtered`: draw through
    the run's pixel filter where it applies (`sampling.pixel_filter_for`). `tileable`:
    score tileable sprites (strategies with that capability)."""
    if reference is None:
        data = prepare(config, conditional, palette, vocabulary=strategy.data.tags)
        reference = Reference(data, seed, repeats)
    data = reference.data
    # what is drawn: -n capped at the held-out half, once per repeat
    count = reference.count(n)
    asked = f"-n {count} (at most half the data) x --repeats {repeats}"
    check_output_size(count * repeats, *data.info.shape, asked=asked)
    seconds = 0.0

    def drawn(count: int, draw_seed: int, through_filter: bool) -> tuple:
        how = {"options": options, "filtered": through_filter, "tileable": tileable}
        return sample_raw(strategy, palette, count, draw_seed, **how)

    def draw(r: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        nonlocal seconds
        start = time.perf_counter()
        made = drawn(count, seed + r, filtered)
        seconds += time.perf_counter() - start
        return made

    scores, indices, _ = reference.score(draw, n)
    model = Row(name, scores)
    model.extra["sample_ms_per_sprite"] = 1000 * seconds / len(indices)

    def draw_pool(count: int, pool_seed: int) -> np.ndarray:  # a tileable filter is kept by now
        return drawn(count, pool_seed, False)[0]

    asked = DrawRequest(1, options=options or {}, tileable=tileable, filtered=filtered)
    keep = pixel_filter_for(strategy, asked, draw_pool)
    if keep is not None:
        model.extra["filter_keeps"] = keep.acceptance
    rows = torch.arange(min(len(data), 256))
    batch = data.unaugmented(rows, strategy.device)
    with torch.inference_mode():
        for key, value in strategy.metrics(batch).items():
            model.extra[f"strategy/{key}"] = float(value)
    data_row = reference.data_row(n)  # the verdict's yardstick, calibrated or not
    calibration = reference.calibration_rows(n, data_row) if calibrate else []
    judge([model, *calibration], data_row, reference.limits(n))
    return Evaluation(model, calibration, palette.to_rgba(indices), reference, tileable)
