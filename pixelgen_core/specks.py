"""Mend a sprite's isolated pixels: recolour each to the colour most of its 4-neighbours
have, as a pixel artist cleans a speck by hand.

Why: a model asked for a sprite without one-pixel detail (a detail level, for example)
still leaves a speck or two in about half its tries, and drawing those sprites again
costs a model call a round. Most specks are a dot beside the shape or a second colour on
its edge; the dot goes (its neighbours are clear), the edge pixel takes the shape's
colour. Only for sprites that should have no isolated pixel: real sprites with
deliberate one-pixel detail (diagonal strokes, dithering) keep theirs, so mending every
sprite would make too many of them solid (benchmarks/RESULTS.md, 2026-12-04)."""

from __future__ import annotations

import numpy as np

from pixelgen_core.evaluation.metrics import floating_mask, isolated_mask


def mend(indices: np.ndarray) -> np.ndarray:
    """(N, H, W) palette indices (0 clear) -> the same with no isolated pixel: each
    opaque pixel with no 4-neighbour of its colour takes its 4-neighbours' most common
    value (clear beyond the border), an opaque one on a tie.

    Taking a neighbour's colour ends a pixel's isolation and never starts another's (the
    pixel had no neighbour of its old colour to leave alone). So the pixels are mended
    in two halves of a checkerboard: within one half no two touch, and what each takes
    from its neighbours stays put while it does, which a single pass over specks side by
    side would not ensure."""
    out = np.array(indices, copy=True)
    height, width = out.shape[-2:]
    parity = np.add.outer(np.arange(height), np.arange(width)) % 2
    for half in (0, 1):
        lonely = isolated_mask(out) & (parity == half)
        if not lonely.any():
            continue
        padded = np.pad(out, ((0, 0), (1, 1), (1, 1)))
        around = np.stack(
            [padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]],
            axis=-1,
        )
        # each neighbour's vote: how many of the four share its value, doubled, plus
        # one if it is opaque, so that an opaque colour wins a tie with clear
        votes = (around[..., :, None] == around[..., None, :]).sum(-1) * 2 + (around > 0)
        chosen = np.take_along_axis(around, votes.argmax(-1)[..., None], axis=-1)[..., 0]
        out = np.where(lonely, chosen, out)
    return out


def erase_floating(indices: np.ndarray, tileable: bool = False) -> np.ndarray:
    """(N, H, W) palette indices -> the same with each floating speck (`floating_mask`: a
    group of one or two pixels touching nothing else) made clear, as a pixel artist
    erases a dot beside the shape. Only for sprites whose real examples have none.
    `tileable` sprites are judged as tiled: a pixel on one edge touching a shape that
    goes on from the opposite edge is no speck. A sprite made of specks alone keeps
    them: an empty frame in a sheet is worse than a dot."""
    if tileable:
        height, width = indices.shape[-2:]
        around = floating_mask(np.tile(indices, (1, 3, 3)))  # the sprite amid its copies
        specks = around[:, height : 2 * height, width : 2 * width]
    else:
        specks = floating_mask(indices)
    erased = np.where(specks, 0, indices)
    emptied = ~(erased > 0).reshape(len(erased), -1).any(axis=1)
    erased[emptied] = indices[emptied]
    return erased
