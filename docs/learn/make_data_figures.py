"""Make the pictures and numbers in docs/learn/data.md from the bundled sprites.

    python docs/learn/make_data_figures.py

No training: slicing, palettes, snapping, flips and class labels are all data work.
Writes docs/images/data-*.png and docs/learn/data-numbers.json: every number the
chapter quotes, as it quotes it (tests/test_docs.py checks that it does).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from figures import BG, save

import pixelgen_core as pg

NUMBERS = Path(__file__).resolve().parent / "data-numbers.json"
PICKS = [3, 40, 101, 230, 377, 512, 640, 777, 905, 1010]  # spread over the sheet


def main() -> None:
    colored = pg.open_dataset("kenney-colored")
    focused = pg.open_dataset("kenney-colored", focused=True)
    mono = pg.open_dataset("kenney-mono")
    sprites = colored.sprites
    numbers: dict[str, str] = {
        "colored sprites": str(len(colored)),
        "focused sprites": str(len(focused)),
        "mono sprites": str(len(mono)),
    }

    # 1. Palettes: the exact colours, then k-means with fewer, each snapping the same sprites.
    exact = colored.palette(16)
    numbers["exact colours"] = str(len(exact.colors))
    rows = [sprites[PICKS]]
    for k in (4, 2):
        palette = colored.palette(k)
        rows.append(palette.to_rgba(palette.snap(sprites[PICKS])))
    save("data-palettes.png", np.concatenate(rows), len(PICKS))
    numbers["k-means 3: the merged warm colour"] = colored.palette(3).hex()[0]
    swatch = np.zeros((1, 16, 16 * exact.size, 4), dtype=np.uint8)
    for i, colour in enumerate(exact.rgba):
        swatch[0, :, 16 * i : 16 * (i + 1)] = colour if i else BG
    save("data-palette-swatch.png", swatch, 1, scale=2)
    numbers["exact palette"] = ", ".join(exact.hex())

    # 2. A flip: what data.hflip shows the model (the same sprite, mirrored).
    save("data-flips.png", np.concatenate([sprites[PICKS], sprites[PICKS][:, :, ::-1]]), 10)

    # 3. Class labels: 8 k-means classes, ten members each (the first ten of the class).
    labels = colored.class_labels(8, seed=0)
    counts = np.bincount(labels, minlength=8)
    members = []
    for k in range(8):
        chosen = sprites[labels == k][:10]
        pad = np.zeros((10 - len(chosen), *sprites.shape[1:]), dtype=np.uint8)
        members.append(np.concatenate([chosen, pad]))
    save("data-classes.png", np.concatenate(members), 10)
    numbers["class sizes"] = ", ".join(str(c) for c in counts)
    numbers["largest class"] = str(counts.max())
    numbers["smallest class"] = str(counts.min())
    counts16 = np.bincount(colored.class_labels(16, seed=0), minlength=16)
    numbers["16 classes: smallest"] = str(counts16.min())
    numbers["16 classes: largest"] = str(counts16.max())

    opaque = (sprites[..., 3] > 0).mean()
    numbers["opaque share"] = f"{opaque:.2f}"
    NUMBERS.write_text(json.dumps(numbers, indent=2) + "\n")
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
