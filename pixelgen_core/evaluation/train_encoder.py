"""Retrain the sprite feature network, reproducibly (seeded, CPU, a few minutes).

    python -m pixelgen_core.evaluation.train_encoder [--epochs 150] [--out PATH]

Objective: SimCLR-style contrastive learning (NT-Xent). Two augmented views of each
sprite must find each other among the batch, and among random palette-noise images
added as extra negatives (so "not a sprite at all" gets a place of its own).
The augmentations say what "the same sprite" means for pixel art: a mirror image,
a shift of one or two pixels, a few recoloured pixels, or a recolouring of the
whole sprite are the same sprite; a different silhouette is not. So the features
capture shape and structure, and stay sensitive to noise, blur and broken
outlines, which are what a generator gets wrong. Data: both bundled sheets.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pixelgen_core.data.datasets import load_dataset
from pixelgen_core.evaluation.encoder import WEIGHTS, SpriteEncoder
from pixelgen_core.palette import extract


def sprites_as_indices() -> tuple[torch.Tensor, torch.Tensor]:
    """Both sheets as palette indices over one shared palette, and that palette (RGBA)."""
    sheets = [load_dataset(name).sprites for name in ("kenney-colored", "kenney-mono")]
    sprites = np.concatenate(sheets)
    palette = extract(sprites, max_colors=16)
    indices = torch.from_numpy(palette.snap(sprites))
    table = torch.from_numpy(palette.rgba.astype(np.float32) / 255)
    return indices, table


def augment(indices: torch.Tensor, table: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A random view of each sprite, as float RGBA (N, 4, H, W)."""
    n, h, w = indices.shape
    x = indices.clone()
    flip = torch.rand(n, generator=g) < 0.5
    x[flip] = x[flip].flip(-1)
    shifts = torch.randint(-2, 3, (n, 2), generator=g)
    for i in range(n):
        dy, dx = shifts[i].tolist()
        x[i] = torch.roll(x[i], (dy, dx), (0, 1))  # sprites have transparent borders
    recolour = torch.rand(n, generator=g) < 0.3
    k = len(table)
    for i in recolour.nonzero().flatten().tolist():
        mapping = torch.cat(
            [torch.zeros(1, dtype=torch.long), torch.randint(1, k, (k - 1,), generator=g)]
        )
        x[i] = mapping[x[i]]
    noise = torch.rand(n, h, w, generator=g) < 0.03
    x[noise] = torch.randint(0, k, (int(noise.sum()),), generator=g)
    return table[x].permute(0, 3, 1, 2).contiguous()


def noise_sprites(n: int, shape: tuple[int, int], table: torch.Tensor, g: torch.Generator):
    """Random palette noise at a random density per sprite: things that are not sprites."""
    density = torch.rand(n, 1, 1, generator=g)
    opaque = torch.rand(n, *shape, generator=g) < density
    colours = torch.randint(1, len(table), (n, *shape), generator=g)
    return table[torch.where(opaque, colours, 0)].permute(0, 3, 1, 2).contiguous()


def nt_xent(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float, negatives: torch.Tensor | None = None
) -> torch.Tensor:
    """Each view must pick its partner among all other views (and the extra negatives)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    columns = z if negatives is None else torch.cat([z, F.normalize(negatives, dim=1)])
    sim = z @ columns.T / temperature
    n = len(z1)
    sim[:, : 2 * n].fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, targets)


def train(epochs: int, batch_size: int = 256, seed: int = 0, lr: float = 2e-3) -> SpriteEncoder:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    indices, table = sprites_as_indices()
    model = SpriteEncoder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (len(indices) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(indices), generator=g)
        losses = []
        for b in range(len(indices) // batch_size):
            rows = indices[order[b * batch_size : (b + 1) * batch_size]]
            z1 = model.head(model(augment(rows, table, g)))
            z2 = model.head(model(augment(rows, table, g)))
            z_noise = model.head(model(noise_sprites(batch_size // 4, rows.shape[1:], table, g)))
            loss = nt_xent(z1, z2, temperature=0.2, negatives=z_noise)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        if epoch % 10 == 0 or epoch == epochs - 1:
            print(
                f"epoch {epoch + 1}/{epochs} loss {np.mean(losses):.4f} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    return model.eval()


def set_feature_statistics(model: SpriteEncoder) -> None:
    """Store the mean and spread of the bundled sprites' features in the model's buffers."""
    indices, table = sprites_as_indices()
    with torch.no_grad():
        features = model(table[indices].permute(0, 3, 1, 2).contiguous())
    model.feature_mean.copy_(features.mean(0))
    model.feature_std.copy_(features.std(0).clamp_min(1e-6))


def main() -> None:
    parser = argparse.ArgumentParser(description="Retrain pixelgen's sprite feature network.")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(WEIGHTS))
    args = parser.parse_args()
    model = train(args.epochs, seed=args.seed)
    set_feature_statistics(model)
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
