"""MaskGIT's masking schedule and iterative decoding (Chang et al. 2022, "MaskGIT").

Training masks a share gamma(r) = cos(pi/2 * r), r ~ U(0, 1), of the pixels and asks
for them back. Decoding starts fully masked; at step t of T it samples every masked
pixel, keeps the most confident ones and re-masks the ceil(gamma(t/T) * L) least
confident, so after T steps every pixel is fixed. Gumbel noise on the confidences,
annealed to 0, keeps the choice of which pixels to keep from being greedy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def mask_ratio(r: torch.Tensor) -> torch.Tensor:
    """gamma(r) = cos(pi/2 * r): 1 at r = 0 (all masked), 0 at r = 1."""
    return torch.cos(0.5 * math.pi * r)


def random_mask(shape: tuple[int, ...], generator: torch.Generator | None, device) -> torch.Tensor:
    """Boolean mask (N, H, W) hiding ceil(gamma(r) * H * W) random pixels, r ~ U(0, 1)."""
    n, pixels = shape[0], math.prod(shape[1:])
    r = torch.rand(n, generator=generator, device=device)
    count = torch.ceil(mask_ratio(r) * pixels).clamp(min=1)
    order = torch.rand(n, pixels, generator=generator, device=device).argsort(1).argsort(1)
    return (order < count[:, None]).view(shape)


def masked_counts(steps: int, pixels: int) -> list[int]:
    """How many pixels stay masked after each of `steps` steps (the last is 0)."""
    # In float64 and clamped: cos(pi/2) in float32 is slightly negative.
    counts = [math.floor(math.cos(0.5 * math.pi * t / steps) * pixels) for t in range(1, steps + 1)]
    return [max(0, c) for c in counts]


def decode(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    size: tuple[int, int],
    mask_index: int,
    steps: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    choice_temperature: float = 2.0,
    device: torch.device | str = "cpu",
    start: torch.Tensor | None = None,
    tileable: bool = False,
) -> torch.Tensor:
    """Palette indices (n, H, W) by MaskGIT decoding, `size` = (H, W); `logits_fn(pixels)`
    returns (n, colours, H, W) logits for the current partly masked pixels.

    `start` (n, H, W): pixels to begin from, `mask_index` where to draw; the others
    are never changed (inpainting). By default every pixel is drawn. With `tileable`, the
    model sees the canvas rolled by a random offset at each step, so the wrap-around
    edges are drawn as neighbours, like the middle: the sprite tiles without a seam."""
    height, width = size
    pixels_total = height * width
    if start is None:
        pixels = torch.full((n, pixels_total), mask_index, dtype=torch.long, device=device)
    else:
        pixels = start.reshape(n, pixels_total).clone()
    to_draw = (pixels == mask_index).sum(1).double()  # per sprite
    for t in range(1, steps + 1):
        masked = pixels == mask_index
        if not masked.any():
            break
        canvas = pixels.view(n, height, width)
        shift = (0, 0)
        if tileable:
            shift = random_shift(height, width, generator)
            canvas = torch.roll(canvas, shift, dims=(1, 2))
        logits = logits_fn(canvas)
        if tileable:
            logits = torch.roll(logits, (-shift[0], -shift[1]), dims=(2, 3))
        logits = logits.flatten(2).transpose(1, 2)  # (n, L, C)
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        drawn = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
        drawn = drawn.view(n, pixels_total)
        confidence = torch.gather(probs, -1, drawn[..., None]).squeeze(-1).log()
        # Gumbel noise, annealed: explore early, commit late (MaskGIT's choice temperature).
        u = torch.rand(n, pixels_total, generator=generator, device=device).clamp(1e-20, 1)
        confidence = confidence + choice_temperature * (1 - t / steps) * -torch.log(-torch.log(u))
        confidence = torch.where(masked, confidence, torch.full_like(confidence, math.inf))
        candidate = torch.where(masked, drawn, pixels)
        if t == steps:
            pixels = candidate
            break
        # Re-mask the least confident of the pixels drawn this step: as many as the
        # schedule leaves masked, floor(gamma(t / T) * pixels to draw), per sprite.
        still_masked = torch.floor(math.cos(0.5 * math.pi * t / steps) * to_draw).clamp(min=0)
        rank = confidence.argsort(dim=1).argsort(dim=1)
        remask = rank < still_masked.to(device)[:, None]
        pixels = torch.where(remask, torch.full_like(candidate, mask_index), candidate)
    return pixels.view(n, height, width)


def random_shift(height: int, width: int, generator: torch.Generator) -> tuple[int, int]:
    """A random (rows, columns) roll of a height x width canvas."""
    if height == width:  # one draw of two, as before rectangular sprites
        return tuple(torch.randint(0, height, (2,), generator=generator).tolist())
    rows = int(torch.randint(0, height, (1,), generator=generator))
    return rows, int(torch.randint(0, width, (1,), generator=generator))
