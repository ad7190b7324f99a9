"""Consistency tuning: teach a trained diffusion model to jump from any noisy sprite
straight to the clean end of its sampling trajectory, so one or two network evaluations
draw a sprite.

A consistency function f(x_t, t) returns the end x_0 of the probability-flow ODE
trajectory through x_t (Song et al. 2023, "Consistency models", eq. 3); it is defined by
    f(x_0, 0) = x_0    and    f(x_t, t) = f(x_r, r) for r < t on the same trajectory.
The student starts as a copy of the trained denoiser (whose x_0 prediction is f's value
for a gap of the whole way, r = clean), and learns f(x_t, t) = sg(f(x_r, r)) with x_r
one DDIM step of the frozen teacher from x_t (consistency distillation, algorithm 2).
As in ECT (Geng et al. 2025, "Consistency models made easy") the gap t - r starts at
t and halves each phase, so the student moves from denoiser to consistency function
through a chain of easy targets. The gap is a share of the distance left, so in phase k
the chain from t = 999 to the clean end is 1, 10, 22, 41, 74, 128 links for k = 0..5
(docs/learn/diffusion.md): that many teacher steps, not 2^k.
"""

from __future__ import annotations

import math

import torch

from pixelgen_diffusion.schedule import NoiseSchedule


def gap_start(t: torch.Tensor, phase: int) -> torch.Tensor:
    """r for each t in a phase: r = t - ceil((t + 1) / 2^phase), where r = -1 is the
    clean end (alpha_bar = 1). Phase 0 jumps to the end; each phase halves the gap."""
    gap = torch.div(t + 1 + 2**phase - 1, 2**phase, rounding_mode="floor")
    return t - gap.clamp(min=1)


def ddim_jump(
    schedule: NoiseSchedule, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, r: torch.Tensor
) -> torch.Tensor:
    """One deterministic DDIM step (Song et al. 2021, eq. 12 with sigma = 0) from t to r,
    per sample, given the teacher's x_0: x_r = sqrt(abar_r) x_0 + sqrt(1 - abar_r) eps,
    with eps = (x_t - sqrt(abar_t) x_0) / sqrt(1 - abar_t). r = -1 gives x_0 itself."""
    a_t, a_r = schedule.alpha_bar(t, x_t), schedule.alpha_bar(r, x_t)
    eps = (x_t - schedule.cast(a_t.sqrt(), x_t) * x0) / schedule.cast((1 - a_t).sqrt(), x_t)
    return schedule.cast(a_r.sqrt(), x_t) * x0 + schedule.cast((1 - a_r).sqrt(), x_t) * eps


def x0_from_v(schedule: NoiseSchedule, v: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor):
    """The clean sprite a v prediction implies, per sample:
    x_0 = sqrt(abar_t) x_t - sqrt(1 - abar_t) v  (Salimans & Ho 2022)."""
    a = schedule.alpha_bar(t, x_t)
    return schedule.cast(a.sqrt(), x_t) * x_t - schedule.cast((1 - a).sqrt(), x_t) * v


def pseudo_huber(difference: torch.Tensor, c: float) -> torch.Tensor:
    """Per-sample distance: sqrt(mean squared error + c^2) - c (Song & Dhariwal 2023,
    "Improved techniques for training consistency models", section 3.3): squared error
    near 0, linear for outliers; c = 0 gives the mean squared error itself."""
    mse = difference.pow(2).flatten(1).mean(1)
    return (mse + c * c).sqrt() - c if c > 0 else mse


def phase_of(step: int, total_steps: int, phases: int) -> int:
    """Which phase step `step` of a stage of `total_steps` falls in; the last phase lasts
    to the end (and beyond, if a resumed stage adds epochs)."""
    return min(phases - 1, math.floor(step * phases / max(total_steps, 1)))
