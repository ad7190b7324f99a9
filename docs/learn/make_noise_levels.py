"""Everything diffusion does to noise, on one axis: the log signal-to-noise ratio.

    python docs/learn/make_noise_levels.py

Writes docs/images/diffusion-noise-levels.png and docs/learn/noise-levels.json, which
diffusion.md's "Noise levels on one axis" quotes. Nothing is trained: the schedules,
the training density, the guidance interval, the consistency targets and the samplers'
timesteps are all the diffusion plugin's own, at its default settings, so the numbers
are exact (tests/test_docs.py recomputes them). matplotlib comes with MLflow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from pixelgen_diffusion.config import DiffusionConfig
from pixelgen_diffusion.consistency import gap_start
from pixelgen_diffusion.samplers import SAMPLERS
from pixelgen_diffusion.schedule import NoiseSchedule

HERE = Path(__file__).resolve().parent
JSON = HERE / "noise-levels.json"
PICTURE = HERE.parent / "images" / "diffusion-noise-levels.png"
DRAWS = 200_000


def log_snr(schedule: NoiseSchedule, t: int) -> float:
    """log(ᾱ_t / (1 - ᾱ_t)): +inf for the clean end (t = -1)."""
    a = schedule.abar(t)
    return math.inf if a >= 1 else math.log(a / (1 - a))


def sampler_steps(schedule: NoiseSchedule, name: str, steps: int, mid_t: int) -> list[int]:
    made = SAMPLERS[name].create(schedule, 0.0, mid_t)
    made.set_timesteps(steps, "trailing")
    return [int(t) for t in made.timesteps.tolist()]


def measure() -> dict:
    """Every number the section quotes, and the arrays the figure draws."""
    config = DiffusionConfig()
    d, s, c = config.diffusion, config.sampling, config.consistency
    cosine = NoiseSchedule(d.timesteps, "cosine")
    linear = NoiseSchedule(d.timesteps, "linear")
    last = d.timesteps - 1

    def fmt(x: float) -> str:
        return f"{x:+.1f}".replace("-", "−")

    torch.manual_seed(0)
    drawn = cosine.training_timesteps(
        DRAWS, torch.device("cpu"), d.timestep_density, d.logit_mean, d.logit_std
    )
    table = np.array([log_snr(cosine, t) for t in range(d.timesteps)])
    drawn_snr = table[drawn.numpy()]
    middle = float(np.mean(np.abs(drawn_snr) <= 5))
    uniform_middle = float(np.mean(np.abs(table) <= 5))
    chain = [int(gap_start(torch.tensor([last]), k)) for k in range(c.phases)]
    samplers = {
        "DPM-Solver++ 24": sampler_steps(cosine, "dpm++", 24, c.mid_t),
        "DDIM 50": sampler_steps(cosine, "ddim", 50, c.mid_t),
        "consistency 2": [*sampler_steps(cosine, "consistency", 2, c.mid_t), s.final_step_t],
    }
    quoted = {
        "cosine at t = 0": fmt(log_snr(cosine, 0)),
        f"cosine at t = {last}": fmt(log_snr(cosine, last)),
        "linear at t = 0": fmt(log_snr(linear, 0)),
        f"linear at t = {last}": fmt(log_snr(linear, last)),
        "cosine crosses 0 at t": str(next(t for t in range(d.timesteps) if table[t] < 0)),
        "training draws within ±5": f"{middle:.0%}",
        "uniform draws within ±5": f"{uniform_middle:.0%}",
        "median training log-SNR": fmt(float(np.median(drawn_snr))),
        "guidance from": fmt(log_snr(cosine, s.guidance_max_t)),
        "second consistency step at": fmt(log_snr(cosine, c.mid_t)),
        "final base step at": fmt(log_snr(cosine, s.final_step_t)),
        f"phase {c.phases - 1} target from t = {last}": str(chain[-1]),
        "DPM-Solver++ first steps": ", ".join(str(t) for t in samplers["DPM-Solver++ 24"][:3]),
    }
    return {
        "quoted": quoted,
        "chain": chain,
        "samplers": samplers,
        "cosine": table.tolist(),
        "linear": [log_snr(linear, t) for t in range(d.timesteps)],
        "drawn": drawn_snr.tolist()[:20_000],
        "guidance_max_t": s.guidance_max_t,
    }


def draw(numbers: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cosine, linear = np.array(numbers["cosine"]), np.array(numbers["linear"])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, dpi=110)
    t = np.arange(len(cosine))
    top.plot(cosine, t, label="cosine (default)")
    top.plot(linear, t, "--", label="linear (DDPM)")
    top.set_ylabel("timestep t")
    top.legend(loc="upper right")
    top.set_title("noise levels on one axis: log SNR = log(ᾱ / (1 − ᾱ))")
    bins = np.linspace(-20, 12, 81)
    bottom.hist(numbers["drawn"], bins=bins, density=True, alpha=0.35, label="training draws")
    bottom.hist(cosine, bins=bins, density=True, histtype="step", label="uniform t")
    guided = cosine[numbers["guidance_max_t"]]
    bottom.axvspan(guided, 12, color="tab:green", alpha=0.08, label="guidance interval")
    for row, (name, steps) in enumerate(numbers["samplers"].items()):
        y = 0.16 + 0.035 * row
        bottom.plot(cosine[steps], [y] * len(steps), "|", ms=9, label=f"{name} steps")
    chain = [cosine[r] if r >= 0 else 12 for r in numbers["chain"]]
    bottom.plot(chain, [0.27] * len(chain), "o", ms=4, label="consistency targets from t = 999")
    for phase, x in enumerate(chain):
        bottom.annotate(
            f"k={phase}", (x, 0.27), textcoords="offset points", xytext=(-8, 5), fontsize=7
        )
    bottom.set_xlim(-20, 12)
    bottom.set_xlabel("log SNR  (noisier ←  → cleaner)")
    bottom.set_ylabel("density")
    bottom.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(PICTURE)


def main() -> None:
    numbers = measure()
    JSON.write_text(json.dumps({"quoted": numbers["quoted"], "chain": numbers["chain"]}, indent=2))
    draw(numbers)
    print(json.dumps(numbers["quoted"], indent=2))


if __name__ == "__main__":
    main()
