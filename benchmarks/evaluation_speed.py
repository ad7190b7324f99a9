"""How long `pixelgen evaluate`'s scoring takes, metric by metric, on the bundled sprites.
Run by hand from an activated .venv:

    python benchmarks/evaluation_speed.py [--n 1000] [--repeat 5]

Embeds the colored sheet, then times each metric of one row (a model's, or a
calibration row's) on n "samples" against the held-out half: Fréchet distance, KID,
precision/recall/density/coverage and the nearest-copy search. The samples are training
sprites with a few pixels changed: the metrics' cost does not depend on their quality.
`evaluate` computes each metric once per repeat (5 by default) for the model row and for
each of the four calibration rows. Prints medians as markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import pixelgen_core as pg
from pixelgen_core.evaluation import (
    Reference,
    frechet_distance,
    kernel_inception_distance,
    nearest_copy_distance,
    prdc,
)


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="samples scored (capped to half)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    reference = Reference(pg.prepare_dataset("kenney-colored"), seed=0)
    held, _ = reference.splits[0]
    n = reference.count(args.n)
    rng = np.random.default_rng(0)
    sprites = reference.training[rng.integers(0, len(reference.training), n)].copy()
    sprites[:, 0, 0] = rng.integers(0, 4, n)  # not verbatim copies
    real = reference.features[held]
    fake = reference.features[rng.integers(0, len(reference.features), n)]
    fake = fake + rng.normal(scale=0.1, size=fake.shape)

    rows = {
        "Fréchet distance": lambda: frechet_distance(real, fake),
        "KID (50 subsets)": lambda: kernel_inception_distance(real, fake),
        "precision/recall/density/coverage": lambda: prdc(real, fake),
        "nearest copy": lambda: nearest_copy_distance(sprites, reference.training),
    }
    print(f"{n} samples against {len(held)} held-out sprites, median of {args.repeat}\n")
    print("| metric | seconds per row and repeat |\n|---|---|")
    for name, fn in rows.items():
        print(f"| {name} | {median_seconds(fn, args.repeat):.3f} |")


if __name__ == "__main__":
    main()
