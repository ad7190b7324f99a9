"""The pictures of docs/usage.md's "For game developers" section, from a trained model.

    python docs/make_gamedev_pictures.py [--checkpoint CKPT] [--out docs/images]

CKPT is a diffusion run (default: the latest finished one in this folder's MLflow store;
the pictures in the docs come from the default config, base stage and tuning). Every
picture is drawn with fixed seeds through the same API the commands use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import pixelgen_core as pg
from pixelgen_core import grid, write_png

SCALE = 4
BACKGROUND = (58, 58, 70, 255)  # dark, so white and light sprites show


def row(*parts: np.ndarray, gap: int = 4) -> np.ndarray:
    """Pictures side by side (tops aligned) on the background, `gap` pixels apart."""
    height = max(p.shape[0] for p in parts)
    pieces = []
    for part in parts:
        pad = np.zeros((height - part.shape[0], part.shape[1], 4), np.uint8)
        pad[...] = BACKGROUND
        pieces += [np.concatenate([part, pad]), np.full((height, gap, 4), BACKGROUND, np.uint8)]
    return np.concatenate(pieces[:-1], axis=1)


def sheet_of(sprites, columns: int) -> np.ndarray:
    return grid(np.asarray(sprites), columns, background=BACKGROUND)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    run = pg.open_run("diffusion", checkpoint=args.checkpoint)
    size = run.info.image_size

    # Inpainting: the sprite, the region redrawn (marked), six new bottom halves. The
    # sprite is the one of 32 drawn whose halves are both the fullest.
    candidates = np.asarray(run.sample(32, seed=21))
    opaque = candidates[..., 3] > 0
    halves = np.minimum(opaque[:, : size // 2].sum((1, 2)), opaque[:, size // 2 :].sum((1, 2)))
    source = candidates[int(halves.argmax())]
    marked = source.copy()
    marked[size // 2 :, :, :3] = marked[size // 2 :, :, :3] // 2 + 100
    marked[size // 2 :, :, 3] = 255
    region = (0, size // 2, size, size - size // 2)
    inpainted = run.edit(source, region=region, n=6, seed=1)
    write_png(
        row(sheet_of([source], 1), sheet_of([marked], 1), sheet_of(inpainted, 6)),
        args.out / "gamedev-inpaint.png",
        SCALE,
    )

    # Variations: the sprite and eight variations at strength 0.5.
    variations = run.edit(source, strength=0.5, n=8, seed=2)
    write_png(
        row(sheet_of([source], 1), sheet_of(variations, 8)),
        args.out / "gamedev-variations.png",
        SCALE,
    )

    # Palettes: the same eight sprites in the model's palette and three built-in ones.
    rows = [run.sample(8, seed=5, palette=p) for p in (None, "pico-8", "gameboy", "endesga-32")]
    write_png(
        grid(np.concatenate([np.asarray(r) for r in rows]), 8, background=BACKGROUND),
        args.out / "gamedev-palettes.png",
        SCALE,
    )

    # Tileable: four tileable sprites, each repeated 3 x 3.
    tiles = run.sample(4, seed=8, tileable=True)
    write_png(sheet_of(tiles.tiled(3), 4), args.out / "gamedev-tiled.png", SCALE // 2)

    # A sheet, as `--sheet --columns 6 --spacing 2 --margin 2` writes it, and its atlas.
    sprites = run.sample(12, seed=30, separate=True)
    sprites.save_sheet(args.out, columns=6, spacing=2, margin=2, scale=SCALE, name="gamedev-sheet")
    print(f"wrote the game-developer pictures to {args.out}")


if __name__ == "__main__":
    main()
