"""Calibrated sprite-quality metrics (docs/evaluation.md), and the toolkit behind them.

`Run.evaluate` and `compare` are the way to score a run. The names below are public for
those who measure more (benchmarks, the docs' calibration figures): features from the
bundled sprite encoder (`embed`), distances between feature sets, per-sprite pixel
statistics, the held-out `Reference` rows and the table they print. They load on first
use, so importing this package stays cheap.
"""

import importlib

REPEATS = 5  # random half-splits of the data and sampling seeds per evaluation

_WHERE = {
    "embed": "encoder",
    "frechet_distance": "metrics",
    "kernel_inception_distance": "metrics",
    "prdc": "metrics",
    "nearest_copy_distance": "metrics",
    "memorisation": "metrics",
    "on_palette": "metrics",
    "colours_per_sprite": "metrics",
    "stray_pixel_rate": "metrics",
    "opaque_colours": "metrics",
    "isolated_pixels": "metrics",
    "floating_pixels": "metrics",
    "notches": "metrics",
    "COLUMNS": "report",
    "PIXEL_STATS": "report",
    "Reference": "report",
    "Row": "report",
    "format_cell": "report",
    "judge": "report",
    "pixel_limits": "report",
    "markdown_table": "report",
    "side_by_side": "sheet",
}
_DATA = {"class_centroids", "centroid_distances"}  # how near samples fall to their class


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    if name in _DATA:
        return getattr(importlib.import_module("pixelgen_core.data.labels"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["REPEATS", *_WHERE, *sorted(_DATA)]
