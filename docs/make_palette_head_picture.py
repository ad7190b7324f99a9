"""The 32x32 picture of docs/usage.md: real `kenney-arcade` sprites, then two runs of the
default config trained on them for ten minutes, one with RGBA output only and one with
the palette head, each drawn as `pixelgen sample` draws it (its `auto` sampler and pixel
filter, seed 0).

    pixelgen train diffusion data.dataset=kenney-arcade training.time_budget_minutes=10 \\
        training.seed=1 model.palette_head=false   # then again without this last option
    python docs/make_palette_head_picture.py RGBA_CHECKPOINT HEAD_CHECKPOINT

Writes docs/images/size-32-palette-head.png (about a minute: a filtered sprite of the
head run costs about 17 draws). The numbers beside it are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import pixelgen_core as pg
from pixelgen_core.evaluation import side_by_side

OUT = Path(__file__).resolve().parent / "images" / "size-32-palette-head.png"
COUNT = 12  # sprites a row


def main(rgba: str, head: str) -> None:
    real = pg.open_dataset("kenney-arcade").sprites
    rows = [("real", real[np.random.default_rng(0).choice(len(real), COUNT, replace=False)])]
    for label, checkpoint in (("RGBA output", rgba), ("palette head", head)):
        run = pg.open_run("diffusion", checkpoint=checkpoint)
        rows.append((label, np.asarray(run.sample(COUNT, seed=0))))
    side_by_side(rows, per_row=COUNT, scale=3).save(OUT)
    print(OUT)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
