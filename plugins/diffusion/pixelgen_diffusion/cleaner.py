"""The outline cleaner: a small convolutional network over palette indices that redraws
each pixel of a finished sprite as the run's own sprites would have it, trained as the
run's first stage (it needs the data alone) on those sprites with jittered outlines.

Why: a diffusion model's sprites are close to real ones by FD, but their outlines are
ragged: a pixel bumps out of a straight edge, a dent cuts into it (`notches` in
`pixelgen evaluate`), half as many again as real sprites have, many more on the worst.
Hand rules that smooth them (recolour every notch, or only those off a thick edge) cut
detail and line ends with them and failed the verdict's other statistics; a network
shown real sprites beside copies with a few edge pixels recoloured learns which pixels a
sprite of this kind has on purpose (a line's end, an eye) and which it does not
(benchmarks/RESULTS.md, "The outline cleaner", 2026-12-07, late). It works on palette
indices, so each pixel it gives is one palette colour by construction, and it is small:
a fraction of a second for a sheet, a minute or two of training on a 2-core CPU.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

KEEP = 4.0  # added to the logit of each pixel's own colour: the net starts as "keep all"


class OutlineCleaner(nn.Module):
    """Palette indices (N, H, W) -> logits (N, colours, H, W) of each pixel's colour.

    `depth` 3x3 convolutions of `width` channels see a (2 * depth + 1)-pixel square
    around each pixel: enough for an edge's run on either side of a bump. Padded
    circularly for tileable sprites (whose edges meet their opposite edges), else with
    zeros, as in training."""

    def __init__(self, colours: int, width: int, depth: int) -> None:
        super().__init__()
        self.colours = colours
        sizes = [colours] + [width] * depth
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3) for a, b in itertools.pairwise(sizes))
        self.out = nn.Conv2d(width, colours, 1)

    def forward(self, indices: torch.Tensor, tileable: bool = False) -> torch.Tensor:
        own = F.one_hot(indices.long(), self.colours).permute(0, 3, 1, 2).float()
        x = own
        mode = "circular" if tileable else "constant"
        for i, conv in enumerate(self.convs):
            x = conv(F.pad(x if i == 0 else F.gelu(x), (1, 1, 1, 1), mode=mode))
        return self.out(F.gelu(x)).float() + KEEP * own


def jitter(indices: torch.Tensor, rate: float) -> torch.Tensor:
    """Each sprite with a share of its edge pixels (those with a 4-neighbour of another
    colour) recoloured to a random neighbour's colour: bumps, dents and frayed lines like
    a model's, at a rate drawn per sprite from [0, 2 * rate] so the cleaner also sees
    sprites with none to mend (and learns to leave them)."""
    n = len(indices)
    padded = F.pad(indices, (1, 1, 1, 1), value=-1)
    around = torch.stack(
        [padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]],
        dim=-1,
    )
    pick = torch.randint(0, 4, (*indices.shape, 1), device=indices.device)
    other = torch.gather(around, -1, pick)[..., 0]
    rates = torch.rand(n, 1, 1, device=indices.device) * 2 * rate
    flipped = (
        (other != indices)
        & (other >= 0)
        & (torch.rand(indices.shape, device=indices.device) < rates)
    )
    return torch.where(flipped, other, indices)


def cleaner_loss(cleaner: nn.Module, indices: torch.Tensor, rate: float) -> torch.Tensor:
    """Cross-entropy of the cleaner's colours for jittered sprites against the sprites as
    drawn; half of them mirrored, since what makes an edge clean does not depend on which
    way it faces (the run's own flips may be off, for its letters' sake)."""
    indices = indices.long()
    mirrored = torch.rand(len(indices), device=indices.device) < 0.5
    indices = torch.where(mirrored[:, None, None], indices.flip(-1), indices)
    return F.cross_entropy(cleaner(jitter(indices, rate)), indices)


def clean(
    cleaner: nn.Module, indices: torch.Tensor, rounds: int, tileable: bool = False
) -> torch.Tensor:
    """Palette indices (N, H, W) after `rounds` passes of the cleaner, each taking every
    pixel's likeliest colour: a second pass mends what the first left ragged."""
    for _ in range(rounds):
        indices = cleaner(indices, tileable).argmax(dim=1)
    return indices
