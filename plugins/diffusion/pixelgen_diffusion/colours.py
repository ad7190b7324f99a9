"""Colours per sprite: decoding the palette head's logits into at most so many.

A real sprite set often has few colours a sprite (every sprite of the bundled Kenney
sheet has exactly one). A model that decodes each pixel on its own puts a second colour
into a sprite wherever a pixel is unsure, which a pixel artist sees as a stray pixel.
Decoding a sprite as a whole, with only its likeliest colours allowed, removes that
without redrawing it."""

from __future__ import annotations

import torch


def fewest_colours(logits: torch.Tensor, colours: int) -> torch.Tensor:
    """`logits` (N, P, H, W) with every opaque colour but each sprite's `colours` likeliest
    masked out: likeliest by probability summed over the sprite's pixels, so a colour
    most pixels are fairly sure of beats one a few pixels are very sure of. Clear (index
    0) stays allowed, so a pixel whose colour is dropped becomes the likeliest of the rest."""
    probabilities = logits.float().softmax(dim=1)
    mass = probabilities[:, 1:].sum(dim=(2, 3))  # (N, P - 1)
    if colours >= mass.shape[1]:
        return logits
    kept = mass.topk(colours, dim=1).indices + 1
    allowed = torch.zeros(logits.shape[:2], dtype=torch.bool, device=logits.device)
    allowed[:, 0] = True
    allowed.scatter_(1, kept, True)
    return logits.masked_fill(~allowed[:, :, None, None], float("-inf"))
