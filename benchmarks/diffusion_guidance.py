"""Guidance interval sweep for a trained diffusion run (issue 5 item 8). Run by hand:

    python benchmarks/diffusion_guidance.py --checkpoint RUN_FOLDER [--seeds 0 1 2] [-n 1000]

For each setting of guidance scale and `guidance_max_t` (guidance only at t <= max_t),
on one checkpoint and one sampler:
- quality as `pixelgen evaluate` scores it (FD, KID, precision, recall, memorised), mean
  over seeds, each seed drawing -n sprites with classes at their data frequencies;
- class agreement: -n sprites drawn with `--class K` (K in turn), and the share whose
  nearest k-means centroid (the clusters the labels came from) is K. It says whether a
  guided sprite looks like its class, which the quality metrics do not.

Prints markdown for benchmarks/RESULTS.md and docs/learn/diffusion.md.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import pixelgen_core as pg
from pixelgen_core.evaluation import centroid_distances, class_centroids

SETTINGS = {
    "s = 1 (no guidance)": {"sampler": "dpm++", "guidance_scale": 1.0},
    "s = 2, every step": {"sampler": "dpm++", "guidance_scale": 2.0, "guidance_max_t": 999},
    "s = 2, t ≤ 700 (default)": {"sampler": "dpm++", "guidance_scale": 2.0, "guidance_max_t": 700},
    "s = 3, every step": {"sampler": "dpm++", "guidance_scale": 3.0, "guidance_max_t": 999},
    "s = 3, t ≤ 700": {"sampler": "dpm++", "guidance_scale": 3.0, "guidance_max_t": 700},
}
METRICS = ("fd", "kid", "precision", "recall", "memorised")


def class_agreement(run: pg.Run, options: dict, n: int, seed: int) -> float:
    """Share of sprites drawn with --class K whose nearest class centroid is K (in the
    features the k-means class labels were made from)."""
    data = run.training_data()
    classes = run.info.num_classes
    centroids = class_centroids(data.dataset.sprites, data.labels.numpy(), classes)
    hits = 0
    per_class = n // classes
    for k in range(classes):
        drawn = run.sample(per_class, seed=seed + k, label=k, **options).rgba
        hits += int((centroid_distances(drawn, centroids).argmin(1) == k).sum())
    return hits / (per_class * classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=24, help="DPM-Solver++ steps")
    args = parser.parse_args()
    run = pg.open_run("diffusion", checkpoint=args.checkpoint, device="cpu")
    print(f"| guidance ({args.steps} DPM-Solver++ steps) | FD ↓ | KID×1e3 ↓ | precision ", end="")
    print("| recall | memorised | class agreement |\n|---|---|---|---|---|---|---|")
    for name, setting in SETTINGS.items():
        options = {"sampler": "dpm++", "steps": args.steps, **setting}
        scores = {key: [] for key in METRICS}
        for seed in args.seeds:
            result = run.evaluate(args.n, seed=seed, calibrate=False, **options)
            for key in METRICS:
                scores[key].append(result.model.metrics[key])
        mean = {key: statistics.mean(values) for key, values in scores.items()}
        agreement = class_agreement(run, options, args.n, args.seeds[0])
        print(
            f"| {name} | {mean['fd']:.2f} | {mean['kid']:.1f} | {mean['precision']:.3f} "
            f"| {mean['recall']:.3f} | {100 * mean['memorised']:.1f}% | {100 * agreement:.1f}% |"
        )


if __name__ == "__main__":
    main()
