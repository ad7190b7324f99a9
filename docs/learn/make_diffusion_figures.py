"""Make the pictures in docs/learn/diffusion.md from a trained diffusion checkpoint.

    pixelgen train diffusion
    python docs/learn/make_diffusion_figures.py runs/diffusion/RUN/checkpoint.pt

Writes docs/images/diffusion-*.png and prints the timings it measured.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from figures import BG, save

import pixelgen_core as pg


def raw_rgba(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] RGBA tensors as uint8 images, noise and all (composited over the background)."""
    x = ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    alpha = x[..., 3:4]
    rgb = x[..., :3] * alpha + np.array(BG[:3]) / 255 * (1 - alpha)
    out = np.concatenate([rgb, np.ones_like(alpha)], axis=-1)
    return (out * 255).round().astype(np.uint8)


def main(path: str) -> None:
    run = pg.open_run("diffusion", checkpoint=path, device="cpu")
    strategy = run.strategy
    strategy.eval()
    data = run.training_data()
    schedule = strategy.schedule

    # 1. Forward noising: one sprite at growing t.
    rows = torch.arange(0, len(data), len(data) // 4)[:4]
    x0 = data.unaugmented(rows, torch.device("cpu")).images * 2 - 1
    ts = [0, 50, 150, 300, 500, 700, 850, 999]
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    strip = [raw_rgba(schedule.add_noise(x0, noise, torch.full((4,), t))) for t in ts]
    save("diffusion-forward.png", np.stack(strip, axis=1).reshape(-1, 16, 16, 4), len(ts))

    # 2. Reverse process: the predicted clean sprite x_0 after each of 10 DPM-Solver++ steps.
    runner = strategy.make_sampler("dpm++", steps=10)
    g = torch.Generator().manual_seed(3)
    labels = strategy._labels(6, None, g)
    x = torch.randn(6, 4, 16, 16, generator=g)
    frames = []
    with torch.inference_mode():
        for t in runner.timesteps.tolist():
            out = strategy.modules["ema"](x, torch.full((6,), t), labels)
            x0_hat, _ = schedule.to_x0_eps(out, x, t, clip=True)
            frames.append(raw_rgba(x0_hat))
            x = runner.step(out, t, x)
    frames.append(raw_rgba(x))
    save("diffusion-denoising.png", np.stack(frames, axis=1).reshape(-1, 16, 16, 4), len(frames))

    # 3. Guidance sweep: same noise, same class, scales 1, 2, 3, 5 (one row each).
    for label in (1, 5):
        rows = [
            run.sample(10, seed=11, label=label, sampler="dpm++", guidance_scale=s)
            for s in (1.0, 2.0, 3.0, 5.0)
        ]
        save(f"diffusion-guidance-class{label}.png", np.concatenate(rows), 10)

    # 4. Samplers: DDPM (1000 steps), DDIM (50), DPM-Solver++ (15), with timings.
    rows = []
    for name, options in (
        ("ddpm", {"sampler": "ddpm", "steps": 1000}),
        ("ddim", {"ddim_steps": 50}),
        ("dpm++", {"sampler": "dpm++", "steps": 15}),
    ):
        start = time.perf_counter()
        rows.append(run.sample(12, seed=5, **options))
        print(f"{name}: {time.perf_counter() - start:.2f} s for 12 sprites")
    save("diffusion-samplers.png", np.concatenate(rows), 12)

    # 5. Eight sprites of each class, and the README's sheet (DPM-Solver++, 24 steps).
    per_class = [
        run.sample(8, seed=k, label=k, sampler="dpm++") for k in range(strategy.num_classes)
    ]
    save("diffusion-classes.png", np.concatenate(per_class), 8)
    save("diffusion-samples.png", run.sample(64, seed=0, sampler="dpm++"), 16)  # the README's

    # 6. Few steps: the consistency-tuned student with 1, 2 and 4 steps, then the teacher's
    # DPM-Solver++ with 24, from the same seed (the same labels and starting noise).
    rows = []
    for options in (
        {"sampler": "consistency", "steps": 1},
        {"sampler": "consistency", "steps": 2},
        {"sampler": "consistency", "steps": 4},
        {"sampler": "dpm++", "steps": 24},
    ):
        rows.append(run.sample(12, seed=8, **options))
    save("diffusion-consistency.png", np.concatenate(rows), 12)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
