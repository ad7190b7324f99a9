"""Evaluate a trained strategy: sample, score, and put it next to the calibration rows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pixelgen_core.data.prepare import prepare
from pixelgen_core.evaluation.report import Reference, Row
from pixelgen_core.plugins import StrategyRecord
from pixelgen_core.sampling import restore, sample_raw


@dataclass
class Evaluation:
    model: Row
    calibration: list[Row]
    samples: np.ndarray  # RGBA uint8 (n, H, W, 4), what was scored
    reference: Reference

    @property
    def rows(self) -> list[Row]:
        return [self.model, *self.calibration]


def evaluate(
    record: StrategyRecord,
    payload: dict,
    n: int = 1000,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    device: torch.device | None = None,
    name: str | None = None,
    calibrate: bool = True,
) -> Evaluation:
    """Score `n` samples of a checkpoint against its own dataset, with calibration rows
    (skipped with `calibrate=False`, when a caller already has them for this dataset)."""
    strategy, palette = restore(record, payload, device or torch.device("cpu"))
    data = prepare(payload["config"], record.spec.conditional, palette=palette)
    reference = Reference(data, seed)
    start = time.perf_counter()
    indices, raw = sample_raw(strategy, palette, n, seed, options=options)
    seconds = time.perf_counter() - start
    model = Row(name or record.spec.name, reference.score(indices, raw, reference.training))
    model.extra["sample_ms_per_sprite"] = 1000 * seconds / n
    rows = torch.arange(min(len(data), 256))
    batch = data.unaugmented(rows, strategy.device)
    with torch.inference_mode():
        for key, value in strategy.metrics(batch).items():
            model.extra[f"strategy/{key}"] = float(value)
    calibration = reference.calibration_rows(n) if calibrate else []
    return Evaluation(model, calibration, palette.to_rgba(indices), reference)
