"""What each part of the diffusion U-Net buys: train the default network and copies of it
with one part switched off, for the same steps each, and score them the same way.

    python docs/learn/make_networks_figures.py [--epochs 50] [--work DIR]   # ~10 min

Every variant trains the base stage only (`training.stage=base`, the default sizes and
data) for the same number of steps (`--epochs`), then draws with DPM-Solver++ 24 steps
and is scored like every row of evaluation.md (`Run.evaluate`, 539 sprites, three repeats). Writes
docs/images/networks-ablation.png (a row of sprites per variant, same seeds) and
docs/learn/networks-numbers.json, which networks.md quotes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from figures import save, scores_table, write_numbers

import pixelgen_core as pg

VARIANTS = {  # name in the table: config overrides
    "the default U-Net": [],
    "no self-attention": ["model.attention=false"],
    "no skip connections": ["model.skips=false"],
    "no time embedding": ["model.time_embedding=false"],
}
KEYS = ["fd", "precision", "recall", "coverage", "isolated_w1", "pixel_clean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="networks-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    rows, pictures, steps = [], [], {}
    budget = f"training.epochs={args.epochs}"
    for name, overrides in VARIANTS.items():
        run = pg.train(
            "diffusion",
            overrides=["training.stage=base", "training.choose_sampler=0", budget, *overrides],
            progress=False,
        )
        steps[name] = run.steps
        scores = run.evaluate(1000, repeats=3, calibrate=False, sampler="dpm++")
        metrics = {**scores.model.metrics, **scores.model.extra}
        rows.append(([name, str(run.steps)], metrics))
        pictures.append(np.asarray(run.sample(12, seed=3, sampler="dpm++")))
        print(name, run.steps, metrics["fd"], flush=True)
    table = scores_table(["network", "steps"], rows, KEYS)
    save("networks-ablation.png", np.concatenate(pictures), columns=12)
    quoted = {"ablation": table}
    for (name, _), (_, metrics) in zip(VARIANTS.items(), rows, strict=True):
        quoted[f"{name} FD"] = f"{metrics['fd']:.2f}"
        quoted[f"{name} steps"] = str(steps[name])
    write_numbers("networks", quoted, epochs=args.epochs)


if __name__ == "__main__":
    main()
