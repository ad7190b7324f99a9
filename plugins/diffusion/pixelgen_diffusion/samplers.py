"""Reverse-process samplers, each a small object: `set_timesteps(n)`, then `step()` per timestep.

The previous timestep always comes from the timestep list (never from a fixed stride, which
is wrong for uneven spacings), and the last step goes to alpha_bar = 1: it returns the
clean prediction x_0.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pixelgen_core import SettingError
from pixelgen_diffusion.schedule import NoiseSchedule, spaced_timesteps


class Sampler:
    def __init__(self, schedule: NoiseSchedule, clip_sample: bool = True) -> None:
        self.schedule = schedule
        self.clip_sample = clip_sample
        self.timesteps = spaced_timesteps(schedule.num_train_timesteps, 1)

    @classmethod
    def create(cls, schedule: NoiseSchedule, eta: float = 0.0, mid_t: int = 0) -> Sampler:
        """Every sampler from the same settings (each takes the ones it has), so the
        strategy builds whichever was asked for in one line."""
        return cls(schedule)

    @property
    def max_steps(self) -> tuple[int, str]:
        """The most steps it can take, and the setting that bounds them."""
        return self.schedule.num_train_timesteps, "diffusion.timesteps"

    def set_timesteps(self, num_steps: int, spacing: str = "trailing") -> None:
        self.timesteps = spaced_timesteps(self.schedule.num_train_timesteps, num_steps, spacing)
        self._reset()

    def _reset(self) -> None:
        pass

    def noise(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x_0 noised to the first timestep, x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
        (DDPM eq. 4): where a sampler that finishes another's sprite starts."""
        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        t = torch.full((len(x0),), int(self.timesteps[0]), device=x0.device)
        return self.schedule.add_noise(x0, eps, t)

    def previous(self, timestep: int) -> int:
        """The timestep after `timestep` in the list; -1 after the last (alpha_bar = 1)."""
        i = int((self.timesteps == timestep).nonzero()[0][0])
        return int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError


class DDPMSampler(Sampler):
    """Ancestral sampling from the posterior q(x_prev | x_t, x_0) (DDPM eqs. 6-7).

    With all T steps this is Ho et al.'s sampler; with fewer steps the same posterior
    is taken between the visited timesteps.
    """

    def set_timesteps(self, num_steps: int | None = None, spacing: str = "trailing") -> None:
        all_steps = self.schedule.num_train_timesteps
        super().set_timesteps(all_steps if num_steps is None else num_steps, spacing)

    def step(self, model_output, timestep, sample, generator=None):
        prev = self.previous(timestep)
        a_t, a_prev = self.schedule.abar(timestep), self.schedule.abar(prev)
        x0, _ = self.schedule.to_x0_eps(model_output, sample, timestep, self.clip_sample)
        alpha_t = a_t / a_prev  # the step's own 1 - beta
        beta_t = 1 - alpha_t
        # Posterior mean, eq. 7: coefficients of x_0 and of x_t.
        mean = (math.sqrt(a_prev) * beta_t / (1 - a_t)) * x0 + (
            math.sqrt(alpha_t) * (1 - a_prev) / (1 - a_t)
        ) * sample
        if prev < 0:
            return mean
        variance = max((1 - a_prev) / (1 - a_t) * beta_t, 1e-20)  # beta-tilde, eq. 7
        noise = torch.randn(
            sample.shape, generator=generator, device=sample.device, dtype=sample.dtype
        )
        return mean + math.sqrt(variance) * noise


class DDIMSampler(Sampler):
    """Song et al. (2021), eq. 12: deterministic for eta = 0, DDPM-like for eta = 1."""

    def __init__(self, schedule: NoiseSchedule, eta: float = 0.0, clip_sample: bool = True):
        super().__init__(schedule, clip_sample)
        self.eta = eta

    @classmethod
    def create(cls, schedule: NoiseSchedule, eta: float = 0.0, mid_t: int = 0) -> Sampler:
        return cls(schedule, eta=eta)

    def step(self, model_output, timestep, sample, generator=None):
        prev = self.previous(timestep)
        a_t, a_prev = self.schedule.abar(timestep), self.schedule.abar(prev)
        x0, eps = self.schedule.to_x0_eps(model_output, sample, timestep, self.clip_sample)
        # sigma_t(eta), eq. 16.
        sigma = self.eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        direction = math.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
        prev_sample = math.sqrt(a_prev) * x0 + direction
        if self.eta > 0 and prev >= 0:
            noise = torch.randn(
                sample.shape, generator=generator, device=sample.device, dtype=sample.dtype
            )
            prev_sample = prev_sample + sigma * noise
        return prev_sample


class DPMSolverPP2MSampler(Sampler):
    """DPM-Solver++(2M), Lu et al. (2022), algorithm 2, in data (x_0) prediction.

    With lambda_t = log(alpha_t / sigma_t) and h = lambda_t - lambda_s:
        first order:  x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) x0_s
        second order: the same with D = x0_s + (1 / 2r)(x0_s - x0_prev), r = h_prev / h.
    The first step (no history yet) and the last (to sigma = 0) are first order.
    """

    def _reset(self) -> None:
        self.history: list[torch.Tensor] = []
        self.previous_lambda: float | None = None

    def _alpha_sigma(self, t: int) -> tuple[float, float]:
        a = self.schedule.abar(t)
        return math.sqrt(a), math.sqrt(1 - a)

    def step(self, model_output, timestep, sample, generator=None):
        prev = self.previous(timestep)
        x0, _ = self.schedule.to_x0_eps(model_output, sample, timestep, self.clip_sample)
        alpha_s, sigma_s = self._alpha_sigma(timestep)
        alpha_t, sigma_t = self._alpha_sigma(prev)
        lambda_s = math.log(alpha_s / sigma_s)
        if sigma_t == 0:  # final step: lambda_t = inf, e^-h = 0, the update returns x_0
            self._reset()
            return x0
        lambda_t = math.log(alpha_t / sigma_t)
        h = lambda_t - lambda_s
        data = x0
        if self.history and self.previous_lambda is not None:
            r = (lambda_s - self.previous_lambda) / h
            data = x0 + (x0 - self.history[-1]) / (2 * r)
        self.history = [x0]
        self.previous_lambda = lambda_s
        return (sigma_t / sigma_s) * sample - alpha_t * math.expm1(-h) * data


class ConsistencySampler(DDIMSampler):
    """Multistep consistency sampling for a model tuned by the consistency stage: each
    step maps x_t straight to x_0 and, if a step is left, noises that x_0 to the next
    timestep with DDIM's update (eq. 12). With eta = 0 the noise is the one the model
    implied, so each step starts from the last one's noise, not a new draw (the gamma = 0
    end of Kim et al. 2023, "Consistency trajectory models", section 4.2); eta = 1 draws
    it afresh at the first step, as Song et al. (2023, algorithm 1) do. On the bundled
    sprites eta = 0 scores far better with two steps (docs/learn/diffusion.md).

    The timesteps are T-1, then `mid_t`, then evenly down towards 0: one step is
    [T-1], two are [T-1, mid_t], three [T-1, mid_t, mid_t / 2], ... A `mid_t` that is
    not below T-1 is taken as T-2.
    """

    def __init__(
        self, schedule: NoiseSchedule, mid_t: int, eta: float = 0.0, clip_sample: bool = True
    ) -> None:
        super().__init__(schedule, eta, clip_sample)
        self.mid_t = min(mid_t, schedule.num_train_timesteps - 2)

    @classmethod
    def create(cls, schedule: NoiseSchedule, eta: float = 0.0, mid_t: int = 0) -> Sampler:
        return cls(schedule, mid_t, eta)

    @property
    def max_steps(self) -> tuple[int, str]:
        return self.mid_t + 1, "consistency.mid_t + 1"

    def set_timesteps(self, num_steps: int, spacing: str = "trailing") -> None:
        last = self.schedule.num_train_timesteps - 1
        mid = self.mid_t
        if not 1 <= num_steps <= mid + 1:
            raise ValueError(f"steps must be between 1 and {mid + 1}, got {num_steps}")
        later = [round(mid * (num_steps - 1 - i) / (num_steps - 1)) for i in range(num_steps - 1)]
        self.timesteps = np.array([last, *later], dtype=np.int64)


class LowNoiseStep(DDIMSampler):
    """One base-model step from a low noise level, to finish another sampler's x_0: the
    x_0 is noised to `timestep` with fresh noise (q(x_t | x_0), DDPM eq. 4) and denoised
    in one DDIM step (eq. 12 with alpha_bar_prev = 1: the model's own x_0). At low noise
    the base model redraws only detail, and what it draws there is its own, cleaner
    guess at each pixel: the consistency student's x_0 is a mean of the sprites a noisy
    input could become, so its uncertain pixels snap to stray colours."""

    def __init__(self, schedule: NoiseSchedule, timestep: int, clip_sample: bool = True):
        super().__init__(schedule, 0.0, clip_sample)
        self.timesteps = np.array([timestep], dtype=np.int64)

    def set_timesteps(self, num_steps: int = 1, spacing: str = "trailing") -> None:
        if num_steps != 1:
            raise ValueError("a low-noise step is one step")


class Restart(DPMSolverPP2MSampler):
    """Restart sampling (Xu et al. 2023, "Restart sampling for improving generative
    processes"), from the clean end: a finished x_0 is noised back to `timestep` with
    fresh noise (q(x_t | x_0), DDPM eq. 4) and solved down again with `steps`
    DPM-Solver++ steps, as many times as asked. A deterministic solver carries every
    error of its few steps into the sprite; the fresh noise of each round contracts
    them, so each round lands nearer the model's own distribution. On sprites those
    errors are ragged outlines: one-pixel bumps, dents and broken strokes (notches)."""

    def __init__(self, schedule: NoiseSchedule, timestep: int, steps: int) -> None:
        super().__init__(schedule)
        last = schedule.num_train_timesteps - 1
        if not 1 <= timestep <= last:
            raise SettingError(
                f"{{restart_t}} must be between 1 and {last} (diffusion.timesteps - 1), "
                f"got {timestep}"
            )
        if not 1 <= steps <= timestep + 1:
            raise SettingError(
                f"{{restart_steps}} must be between 1 and {timestep + 1} ({{restart_t}} + 1), "
                f"got {steps}"
            )
        # trailing spacing of [0, timestep]: the first step starts at `timestep` itself
        self.timesteps = spaced_timesteps(timestep + 1, steps)
        self._reset()

    def set_timesteps(self, num_steps: int = 0, spacing: str = "trailing") -> None:
        raise ValueError("a restart's timesteps are set when it is made")


SAMPLERS = {
    "ddpm": DDPMSampler,
    "ddim": DDIMSampler,
    "dpm++": DPMSolverPP2MSampler,
    "consistency": ConsistencySampler,
}
