"""A small U-Net for RGBA sprites: timestep and class conditioning, GroupNorm residual
blocks, optional self-attention at the lowest resolution (as in Ho et al. 2020, appendix B).

Each level has `blocks_per_level` residual blocks down and up, with one skip connection per
level; the level's width doubles as the resolution halves. How many levels a sprite size
gets is `level_widths`: enough that the lowest resolution is at most 6 pixels a side."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pixelgen_core import ConfigError, DataInfo
from pixelgen_diffusion.detail import LEVELS, uses_detail

WIDTHS = (32, 64, 128, 128, 128, 128)  # level widths: doubling, then capped
LOWEST_SIDE = 6
HEAD_COLOURS = 8  # `model.palette_head: null`: a palette head above this many colours


def uses_palette_head(model: Any, data: DataInfo) -> bool:
    """`model.palette_head` (on by default since 2026-12-05: with it the full default's
    default path is pixel-clean, without it 3% of raw pixels were off the palette), or
    for null, the earlier rule: whether the palette has more than HEAD_COLOURS
    opaque colours. With many colours some lie close together (greys, skin tones), and
    an RGBA output between two of them snaps to one or the other pixel by pixel: speckle
    that a head, which picks one colour per pixel, does not draw (32x32 `kenney-arcade`,
    16 colours: the isolated-pixel distance fell four to nine times). On the 7 colours of
    `kenney-colored` the head drew no fewer stray pixels (benchmarks/RESULTS.md,
    2026-12-04)."""
    if model.palette_head is not None:
        return bool(model.palette_head)
    return len(data.palette) - 1 > HEAD_COLOURS


def level_widths(height: int, width: int) -> list[int]:
    """The U-Net's widths for a sprite size (`model.channels: []`): add levels, each
    halving the resolution, until the smaller side is at most LOWEST_SIDE (16x16: 16, 8,
    4, widths 32, 64, 128; 32x32: four levels down to 4x4; 8x8: two). Attention then
    always works on at most about 6x6 positions, and the extra levels at low resolution
    cost little, so an epoch's cost grows with the pixels, not faster."""
    levels, side = 1, min(height, width)
    factor = 1
    while side // factor > LOWEST_SIDE and levels < len(WIDTHS):
        if height % (2 * factor) or width % (2 * factor):
            break
        factor *= 2
        levels += 1
    return list(WIDTHS[:levels])


def check_shape(size: tuple[int, int], channels: list[int], groups: int) -> None:
    """Reject configurations that cannot work, with a message naming the setting."""
    if not channels:
        raise ConfigError("model.channels needs at least one level")
    factor = 2 ** (len(channels) - 1)
    height, width = size
    if height % factor or width % factor:
        raise ConfigError(
            f"{width}x{height} sprites are not divisible by {factor} = 2^(levels - 1); "
            f"model.channels has {len(channels)} levels (leave it empty to fit the size)"
        )
    for c in channels:
        if c % groups:
            raise ConfigError(f"model.channels entry {c} is not divisible by model.groups={groups}")


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al. 2017, section 3.5)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class GroupNorm(nn.GroupNorm):
    """GroupNorm on a contiguous input. Where oneDNN runs bfloat16 convolutions (CPUs with
    AMX or AVX-512 BF16) they return channels-last tensors, and torch's GroupNorm on those
    is about 10x slower than on the same values laid out contiguously (1.45 ms against
    0.16 ms for 32x32x16x16): it was half of the sampling time. Same parameters, same keys."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.contiguous())


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = GroupNorm(groups, c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    def __init__(self, channels: int, groups: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm(groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class TagCrossAttention(nn.Module):
    """Each position attends to the vectors of its sprite's tags, plus a learned "none"
    vector that is always there (so a sprite without tags attends to it alone)."""

    def __init__(self, channels: int, groups: int, num_tags: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.norm = GroupNorm(groups, channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.tokens = nn.Parameter(torch.randn(num_tags + 1, channels) * 0.02)  # last: none
        self.kv = nn.Linear(channels, 2 * channels)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        d = c // self.heads
        q = self.q(self.norm(x)).reshape(n, self.heads, d, h * w).transpose(-1, -2)
        k, v = self.kv(self.tokens.to(x.dtype)).reshape(-1, 2, self.heads, d).unbind(1)
        k, v = (t.permute(1, 0, 2).unsqueeze(0).expand(n, -1, -1, -1) for t in (k, v))
        present = torch.cat([tags > 0, tags.new_ones(n, 1, dtype=torch.bool)], dim=1)
        mask = present[:, None, None, :]  # (n, 1, 1, T + 1): attend to present tags only
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class UNet(nn.Module):
    """eps- or v-prediction network: (x_t, t, condition) -> a tensor shaped like x_t,
    followed by `palette_size` channels of per-pixel logits over the palette when it has
    them.

    The condition is a class index per sprite, (N,) long, where index `num_classes` is
    the "null" class used for classifier-free guidance; or, with `num_tags`, a bag of
    tags, (N, T) 0/1 floats, whose learned embeddings are summed into the time embedding
    (`tag_conditioning="bag"`) or attended to at the lowest resolution ("cross"); no tag
    at all is the unconditional model. With `levels` (detail levels) a tag run's rows carry
    the sprite's level after the tags, as a number, which picks one of `levels` vectors.
    The palette head reads the same last features as the RGBA output: trained with
    cross-entropy against each pixel's palette index, it lets a sampler end on the most
    likely palette colour of each pixel instead of the mean of the colours it could be.
    """

    @classmethod
    def from_config(cls, model: Any, data: DataInfo) -> UNet:
        """The U-Net a run's typed `model` section describes, for `data`'s sprites (an
        empty `model.channels` fits the widths to the size)."""
        return cls(
            data.shape,
            list(model.channels) or level_widths(*data.shape),
            model.blocks_per_level,
            model.attention,
            data.num_classes,
            model.groups,
            model.dropout,
            palette_size=len(data.palette) if uses_palette_head(model, data) else 0,
            num_tags=len(data.tags),
            tag_conditioning=model.tag_conditioning,
            skips=model.skips,
            time_embedding=model.time_embedding,
            levels=LEVELS if uses_detail(model, data) else 1,
        )

    def __init__(
        self,
        size: tuple[int, int] = (16, 16),
        channels: list[int] = (64, 128, 256),
        blocks_per_level: int = 2,
        attention: bool = True,
        num_classes: int = 0,
        groups: int = 8,
        dropout: float = 0.0,
        palette_size: int = 0,
        num_tags: int = 0,
        tag_conditioning: str = "bag",
        skips: bool = True,
        time_embedding: bool = True,
        in_channels: int = 4,
        out_channels: int = 4,
        levels: int = 1,
    ) -> None:
        """`in_channels` and `out_channels` are RGBA's 4 for diffusion; other strategies
        reuse the network with their own (maskgit: one-hot palette indices in, logits out).
        `levels`: detail levels paired with each class, the null class included."""
        super().__init__()
        # Both switches exist to measure what each part buys (docs/learn/networks.md).
        # Without skips the up path gets zeros in their place, so the parameters match.
        self.skips, self.time_embedding = skips, time_embedding
        channels = list(channels)
        check_shape(size, channels, groups)
        self.base = channels[0]
        emb_dim = 4 * self.base
        self.num_classes, self.num_tags = num_classes, num_tags
        self.time_mlp = nn.Sequential(
            nn.Linear(self.base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        # one vector per condition: class * levels + detail level, the class num_classes
        # being the null class (pixelgen_diffusion.detail); a tag run's level picks among
        # the null class's
        self.class_emb = nn.Embedding((num_classes + 1) * levels, emb_dim)
        # A bag of tags: the sum of each present tag's vector (a linear map of the 0/1 row).
        bag = num_tags and tag_conditioning == "bag"
        self.tag_emb = nn.Linear(num_tags, emb_dim, bias=False) if bag else None
        self.conv_in = nn.Conv2d(in_channels, self.base, 3, padding=1)

        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = self.base
        for level, c in enumerate(channels):
            self.down.append(
                nn.ModuleList(
                    ResBlock(c_prev if b == 0 else c, c, emb_dim, groups, dropout)
                    for b in range(blocks_per_level)
                )
            )
            c_prev = c
            last = level == len(channels) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, 2, 1))
        deepest = channels[-1]
        self.mid_attn = SelfAttention(deepest, groups) if attention else nn.Identity()
        cross = num_tags and tag_conditioning == "cross"
        self.tag_attn = TagCrossAttention(deepest, groups, num_tags) if cross else None

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(channels))):
            c = channels[level]
            # One skip per level: the first block takes [h, skip], the rest refine.
            self.up.append(
                nn.ModuleList(
                    ResBlock(2 * c if b == 0 else c, c, emb_dim, groups, dropout)
                    for b in range(blocks_per_level)
                )
            )
            below = channels[level - 1] if level > 0 else None
            self.upsample.append(nn.Conv2d(c, below, 3, padding=1) if below else nn.Identity())
        self.norm_out = GroupNorm(groups, self.base)
        self.conv_out = nn.Conv2d(self.base, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        self.palette_out = nn.Conv2d(self.base, palette_size, 1) if palette_size else None

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.base))
        if not self.time_embedding:  # the network must tell the noise level from x_t
            emb = torch.zeros_like(emb)
        if labels.dim() == 2:
            labels, level = labels[:, : self.num_tags], labels[:, self.num_tags :]
            if level.shape[1]:  # the detail level after the tags
                emb = emb + self.class_emb(level[:, 0].long())
            if self.tag_emb is not None:
                emb = emb + self.tag_emb(labels.to(emb.dtype))
        else:
            emb = emb + self.class_emb(labels)
        h = self.conv_in(x)
        saved = []
        for blocks, down in zip(self.down, self.downsample, strict=True):
            for block in blocks:
                h = block(h, emb)
            saved.append(h)
            h = down(h)
        h = self.mid_attn(h)
        if self.tag_attn is not None:
            h = self.tag_attn(h, labels)
        for blocks, up in zip(self.up, self.upsample, strict=True):
            skip = saved.pop()
            h = torch.cat([h, skip if self.skips else torch.zeros_like(skip)], dim=1)
            for block in blocks:
                h = block(h, emb)
            if not isinstance(up, nn.Identity):
                h = up(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = F.silu(self.norm_out(h))
        if self.palette_out is None:
            return self.conv_out(h)
        return torch.cat([self.conv_out(h), self.palette_out(h)], dim=1)
