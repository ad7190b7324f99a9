"""Cut or inpainted transitions for `pixelgen tileset` (issue 37): which looks right?
Run by hand from an activated .venv on a diffusion run trained on a tagged dataset with
ground tiles (kenney-arcade):

    python benchmarks/tileset_transitions.py --checkpoint runs/diffusion/ID/checkpoint.pt \\
        [--pairs grass:snow,sand:stone,dirt:snow] [--seeds 4] [--pictures DIR]

For each pair of terrains and seed it makes one blob47 set, and from the same base tiles
both kinds of transitions, then scores the tiles where the terrains meet:

- the seam measure of --tileable over every pair of tiles the rules let meet (across
  the shared edge, and across the middle of the tiles, for scale);
- FD (pixelgen's sprite encoder) between those tiles and the data's opaque ground tiles:
  which transitions look more like tiles a person drew;
- the stray-pixel rate and colours per tile (issue 35's pixel statistics), beside the
  same for the base tiles and the data's ground tiles.

Prints one markdown table for benchmarks/RESULTS.md; writes each set's map side by side
(cut | inpaint) into --pictures, to look at.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import pixelgen_core as pg
from pixelgen_core import write_png
from pixelgen_core.evaluation import (
    colours_per_sprite,
    embed,
    frechet_distance,
    stray_pixel_rate,
)


def ground_tiles(run) -> np.ndarray:
    """The run's data sprites tagged "tile" that are wholly opaque."""
    data = pg.open_dataset(run.settings["data"]["dataset"])
    tags = data.tags().tags
    chosen = [
        i for i, t in enumerate(tags) if "tile" in t and (data.sprites[i][..., 3] == 255).all()
    ]
    return data.sprites[chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--pairs", default="grass:snow,sand:stone,dirt:snow")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--pictures", type=Path, default=Path("samples/tileset-transitions"))
    args = parser.parse_args()
    run = pg.open_run("diffusion", checkpoint=args.checkpoint)
    real = ground_tiles(run)
    pairs = [tuple(p.split(":")) for p in args.pairs.split(",")]
    made: dict[str, list] = {"cut": [], "inpaint": []}
    seconds: dict[str, list[float]] = {"cut": [], "inpaint": []}
    bases = []
    args.pictures.mkdir(parents=True, exist_ok=True)
    for pair in pairs:
        for seed in range(args.seeds):
            start = time.perf_counter()
            cut = run.tileset("blob47", seed=seed, prompts=pair, transitions="cut")
            seconds["cut"].append(time.perf_counter() - start)
            start = time.perf_counter()  # the same cut (same seed), then inpainted
            redrawn = run.tileset("blob47", seed=seed, prompts=pair, transitions="inpaint")
            seconds["inpaint"].append(time.perf_counter() - start)
            made["cut"].append(cut)
            made["inpaint"].append(redrawn)
            bases.append(cut.base)
            cells = cut.sample_map(rows=8, columns=10, seed=seed)
            gap = np.zeros((cells.shape[0] * cut.tiles.shape[1], 4, 4), np.uint8)
            picture = np.concatenate([cut.render(cells), gap, redrawn.render(cells)], 1)
            write_png(picture, args.pictures / f"{pair[0]}-{pair[1]}-{seed}.png", 3)
    real_features = embed(real)
    rows = []
    palette = run.palette
    for name, sets in made.items():
        tiles = np.concatenate([s.transition_tiles() for s in sets])
        seams = np.array([s.seams() for s in sets])
        indices = palette.snap(tiles)
        rows.append(
            (
                name,
                float(np.median(seams[:, 0])),
                float(np.median(seams[:, 1])),
                frechet_distance(embed(tiles), real_features),
                stray_pixel_rate(indices),
                colours_per_sprite(indices),
                float(np.median(seconds[name])),
                len(tiles),
            )
        )
    base = np.concatenate(bases)
    base_indices = palette.snap(base)
    real_indices = palette.snap(real)
    print(f"{len(real)} opaque data tiles; pairs {args.pairs}; {args.seeds} seeds each\n")
    print(
        "| transitions | seam across edges | across the middle | FD to data tiles "
        "| stray pixels | colours per tile | s per set (median) | tiles |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, across, middle, fd, stray, colours, secs, n in rows:
        print(
            f"| {name} | {across:.2f} | {middle:.2f} | {fd:.1f} | {stray:.3f} | "
            f"{colours:.1f} | {secs:.1f} | {n} |"
        )
    print(
        f"| base tiles | | | {frechet_distance(embed(base), real_features):.1f} | "
        f"{stray_pixel_rate(base_indices):.3f} | {colours_per_sprite(base_indices):.1f} | | "
        f"{len(base)} |"
    )
    print(
        f"| data tiles | | | | {stray_pixel_rate(real_indices):.3f} | "
        f"{colours_per_sprite(real_indices):.1f} | | {len(real)} |"
    )


if __name__ == "__main__":
    main()
