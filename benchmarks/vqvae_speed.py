"""VQ-VAE speed: training throughput of each stage, and time to draw 16 sprites.

    python benchmarks/vqvae_speed.py [--repeats 15]

Uses the default config on the bundled kenney-colored sprites. Timing does not depend
on what the weights are, so the models are freshly initialised; the sampling path is
the real one (prior, 16 positions one at a time, then the decoder).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import date

import torch

import pixelgen_core as pg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    run = pg.new_run("vqvae", overrides=["tracking.enabled=false"], device="cpu")
    strategy, data, config = run.strategy, run.training_data(), run.settings
    batch_size = run.config.training.batch_size
    generator = torch.Generator().manual_seed(0)

    def throughput(stage: str) -> float:
        strategy.train()
        rates = []
        for i in range(args.repeats + 2):
            rows = torch.randperm(len(data), generator=generator)[:batch_size]
            batch = data.batch(rows, generator, config["data"], torch.device("cpu"))
            start = time.perf_counter()
            strategy.train_step(batch, stage)
            if i >= 2:  # the first steps warm up allocators and oneDNN kernels
                rates.append(batch_size / (time.perf_counter() - start))
        return statistics.median(rates)

    autoencoder = throughput("autoencoder")
    prior = throughput("prior")
    strategy.eval()

    def draw_seconds(label: int | None = None, **options) -> float:
        times = []
        with torch.inference_mode():
            for i in range(args.repeats + 2):
                g = torch.Generator().manual_seed(i)
                start = time.perf_counter()
                strategy.sample(pg.Draw(16, g, run.sample_options(**options), label))
                if i >= 2:
                    times.append(time.perf_counter() - start)
        return statistics.median(times)

    with_prior = draw_seconds(label=3)
    uniform = draw_seconds(codes="uniform")
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in strategy.modules.items()}
    print(f"\n## VQ-VAE speed ({date.today()})\n")
    print(f"- Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"- Command: `python benchmarks/vqvae_speed.py --repeats {args.repeats}` (medians)")
    print(f"- Parameters: autoencoder {params['vqvae']:,}, prior {params['prior']:,}\n")
    print("| measurement | median |")
    print("| --- | --- |")
    print(f"| autoencoder training, batch {batch_size} | {autoencoder:.0f} images/s |")
    print(f"| prior training, batch {batch_size} | {prior:.0f} images/s |")
    print(f"| 16 sprites from the prior (class 3) | {with_prior * 1000:.1f} ms |")
    print(f"| 16 sprites from uniform codes | {uniform * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
