"""The forward noising process q(x_t | x_0) and inference timestep spacings.

Notation follows Ho et al. (2020): beta_t is the noise added at step t,
alpha_bar_t = prod_{s<=t} (1 - beta_s), and
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,    eps ~ N(0, I).   (DDPM eq. 4)
Constants are computed in float64 and cast when used.
"""

from __future__ import annotations

import math

import numpy as np
import torch

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("epsilon", "v")
SPACINGS = ("trailing", "leading", "linspace")


def betas_for(schedule: str, timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02):
    """beta_1..beta_T as float64."""
    if schedule == "linear":  # Ho et al. (2020), section 4
        return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)
    if schedule == "cosine":  # Nichol & Dhariwal (2021), eq. 17, betas clipped at 0.999

        def alpha_bar(t: float) -> float:
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = [
            min(1 - alpha_bar((i + 1) / timesteps) / alpha_bar(i / timesteps), 0.999)
            for i in range(timesteps)
        ]
        return torch.tensor(betas, dtype=torch.float64)
    raise ValueError(f"unknown beta schedule {schedule!r}; use one of {SCHEDULES}")


def spaced_timesteps(num_train: int, num_steps: int, spacing: str = "trailing") -> np.ndarray:
    """`num_steps` timesteps to visit, high to low.

    trailing: ends exactly at T-1 (Lin et al. 2024, "Common diffusion noise schedules and
    sample steps are flawed", table 2), so the first step starts from pure noise.
    leading: multiples of T // N; never visits T-1. linspace: evenly from T-1 to 0.
    """
    if not 1 <= num_steps <= num_train:
        raise ValueError(f"steps must be between 1 and {num_train}, got {num_steps}")
    if spacing == "trailing":
        steps = np.round(np.arange(num_train, 0, -num_train / num_steps)) - 1
    elif spacing == "leading":
        steps = (np.arange(0, num_steps) * (num_train // num_steps)).round()[::-1]
    elif spacing == "linspace":
        steps = np.linspace(0, num_train - 1, num_steps).round()[::-1]
    else:
        raise ValueError(f"unknown timestep spacing {spacing!r}; use one of {SPACINGS}")
    return steps.astype(np.int64)


class NoiseSchedule:
    """alpha_bar and friends, plus the conversions between model outputs and x_0 / eps."""

    def __init__(self, timesteps: int = 1000, schedule: str = "cosine", prediction: str = "v"):
        if prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {prediction!r}; use one of {PREDICTIONS}")
        self.num_train_timesteps = timesteps
        self.prediction = prediction
        self.betas = betas_for(schedule, timesteps)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        # alpha_bar with "no noise" (1.0) in front, so index t + 1 serves t = -1 too
        self._with_clean = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod])

    def abar(self, t: int) -> float:
        """alpha_bar_t as a Python (float64) number; t = -1 means "no noise" (1.0)."""
        return 1.0 if t < 0 else float(self.alphas_cumprod[t])

    def alpha_bar(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """alpha_bar for a batch of timesteps (-1: no noise, 1.0), in float64, shaped to
        broadcast over `like`."""
        value = self._with_clean[t.cpu() + 1]
        return value.reshape(-1, *([1] * (like.dim() - 1)))

    @staticmethod
    def cast(coefficient: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """A float64 coefficient cast to the data's dtype and device, as late as possible."""
        return coefficient.to(device=like.device, dtype=like.dtype)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps  (DDPM eq. 4)."""
        a = self.alpha_bar(t, x0)
        return self.cast(a.sqrt(), x0) * x0 + self.cast((1 - a).sqrt(), x0) * noise

    def velocity(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0  (Salimans & Ho 2022, section 4)."""
        a = self.alpha_bar(t, x0)
        return self.cast(a.sqrt(), x0) * noise - self.cast((1 - a).sqrt(), x0) * x0

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return noise if self.prediction == "epsilon" else self.velocity(x0, noise, t)

    def min_snr_weights(self, t: torch.Tensor, like: torch.Tensor, gamma: float) -> torch.Tensor:
        """Min-SNR-gamma loss weights (Hang et al. 2023, section 3.4), one per sample:
        the x_0-space weight min(SNR_t, gamma) divided by what the network's target
        already carries, SNR_t for eps and SNR_t + 1 for v. SNR_t = abar_t / (1 - abar_t)."""
        a = self.alpha_bar(t, like).flatten()
        snr = a / (1 - a)
        carried = snr if self.prediction == "epsilon" else snr + 1
        return self.cast(snr.clamp(max=gamma) / carried, like)

    def training_timesteps(
        self,
        n: int,
        device: torch.device,
        density: str = "uniform",
        mean: float = 0.0,
        std: float = 1.0,
    ) -> torch.Tensor:
        """n timesteps to train on. uniform: each of 0..T-1 alike (Ho et al. 2020, algorithm
        1). logit-normal: t / T = sigmoid(u), u ~ N(mean, std^2) (Esser et al. 2024,
        section 3.1), which trains the middle noise levels more and both ends less."""
        if density == "uniform":
            return torch.randint(0, self.num_train_timesteps, (n,), device=device)
        if density != "logit-normal":
            raise ValueError(f"unknown timestep density {density!r}; use uniform or logit-normal")
        u = torch.sigmoid(mean + std * torch.randn(n, device=device))
        return (u * self.num_train_timesteps).long().clamp(max=self.num_train_timesteps - 1)

    def to_x0_eps(
        self, model_output: torch.Tensor, sample: torch.Tensor, t: int, clip: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's x_0 and eps; with `clip`, x_0 is clipped to [-1, 1] and eps re-derived
        from it, so the two stay consistent (the update below uses both)."""
        a = self.abar(t)
        root_a, root_b = math.sqrt(a), math.sqrt(1 - a)
        if self.prediction == "epsilon":
            eps = model_output
            x0 = (sample - root_b * eps) / root_a
        else:  # x_0 = sqrt(abar) x_t - sqrt(1 - abar) v;  eps = sqrt(abar) v + sqrt(1 - abar) x_t
            x0 = root_a * sample - root_b * model_output
            eps = root_a * model_output + root_b * sample
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (sample - root_a * x0) / root_b
        return x0, eps
