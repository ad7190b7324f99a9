"""The sprite feature network: a small CNN whose embeddings the quality metrics compare.

Generic FID needs Inception weights (which nothing here may download) and knows little
about 16x16 pixel art. This encoder was trained contrastively on the bundled Kenney
sheets (`python -m pixelgen_core.evaluation.train_encoder`); its weights ship inside
the package. See docs/evaluation.md.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import as_file, files

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS = "sprite_encoder.pt"
SIDE = 16  # sprites of other sizes are resized to this before embedding


class SpriteEncoder(nn.Module):
    """RGBA 16x16 -> a 128-d feature (used by the metrics) -> a 64-d projection (training only)."""

    def __init__(self, width: int = 32, features: int = 128, projection: int = 64) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.GroupNorm(8, c_out), nn.SiLU()]

        self.body = nn.Sequential(
            *block(4, width, 1),
            *block(width, width, 1),
            *block(width, 2 * width, 2),  # 8x8
            *block(2 * width, 2 * width, 1),
            *block(2 * width, 4 * width, 2),  # 4x4
            nn.Flatten(),
            nn.Linear(4 * width * 16, features),
        )
        self.head = nn.Sequential(nn.SiLU(), nn.Linear(features, projection))
        # Per-dimension statistics of the bundled sprites' features: embeddings are
        # standardised with them, so distances and KID's kernel see unit-scale features.
        self.register_buffer("feature_mean", torch.zeros(features))
        self.register_buffer("feature_std", torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw features (training uses these through `head`)."""
        return self.body(x)

    def standardised(self, x: torch.Tensor) -> torch.Tensor:
        return (self.body(x) - self.feature_mean) / self.feature_std


def to_input(sprites: np.ndarray) -> torch.Tensor:
    """RGBA uint8 (N, H, W, 4) -> float (N, 4, 16, 16) in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(sprites)).permute(0, 3, 1, 2).float() / 255
    if x.shape[-1] != SIDE or x.shape[-2] != SIDE:
        x = F.interpolate(x, size=(SIDE, SIDE), mode="nearest")
    return x


@cache
def load_encoder() -> SpriteEncoder:
    model = SpriteEncoder()
    with as_file(files("pixelgen_core.evaluation").joinpath(WEIGHTS)) as path:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def embed(sprites: np.ndarray, encoder: SpriteEncoder | None = None) -> np.ndarray:
    """Standardised features (N, 128) of RGBA uint8 sprites, in float64 for the statistics."""
    encoder = encoder or load_encoder()
    out = []
    with torch.inference_mode():
        for start in range(0, len(sprites), 512):
            batch = to_input(sprites[start : start + 512])
            out.append(encoder.standardised(batch).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 128))
