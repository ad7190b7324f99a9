"""Quality at another sprite size: the default diffusion model on 32x32 sprites.

    python benchmarks/size_quality.py [--minutes 10] [--sizes 16 32] [-n 1000]
        [--pictures docs/images] [--json results.json]

For each size, trains `pixelgen train diffusion` (the default config, which fits the
U-Net to the size) for `--minutes` of wall-clock time in a scratch folder with its own
MLflow store, then scores it as `pixelgen evaluate` does, with the default sampler
(2-step consistency) and with DPM-Solver++ at 24 steps. 16: the bundled colored
sprites. 32: a dataset no model has seen, made here: the same 1078 sprites, each placed
with three others drawn at random (seeded) in a 2x2 arrangement, so a 32x32 sprite
holds four 16x16 ones. `--pictures` writes the data and samples side by side per size.
Run it on an idle machine: the budget is wall-clock time.

The evaluation encoder was trained on 16x16 sprites; larger ones are resized to 16x16
(nearest) before embedding, so FD and KID at 32 measure the layout at that scale and
are not directly comparable with the 16x16 row (see RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

import pixelgen_core as pg
from pixelgen_core import grid, upscale, write_png

METRICS = ("fd", "kid", "precision", "recall", "coverage", "memorised")


def make_quads(folder: Path, seed: int = 0) -> Path:
    """The 32x32 dataset: every bundled colored sprite at the top left of a 2x2
    arrangement, the other three drawn at random."""
    sprites = pg.open_dataset("kenney-colored").sprites
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, first in enumerate(sprites):
        b, c, d = sprites[rng.integers(0, len(sprites), 3)]
        quad = np.concatenate(
            [np.concatenate([first, b], axis=1), np.concatenate([c, d], axis=1)], axis=0
        )
        write_png(quad, folder / f"quad_{i:04d}.png")
    return folder


def one_size(size: int, minutes: float, n: int, seed: int, scratch: Path, pictures: Path | None):
    dataset = "kenney-colored" if size == 16 else str(make_quads(scratch / "quads-32"))
    settings = [f"data.dataset={dataset}", f"training.time_budget_minutes={minutes}"]
    run = pg.train("diffusion", overrides=[*settings, f"training.seed={seed}"], progress=False)
    rows = {}
    for label, options in (("consistency 2", {}), ("dpm++ 24", {"sampler": "dpm++"})):
        report = run.evaluate(n, seed=seed, **options)
        rows[label] = {key: report.model.metrics[key] for key in METRICS}
        held_out = next(r for r in report.calibration if r.name.startswith("data"))
        rows["held-out data"] = {key: held_out.metrics[key] for key in METRICS}
    if pictures is not None:
        data = pg.open_dataset(dataset).sprites[:32]
        made = run.sample(32, seed=seed).rgba
        scale = 48 // size * 2
        dark = (40, 40, 48, 255)
        sheet = np.concatenate(
            [grid(data, columns=8, background=dark), grid(made, columns=8, background=dark)], axis=1
        )
        write_png(upscale(sheet, scale), pictures / f"size-{size}-data-and-samples.png")
    return {
        "size": size,
        "minutes": minutes,
        "steps": run.steps,
        "train_seconds": run.seconds,
        "channels": list(run.strategy.channels),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pictures", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    pictures = args.pictures.resolve() if args.pictures else None
    results = []
    with tempfile.TemporaryDirectory(prefix="pixelgen-sizes-") as scratch:
        os.chdir(scratch)
        for size in args.sizes:
            results.append(one_size(size, args.minutes, args.n, args.seed, Path(scratch), pictures))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {date.today()}")
    print(f"| size | steps | sampler | {' | '.join(METRICS)} |")
    print("|---" * (len(METRICS) + 3) + "|")
    for result in results:
        for label, metrics in result["rows"].items():
            cells = " | ".join(f"{metrics[k]:.3f}" for k in METRICS)
            print(f"| {result['size']} | {result['steps']} | {label} | {cells} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
