"""A small convolutional VAE for RGBA sprites."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pixelgen_core import ConfigError, DataInfo

WIDTHS = (64, 128, 128, 128)


def level_widths(height: int, width: int) -> list[int]:
    """Conv widths for a sprite size (`model.channels: []`): halve until the smaller
    side is at most 4 (16x16: two levels to 4x4, as before; 32x32: three; 8x8: one), so
    the flattened map the latent is read from stays about 4x4 whatever the size."""
    levels = 1
    while min(height, width) // 2**levels > 4 and levels < len(WIDTHS):
        if height % 2 ** (levels + 1) or width % 2 ** (levels + 1):
            break
        levels += 1
    return list(WIDTHS[:levels])


class ConvVAE(nn.Module):
    """Encoder: strided convs to (C, H/2^L, W/2^L), then mean and log-variance of q(z|x).

    Decoder: the mirror image, ending in RGBA logits (sigmoid gives colours in [0, 1]).
    """

    @classmethod
    def from_config(cls, model: Any, data: DataInfo) -> ConvVAE:
        """The VAE a run's typed `model` section describes, for `data`'s sprites (an
        empty `model.channels` fits the widths to the size)."""
        return cls(data.shape, model.latent_dim, list(model.channels) or level_widths(*data.shape))

    def __init__(self, size: tuple[int, int], latent_dim: int, channels: list[int]) -> None:
        super().__init__()
        levels = len(channels)
        height, width = size
        if not channels or height % (2**levels) or width % (2**levels):
            raise ConfigError(
                f"{width}x{height} sprites are not divisible by 2^{levels} (model.channels; "
                "leave it empty to fit the size)"
            )
        self.side = (height // 2**levels, width // 2**levels)
        self.channels = list(channels)
        enc, c_in = [], 4
        for c in channels:
            enc += [
                nn.Conv2d(c_in, c, 4, stride=2, padding=1),
                nn.GroupNorm(8 if c % 8 == 0 else 1, c),
                nn.SiLU(),
            ]
            c_in = c
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        flat = c_in * self.side[0] * self.side[1]
        self.to_stats = nn.Linear(flat, 2 * latent_dim)
        self.from_latent = nn.Linear(latent_dim, flat)
        dec = []
        for c in reversed(channels[:-1]):
            dec += [
                nn.ConvTranspose2d(c_in, c, 4, stride=2, padding=1),
                nn.GroupNorm(8 if c % 8 == 0 else 1, c),
                nn.SiLU(),
            ]
            c_in = c
        dec += [
            nn.ConvTranspose2d(c_in, c_in, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(c_in, 4, 3, padding=1),
        ]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-10, 10)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> RGBA logits."""
        h = self.from_latent(z).view(len(z), self.channels[-1], *self.side)
        return self.decoder(h)

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Reparameterisation trick: z = mean + sigma * noise keeps the sample differentiable."""
        mean, logvar = self.encode(x)
        z = mean + torch.exp(0.5 * logvar) * noise
        return self.decode(z), mean, logvar
