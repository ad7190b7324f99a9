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

import numpy as np
import torch

from pixelgen_core.checkpoint import load
from pixelgen_core.data.labels import features
from pixelgen_core.data.prepare import prepare
from pixelgen_core.evaluation.run import evaluate
from pixelgen_core.plugins import discover
from pixelgen_core.sampling import restore, sample_raw

SETTINGS = {
    "s = 1 (no guidance)": {"guidance_scale": 1.0},
    "s = 2, every step": {"guidance_scale": 2.0, "guidance_max_t": 999},
    "s = 2, t ≤ 700 (default)": {"guidance_scale": 2.0, "guidance_max_t": 700},
    "s = 3, every step": {"guidance_scale": 3.0, "guidance_max_t": 999},
    "s = 3, t ≤ 700": {"guidance_scale": 3.0, "guidance_max_t": 700},
}
METRICS = ("fd", "kid", "precision", "recall", "memorised")


def class_agreement(record, payload, options: dict, n: int, seed: int) -> float:
    """Share of sprites drawn with --class K whose nearest class centroid is K."""
    strategy, palette = restore(record, payload, torch.device("cpu"))
    data = prepare(payload["config"], True, palette=palette)
    labels = data.labels.numpy()
    points = features(data.dataset.sprites)
    centroids = np.stack([points[labels == k].mean(0) for k in range(strategy.num_classes)])
    hits = 0
    per_class = n // strategy.num_classes
    for k in range(strategy.num_classes):
        indices, _ = sample_raw(strategy, palette, per_class, seed + k, k, options)
        drawn = features(palette.to_rgba(indices))
        nearest = ((drawn[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
        hits += int((nearest == k).sum())
    return hits / (per_class * strategy.num_classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=24, help="DPM-Solver++ steps")
    args = parser.parse_args()
    record = discover().get("diffusion")
    payload = load(args.checkpoint, strategy="diffusion")
    print(f"| guidance ({args.steps} DPM-Solver++ steps) | FD ↓ | KID×1e3 ↓ | precision ", end="")
    print("| recall | memorised | class agreement |\n|---|---|---|---|---|---|---|")
    for name, setting in SETTINGS.items():
        options = {"sampler": "dpm++", "steps": args.steps, **setting}
        scores = {key: [] for key in METRICS}
        for seed in args.seeds:
            result = evaluate(record, payload, args.n, seed, options, calibrate=False)
            for key in METRICS:
                scores[key].append(result.model.metrics[key])
        mean = {key: statistics.mean(values) for key, values in scores.items()}
        agreement = class_agreement(record, payload, options, args.n, args.seeds[0])
        print(
            f"| {name} | {mean['fd']:.2f} | {mean['kid']:.1f} | {mean['precision']:.3f} "
            f"| {mean['recall']:.3f} | {100 * mean['memorised']:.1f}% | {100 * agreement:.1f}% |"
        )


if __name__ == "__main__":
    main()
