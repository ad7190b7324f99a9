"""Calibrated sprite-quality metrics (docs/evaluation.md)."""

REPEATS = 5  # random half-splits of the data and sampling seeds per evaluation
