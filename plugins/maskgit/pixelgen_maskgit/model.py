"""A bidirectional transformer that predicts the palette index of every masked pixel.

Pixels are palette indices, with one extra index meaning "masked". Each token covers a
`patch` x `patch` block of pixels: the block's pixel embeddings are concatenated and
projected, and the head predicts `patch**2` palette distributions per token. A class
token (0 = no class) is prepended so the same network serves conditional and
unconditional sampling.

`token_side` picks the patch for a sprite size (`model.patch: 0`): about 8x8 tokens
whatever the size, so attention's cost and memory per sprite stay as at 16x16.

`model.network: unet` swaps the transformer for the diffusion plugin's U-Net
(`PixelUNet`): convolutions see every pixel's neighbours, and one pixel is one
prediction, where a patch token draws its pixels independently of each other.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pixelgen_core import ConfigError, DataInfo, PixelgenWarning

TOKENS_PER_SIDE = 8


def token_side(height: int, width: int) -> int:
    """The patch for `model.patch: 0`: the largest pixel block dividing both sides that
    is no larger than the smaller side / TOKENS_PER_SIDE (16x16: 2, 32x32: 4, 8x8: 1)."""
    target = max(1, min(height, width) // TOKENS_PER_SIDE)
    return max(p for p in range(1, target + 1) if height % p == 0 and width % p == 0)


TRANSFORMER_SETTINGS = ("patch", "width", "layers", "heads", "dropout")


def build_network(model: Any, data: DataInfo) -> nn.Module:
    """The network `model.network` names, for `data`'s sprites and palette. A setting of
    the other network, changed from its default, is said to be unused, not dropped in
    silence."""
    defaults = type(model)()
    unused = TRANSFORMER_SETTINGS if model.network == "unet" else ("unet_channels",)
    changed = [k for k in unused if getattr(model, k) != getattr(defaults, k)]
    if changed:
        names = ", ".join(f"model.{k}" for k in changed)
        warnings.warn(
            f"model.network={model.network} does not use {names}", PixelgenWarning, stacklevel=2
        )
    if model.network == "unet":
        return PixelUNet(data, list(model.unet_channels))
    return MaskedPixelTransformer.from_config(model, data)


class PixelUNet(nn.Module):
    """The diffusion plugin's U-Net as a masked-pixel predictor: one-hot palette indices
    (the extra one: masked) in, palette logits out. It has no timestep input: how much
    is masked can be seen in the input, as the transformer sees it."""

    patch = 1

    def __init__(self, data: DataInfo, channels: list[int] | None = None) -> None:
        from pixelgen_diffusion.unet import UNet, level_widths

        super().__init__()
        self.colours = len(data.palette)
        self.mask_index = self.colours
        try:
            self.unet = UNet(
                data.shape,
                channels or level_widths(*data.shape),
                num_classes=data.num_classes,
                blocks_per_level=1,
                num_tags=len(data.tags),
                time_embedding=False,
                in_channels=self.colours + 1,
                out_channels=self.colours,
            )
        except ConfigError as error:  # name maskgit's settings, not diffusion's
            message = str(error).replace("model.channels", "model.unet_channels")
            raise ConfigError(message.replace("model.groups=8", "8")) from None

    def forward(self, pixels: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """As `MaskedPixelTransformer.forward`: (N, H, W) indices -> (N, colours, H, W)."""
        x = F.one_hot(pixels, self.colours + 1).permute(0, 3, 1, 2).float()
        t = torch.zeros(len(pixels), dtype=torch.long, device=pixels.device)
        return self.unet(x, t, classes)


class MaskedPixelTransformer(nn.Module):
    @classmethod
    def from_config(cls, model: Any, data: DataInfo) -> MaskedPixelTransformer:
        """The transformer a run's typed `model` section describes, for `data`'s sprites
        and palette (`model.patch` 0 fits the token size to the sprites)."""
        return cls(
            data.shape,
            len(data.palette),
            data.num_classes,
            model.patch or token_side(*data.shape),
            model.width,
            model.layers,
            model.heads,
            model.dropout,
            len(data.tags),
        )

    def __init__(
        self,
        size: tuple[int, int],
        colours: int,
        num_classes: int,
        patch: int,
        width: int,
        layers: int,
        heads: int,
        dropout: float,
        num_tags: int = 0,
    ) -> None:
        super().__init__()
        for key, value in (("width", width), ("layers", layers), ("heads", heads)):
            if value < 1:
                raise ConfigError(f"model.{key} must be at least 1, got {value}")
        height, across = size
        if patch < 1 or height % patch or across % patch:
            raise ConfigError(
                f"{across}x{height} sprites are not divisible by model.patch {patch} "
                "(0 fits it to the size)"
            )
        if width % heads:
            raise ConfigError(f"model.width {width} is not divisible by model.heads {heads}")
        self.size, self.colours, self.patch = size, colours, patch
        self.mask_index = colours  # the extra index
        self.rows, self.columns = height // patch, across // patch
        pixel_dim = max(width // (patch * patch), 8)
        self.pixel_embedding = nn.Embedding(colours + 1, pixel_dim)
        self.project = nn.Linear(pixel_dim * patch * patch, width)
        self.class_embedding = nn.Embedding(num_classes + 1, width)
        # Tags: the "no class" token plus the sum of the sprite's tag vectors.
        self.tag_embedding = nn.Linear(num_tags, width, bias=False) if num_tags else None
        self.position = nn.Parameter(torch.zeros(1 + self.rows * self.columns, width))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, patch * patch * colours)

    def forward(self, pixels: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Pixels (N, H, W) with `mask_index` where unknown, classes (N,) as class + 1 or 0,
        or tags (N, T) as 0/1 -> palette logits (N, colours, H, W)."""
        n, p, rows, columns = len(pixels), self.patch, self.rows, self.columns
        e = self.pixel_embedding(pixels)  # (N, H, W, E)
        # (N, rows, p, columns, p, E) -> (N, rows*columns, p*p*E): one token per patch.
        tokens = e.view(n, rows, p, columns, p, -1).permute(0, 1, 3, 2, 4, 5)
        tokens = tokens.reshape(n, rows * columns, -1)
        if classes.dim() == 2:  # tags
            condition = self.class_embedding.weight[0] + self.tag_embedding(classes.to(e.dtype))
        else:
            condition = self.class_embedding(classes)
        x = torch.cat([condition[:, None], self.project(tokens)], dim=1)
        h = self.norm(self.blocks(x + self.position))[:, 1:]
        logits = self.head(h).view(n, rows, columns, p, p, self.colours)
        return logits.permute(0, 5, 1, 3, 2, 4).reshape(n, self.colours, *self.size)
