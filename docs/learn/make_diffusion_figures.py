"""Make the pictures and numbers in docs/learn/diffusion.md from a trained diffusion
checkpoint (base stage and consistency tuning, as `pixelgen train diffusion` makes it).

    pixelgen train diffusion
    python docs/learn/make_diffusion_figures.py runs/diffusion/RUN/checkpoint.pt   # ~20 min

Writes docs/images/diffusion-*.png and docs/learn/diffusion-numbers.json: each sampler
and guidance setting scored like every model (`Run.evaluate`, five repeats) beside the
real held-out sprites, and the median time to draw 16 sprites with each.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from figures import BG, evaluations, save, scores_table, seconds, write_numbers
from pixelgen_diffusion.config import ALONE_MID_SHARE

import pixelgen_core as pg
from pixelgen_core.evaluation import PIXEL_STATS

ALONE_T = round(ALONE_MID_SHARE * 1000)  # the choice's third candidate's second step, 700

SAMPLERS = {  # name in the table: sampling options
    "consistency, 1 step": {"sampler": "consistency", "steps": 1},
    "consistency, 2 steps": {"sampler": "consistency", "steps": 2},
    "consistency, 2 steps, no final step": {
        "sampler": "consistency",
        "steps": 2,
        "final_step_t": 0,
    },
    # the choice's third candidate: the taught student's palette head, one colour a
    # sprite (every bundled sprite has one), its second step from ALONE_T
    f"consistency, 2 steps alone from t = {ALONE_T}, one colour": {
        "sampler": "consistency",
        "steps": 2,
        "final_step_t": 0,
        "mid_t": ALONE_T,
        "colours": 1,
    },
    "consistency, 4 steps": {"sampler": "consistency", "steps": 4},
    "consistency, 2 steps, fresh noise (eta 1)": {"sampler": "consistency", "steps": 2, "eta": 1.0},
    "DPM-Solver++, 2 steps": {"sampler": "dpm++", "steps": 2},
    "DPM-Solver++, 24 steps": {"sampler": "dpm++", "steps": 24},
    "DDIM, 50 steps": {"sampler": "ddim", "steps": 50},
    # `pixelgen sample` as it ships: the sampler chosen at the end of training, through
    # the run's pixel filter (the other rows keep every draw)
    "the default (chosen sampler + pixel filter)": {},
}
GUIDANCE = {  # DPM-Solver++ with 24 steps, the base model's default sampler
    "s = 1 (no guidance)": {"sampler": "dpm++", "guidance_scale": 1.0},
    "s = 2, t ≤ 700 (default)": SAMPLERS["DPM-Solver++, 24 steps"],  # scored once
    "s = 2, every step": {"sampler": "dpm++", "guidance_scale": 2.0, "guidance_max_t": 999},
    "s = 3, t ≤ 700": {"sampler": "dpm++", "guidance_scale": 3.0},
}


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
            out = strategy.modules["ema"](x, torch.full((6,), t), labels)[:, :4]
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
    rows, quoted = [], {}
    for name, options in (
        ("DDPM", {"sampler": "ddpm", "steps": 1000}),
        ("DDIM", {"sampler": "ddim", "steps": 50}),
        ("DPM-Solver++", {"sampler": "dpm++", "steps": 15}),
    ):
        start = time.perf_counter()
        rows.append(run.sample(12, seed=5, **options))
        quoted[f"{name} time for 12 sprites"] = f"{time.perf_counter() - start:.2f} s"
    save("diffusion-samplers.png", np.concatenate(rows), 12)

    # 5. Eight sprites of each class, and the README's sheet (DPM-Solver++, 24 steps).
    per_class = [
        run.sample(8, seed=k, label=k, sampler="dpm++") for k in range(strategy.num_classes)
    ]
    save("diffusion-classes.png", np.concatenate(per_class), 8)
    save("diffusion-samples.png", run.sample(64, seed=0), 16)  # the README's: the default

    # 6. Few steps: the consistency-tuned student with 1, 2 (with and without the final
    # base step) and 4 steps, 2 with fresh noise, then the teacher's DPM-Solver++ with 24,
    # from the same seed (the same labels and noise).
    strip = [name for name in SAMPLERS if name.startswith("consistency")]
    rows = [run.sample(12, seed=8, **SAMPLERS[name]) for name in [*strip, "DPM-Solver++, 24 steps"]]
    save("diffusion-consistency.png", np.concatenate(rows), 12)

    # 7. Numbers: every sampler and guidance setting, measured like every model.
    scores, real = evaluations(run, {**SAMPLERS, **GUIDANCE})
    timing = {
        name: seconds(lambda options=options: run.sample(16, seed=0, **options))
        for name, options in SAMPLERS.items()
    }
    keys = ["fd", "kid", "precision", "recall", "coverage", "memorised"]
    rows = [([name, f"{timing[name]:.3f}"], scores[name]) for name in SAMPLERS]
    real_row = (["*real held-out sprites*", ""], real)
    pixels = [f"{k}_w1" for k in PIXEL_STATS if k != "palette"] + ["pixel_clean"]
    quoted["samplers"] = scores_table(
        ["sampler", "16 sprites (s)"], [*rows, real_row], [*keys, *pixels]
    )
    rows = [([name], scores[name]) for name in GUIDANCE] + [(real_row[0][:1], real)]
    quoted["guidance"] = scores_table(["guidance"], rows, keys)
    write_numbers("diffusion", quoted, checkpoint=path, scores=scores, real=real, timing=timing)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
