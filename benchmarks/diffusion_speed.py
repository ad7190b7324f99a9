"""Diffusion speed and memory (issue 5). Run by hand from an activated .venv:

    python benchmarks/diffusion_speed.py [--repeat 7]

1. Sampling 16 guided sprites with 50 DDIM steps from the 8.2M-parameter U-Net of
   configs/diffusion-large.yaml: a straightforward loop (fp32, two forward passes per
   step for guidance) against the strategy's own path (one batched pass for guidance,
   inference mode, bf16 autocast where the CPU has it), same weights.
2. Training images/s at batch 32 on the same U-Net, fp32 against bf16 autocast.
3. The shipped default config and default sampler (DPM-Solver++, 24 steps, guidance at
   t <= 700): 16 sprites, against DDIM-50 and against guidance at every step.
4. Peak memory (max RSS) of `pixelgen sample diffusion -n 16` in a fresh process.

Medians of --repeat runs; the variants of each item are interleaved, so machine noise
hits them alike. Prints markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

import pixelgen_core as pg
from pixelgen_core import Batch

ROOT = Path(__file__).resolve().parents[1]
PALETTE = ((0, 0, 0, 0),) + tuple((i / 8, 0.5, 1 - i / 8, 1.0) for i in range(7))


def run_for(config_file: Path | None, *overrides: str) -> pg.Run:
    """An untrained diffusion model (timings do not depend on the weights)."""
    return pg.new_run(
        "diffusion",
        config=config_file,
        overrides=["tracking.enabled=false", *overrides],
        device="cpu",
    )


def straightforward_ddim(run: pg.Run, n: int, steps: int, scale: float, seed: int) -> torch.Tensor:
    """What a first implementation does: fp32, a separate unconditional pass."""
    strategy = run.strategy
    net = strategy.modules["ema"]
    runner = strategy.make_sampler("ddim", steps)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, strategy.num_classes, (n,), generator=g)
    null = torch.full_like(labels, strategy.null_class)
    x = torch.randn(n, 4, 16, 16, generator=g)
    with torch.no_grad():
        for t in runner.timesteps.tolist():
            tt = torch.full((n,), t)
            cond, uncond = net(x, tt, labels), net(x, tt, null)
            x = runner.step(uncond + scale * (cond - uncond), t, x, g)
    return x


def raw_sample(run: pg.Run, n: int, seed: int, **given) -> torch.Tensor:
    """The strategy's own sampling path (inference mode), options over the run's config,
    without snapping to the palette."""
    options = run.sample_options(**given)
    with torch.inference_mode():
        return run.strategy.sample(pg.Draw(n, torch.Generator().manual_seed(seed), options))


def optimised_ddim(run: pg.Run, n: int, steps: int, scale: float, seed: int) -> torch.Tensor:
    """The strategy's own path, guided at every step like the straightforward loop."""
    return raw_sample(run, n, seed, ddim_steps=steps, guidance_scale=scale, guidance_max_t=999)


def default_sampling(run: pg.Run, **options) -> torch.Tensor:
    """16 sprites as `pixelgen sample` draws them (inference mode), options over the config."""
    return raw_sample(run, 16, 0, **options)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def interleaved(variants: dict, repeat: int) -> dict[str, float]:
    for fn in variants.values():
        fn()  # warm-up (oneDNN primitive caches, allocator)
    times = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            times[name].append(timed(fn))
    return {name: statistics.median(values) for name, values in times.items()}


def train_rate(run: pg.Run, precision: str, batch: int = 32, steps: int = 8) -> float:
    strategy = run.strategy
    strategy.config.training.precision = precision
    g = torch.Generator().manual_seed(0)
    indices = torch.randint(0, len(PALETTE), (batch, 16, 16), generator=g)
    images = torch.tensor(PALETTE, dtype=torch.float32)[indices].permute(0, 3, 1, 2)
    data = Batch(images.contiguous(), indices, torch.randint(0, strategy.num_classes, (batch,)))
    strategy.train_step(data, "base")
    start = time.perf_counter()
    for _ in range(steps):
        strategy.train_step(data, "base")
    return batch * steps / (time.perf_counter() - start)


def peak_memory_mb(scratch: Path) -> float:
    env = {**os.environ, "PIXELGEN_LOAD_PLUGINS": "pixelgen-diffusion"}
    common = ["--checkpoint", "ckpt", "-n", "16", "--out", "out"]
    subprocess.run(
        [
            "pixelgen",
            "train",
            "diffusion",
            "-q",
            "training.epochs=1",
            "tracking.enabled=false",
            "training.output_dir=r",
        ],
        cwd=scratch,
        env=env,
        check=True,
        capture_output=True,
    )
    [ckpt] = list((scratch / "r" / "diffusion").glob("*/checkpoint.pt"))
    (scratch / "ckpt").symlink_to(ckpt.parent)
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "pixelgen", "sample", "diffusion", *common],
        cwd=scratch,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    large = run_for(ROOT / "configs" / "diffusion-large.yaml", "data.num_classes=8")
    params = sum(p.numel() for p in large.strategy.modules["unet"].parameters()) / 1e6
    sampling = interleaved(
        {
            "straightforward (fp32, 2 passes, no_grad)": lambda: straightforward_ddim(
                large, 16, 50, 3.0, 0
            ),
            "pixelgen (batched, inference mode, bf16 autocast)": lambda: optimised_ddim(
                large, 16, 50, 3.0, 0
            ),
            "pixelgen, fp32": lambda: raw_sample(
                large,
                16,
                0,
                ddim_steps=50,
                guidance_scale=3.0,
                guidance_max_t=999,
                precision="fp32",
            ),
        },
        args.repeat,
    )
    rates = {p: statistics.median(train_rate(large, p) for _ in range(3)) for p in ("fp32", "bf16")}
    default = run_for(None)
    default_params = sum(p.numel() for p in default.strategy.modules["unet"].parameters()) / 1e6
    every = {"guidance_max_t": 999}
    shipped = interleaved(
        {
            "default (DPM-Solver++ 24 steps, guided at t ≤ 700)": lambda: default_sampling(default),
            "DPM-Solver++ 22 steps, guided at t ≤ 700": lambda: default_sampling(default, steps=22),
            "DPM-Solver++ 20 steps, guided at t ≤ 700": lambda: default_sampling(default, steps=20),
            "DDIM 50 steps, guided at t ≤ 700": lambda: default_sampling(default, ddim_steps=50),
            "previous default (DPM-Solver++ 20, guided at every step)": lambda: default_sampling(
                default, steps=20, **every
            ),
            "DDIM 50 steps, guided at every step": lambda: default_sampling(
                default, ddim_steps=50, **every
            ),
        },
        args.repeat,
    )
    with tempfile.TemporaryDirectory() as scratch:
        memory = peak_memory_mb(Path(scratch))

    print(
        f"threads: {torch.get_num_threads()}, bf16 on this CPU: "
        f"{torch.ops.mkldnn._is_mkldnn_bf16_supported()}\n"
    )
    print(f"| 16 guided sprites, 50 DDIM steps, U-Net {params:.1f}M | median (s) |\n|---|---|")
    for name, value in sampling.items():
        print(f"| {name} | {value:.3f} |")
    print(f"\n| training, batch 32, U-Net {params:.1f}M | images/s |\n|---|---|")
    for name, value in rates.items():
        print(f"| {name} | {value:.0f} |")
    print(f"\n| shipped default config (U-Net {default_params:.1f}M), 16 sprites | median (s) |")
    print("|---|---|")
    for name, value in shipped.items():
        print(f"| {name} | {value:.3f} |")
    print(f"\npeak memory of `pixelgen sample diffusion -n 16`: {memory:.0f} MB (max RSS)")


if __name__ == "__main__":
    main()
