"""Augmentations on palette-index sprites, drawn from a caller's torch.Generator."""

from __future__ import annotations

import torch


def hflip(indices: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each sprite (N, H, W) left-right with probability p."""
    flip = torch.rand(len(indices), generator=generator) < p
    out = indices.clone()
    out[flip] = out[flip].flip(-1)
    return out


def palette_swap(
    indices: torch.Tensor, num_colors: int, generator: torch.Generator, p: float
) -> torch.Tensor:
    """With probability p, permute a sprite's opaque colours (index 0 stays transparent)."""
    if p <= 0 or num_colors < 2:
        return indices
    out = indices.clone()
    swap = (torch.rand(len(indices), generator=generator) < p).nonzero().flatten()
    for i in swap.tolist():
        table = torch.cat(
            [torch.zeros(1, dtype=torch.long), 1 + torch.randperm(num_colors, generator=generator)]
        )
        out[i] = table[indices[i]]
    return out
