"""The VQ-VAE: a convolutional encoder to a grid of code vectors, a quantiser, a decoder."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from pixelgen_core import ConfigError, DataInfo
from pixelgen_vqvae.quantiser import Quantised, VectorQuantiser


def _groups(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(_groups(channels), channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(_groups(channels), channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


WIDTHS = (64, 128, 128)


def level_widths(height: int, width: int) -> list[int]:
    """Encoder widths for a sprite size (`model.channels: []`), one level per halving:
    each code covers 2x2 pixels below 16 a side, 4x4 up to 47 and 8x8 from 48 (where
    the sides allow), so the prior's sequence stays at most 12x12 codes up to 48x48
    and 16x16 at 64x64 (16x16 sprites: 4x4 codes, as before)."""
    side = min(height, width)
    levels = 1 if side < 16 else 2 if side < 48 else 3
    while levels > 1 and (height % 2**levels or width % 2**levels):
        levels -= 1
    return list(WIDTHS[:levels])


class VQVAE(nn.Module):
    """RGBA (N, 4, H, W) -> codes (N, H/2^L, W/2^L) -> logits (N, out_channels, H, W):
    RGBA logits, or one logit per palette entry."""

    @classmethod
    def from_config(cls, model: Any, data: DataInfo) -> VQVAE:
        """The autoencoder a run's typed `model` section describes, for `data`'s sprites
        (an empty `model.channels` fits the widths to the size)."""
        return cls(
            data.shape,
            list(model.channels) or level_widths(*data.shape),
            model.codebook_size,
            model.code_dim,
            model.ema,
            model.ema_decay,
            model.restart_threshold,
            len(data.palette) if model.loss == "palette" else 4,
        )

    def __init__(
        self,
        size: tuple[int, int],
        channels: list[int],
        codebook_size: int,
        code_dim: int,
        ema: bool,
        ema_decay: float,
        restart_threshold: float,
        out_channels: int = 4,
    ) -> None:
        super().__init__()
        levels = len(channels)
        for key, value in (("codebook_size", codebook_size), ("code_dim", code_dim)):
            if value < 1:
                raise ConfigError(f"model.{key} must be at least 1, got {value}")
        if levels < 1:
            raise ConfigError("model.channels needs at least one width")
        height, width = size
        if height % (2**levels) or width % (2**levels):
            raise ConfigError(
                f"{width}x{height} sprites are not divisible by 2^{levels} (model.channels; "
                "leave it empty to fit the size)"
            )
        self.grid = (height // 2**levels, width // 2**levels)
        enc: list[nn.Module] = [nn.Conv2d(4, channels[0], 3, padding=1)]
        c_in = channels[0]
        for c in channels:
            enc += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), Residual(c)]
            c_in = c
        enc += [nn.GroupNorm(_groups(c_in), c_in), nn.SiLU(), nn.Conv2d(c_in, code_dim, 1)]
        self.encoder = nn.Sequential(*enc)
        self.quantiser = VectorQuantiser(codebook_size, code_dim, ema, ema_decay, restart_threshold)
        dec: list[nn.Module] = [nn.Conv2d(code_dim, c_in, 3, padding=1), Residual(c_in)]
        for c in reversed(channels):
            dec += [
                nn.GroupNorm(_groups(c_in), c_in),
                nn.SiLU(),
                nn.ConvTranspose2d(c_in, c, 4, stride=2, padding=1),
                Residual(c),
            ]
            c_in = c
        dec += [
            nn.GroupNorm(_groups(c_in), c_in),
            nn.SiLU(),
            nn.Conv2d(c_in, out_channels, 3, padding=1),
        ]
        self.decoder = nn.Sequential(*dec)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, Quantised]:
        """Logits of the reconstruction, and the quantiser's output and losses."""
        quantised = self.quantiser(self.encoder(images))
        return self.decoder(quantised.z_q), quantised

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images -> code indices (N, *grid)."""
        return self.quantiser.encode(self.encoder(images))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Code indices (N, *grid) -> logits."""
        return self.decoder(self.quantiser.lookup(codes))
