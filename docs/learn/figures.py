"""What the make_*_figures.py scripts share: where pictures and numbers go, and how
they are drawn and printed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixelgen_core import Sprites
from pixelgen_core.evaluation import COLUMNS, format_cell, judge

OUT = Path(__file__).resolve().parents[1] / "images"
NUMBERS = Path(__file__).resolve().parent  # docs/learn/NAME-numbers.json
BG = (29, 29, 43, 255)  # a dark background, so transparent pixels read as empty
TITLES = {key: title for key, title, _, _ in COLUMNS}


def save(name: str, sprites: np.ndarray, columns: int, scale: int = 4) -> None:
    """Tile RGBA sprites `columns` wide into docs/images/NAME, upscaled, and say where."""
    sheet = Sprites(np.asarray(sprites)).grid(columns, background=BG, scale=scale)
    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet, "RGBA").save(OUT / name)
    print(OUT / name)


def scores_table(
    leading: list[str], rows: list[tuple[list[str], dict[str, float]]], keys: list[str]
) -> str:
    """A markdown table: each row's own cells (`leading` columns), then its scores for
    `keys`, printed as `pixelgen evaluate` prints them ("3.71 ± 0.25")."""
    header = [*leading, *(TITLES[k] for k in keys)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cells, scores in rows:
        lines.append("| " + " | ".join([*cells, *(format_cell(scores, k) for k in keys)]) + " |")
    return "\n".join(lines)


def seconds(draw, repeats: int = 5) -> float:
    """Median wall time of `draw()` over `repeats` calls, after one warm-up call."""
    draw()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        draw()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def evaluations(run, settings: dict[str, dict], n: int = 1000) -> tuple[dict, dict]:
    """`Run.evaluate` of each named sampling setting (five repeats, n capped at the
    held-out half; a setting named twice is scored once), and the real held-out data's
    row, measured the same way."""
    scores, data, done = {}, {}, {}
    for name, options in settings.items():
        same = done.setdefault(json.dumps(options, sort_keys=True), name)
        if same != name:
            scores[name] = scores[same]
            continue
        result = run.evaluate(n, calibrate=False, **options)  # only the data row is shown
        if not data:
            row = result.reference.data_row(n)
            judge([row], row, result.reference.limits(n))
            data = row.metrics
        scores[name] = {**result.model.metrics, **result.model.extra}
        print(f"{name}: FD {format_cell(scores[name], 'fd')}", flush=True)
    return scores, data


def write_numbers(name: str, quoted: dict[str, str], **raw) -> None:
    """docs/learn/NAME-numbers.json: the raw values, and under "quoted" each number as
    the chapter prints it (tests/test_docs.py checks the chapter quotes every one)."""
    path = NUMBERS / f"{name}-numbers.json"
    path.write_text(json.dumps({**raw, "quoted": quoted}, indent=2, ensure_ascii=False) + "\n")
    for key, value in quoted.items():
        print(f"{key}:\n{value}" if "\n" in value else f"{key}: {value}")
    print(path)
