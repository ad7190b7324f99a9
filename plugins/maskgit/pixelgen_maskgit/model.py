"""A bidirectional transformer that predicts the palette index of every masked pixel.

Pixels are palette indices, with one extra index meaning "masked". Each token covers a
`patch` x `patch` block of pixels: the block's pixel embeddings are concatenated and
projected, and the head predicts `patch**2` palette distributions per token. A class
token (0 = no class) is prepended so the same network serves conditional and
unconditional sampling.
"""

from __future__ import annotations

import torch
from torch import nn

from pixelgen_core import ConfigError


class MaskedPixelTransformer(nn.Module):
    def __init__(
        self,
        image_size: int,
        colours: int,
        num_classes: int,
        patch: int,
        width: int,
        layers: int,
        heads: int,
        dropout: float,
    ) -> None:
        super().__init__()
        for key, value in (("width", width), ("layers", layers), ("heads", heads)):
            if value < 1:
                raise ConfigError(f"model.{key} must be at least 1, got {value}")
        if patch < 1 or image_size % patch:
            raise ConfigError(f"image side {image_size} is not divisible by model.patch {patch}")
        if width % heads:
            raise ConfigError(f"model.width {width} is not divisible by model.heads {heads}")
        self.size, self.colours, self.patch = image_size, colours, patch
        self.mask_index = colours  # the extra index
        self.side = image_size // patch
        pixel_dim = max(width // (patch * patch), 8)
        self.pixel_embedding = nn.Embedding(colours + 1, pixel_dim)
        self.project = nn.Linear(pixel_dim * patch * patch, width)
        self.class_embedding = nn.Embedding(num_classes + 1, width)
        self.position = nn.Parameter(torch.zeros(1 + self.side * self.side, width))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, patch * patch * colours)

    def forward(self, pixels: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Pixels (N, S, S) with `mask_index` where unknown, classes (N,) as class + 1 or 0
        -> palette logits (N, colours, S, S)."""
        n, p, side = len(pixels), self.patch, self.side
        e = self.pixel_embedding(pixels)  # (N, S, S, E)
        # (N, side, p, side, p, E) -> (N, side*side, p*p*E): one token per patch.
        tokens = e.view(n, side, p, side, p, -1).permute(0, 1, 3, 2, 4, 5).reshape(n, side**2, -1)
        x = torch.cat([self.class_embedding(classes)[:, None], self.project(tokens)], dim=1)
        h = self.norm(self.blocks(x + self.position))[:, 1:]
        logits = self.head(h).view(n, side, side, p, p, self.colours)
        return logits.permute(0, 5, 1, 3, 2, 4).reshape(n, self.colours, self.size, self.size)
