"""The pictures of docs/usage.md's "Into your engine" section, each read back by a tool
pixelgen did not write: Tiled's tmxrasterizer, godot-parser and the aseprite library.

    python docs/make_engine_pictures.py --checkpoint CKPT [--out docs/images]

CKPT is a diffusion run trained on tags with ground tiles (the pictures in the docs come
from a 300-epoch kenney-arcade run). Needs the readers scripts/readers.sh installs.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import pixelgen_core as pg
from pixelgen_core import Sprites, read_png, write_png

ROOT = Path(__file__).resolve().parents[1]
BACKGROUND = (58, 58, 70, 255)
SCALE = 3


def row(*parts: np.ndarray, gap: int = 6) -> np.ndarray:
    """Pictures side by side, tops aligned, on the background (transparency shows it)."""
    height = max(p.shape[0] for p in parts)
    pieces = []
    for part in parts:
        block = np.zeros((height, part.shape[1], 4), np.uint8)
        block[...] = BACKGROUND
        block[: part.shape[0]] = np.where(part[..., 3:] > 0, part, BACKGROUND)
        pieces += [block, np.full((height, gap, 4), BACKGROUND, np.uint8)]
    return np.concatenate(pieces[:-1], axis=1)


def column(*parts: np.ndarray, gap: int = 6) -> np.ndarray:
    return np.swapaxes(row(*(np.swapaxes(p, 0, 1) for p in parts), gap=gap), 0, 1)


def rasterize(tmx: Path) -> np.ndarray:
    out = tmx.with_suffix(".rendered.png")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run(["tmxrasterizer", str(tmx), str(out)], check=True, env=env)
    return read_png(out)


def tileset_pictures(run, folder: Path, out: Path) -> None:
    """The blob set with the default (cut) transitions and its sample map as Tiled
    renders it; and the map with both kinds of transitions."""
    for transitions in ("cut", "inpaint"):
        made = run.tileset("blob47", seed=0, prompts=("grass", "snow"), transitions=transitions)
        made.save(folder / transitions, scale=1, map_seed=2)
    tiles = read_png(folder / "cut" / "tiles.png")
    rendered = rasterize(folder / "cut" / "map.tmx")
    write_png(row(tiles, rendered[: 8 * 32, : 12 * 32]), out / "engine-tileset.png", 2)
    crops = [rasterize(folder / t / "map.tmx")[: 6 * 32, : 8 * 32] for t in ("cut", "inpaint")]
    write_png(row(*crops), out / "engine-transitions.png", 2)


def drawn_sheet(run) -> Sprites:
    """Four robots and four zombies, each drawn alone from its seed, as a sheet is."""
    parts = [run.sample(4, seed=0, prompt=p, separate=True) for p in ("robot", "zombie")]
    return Sprites(
        np.concatenate([np.asarray(p) for p in parts]),
        seeds=[s for p in parts for s in p.seeds],
        labels=[None] * 8,
        prompts=[t for p in parts for t in p.prompts],
        palette=parts[0].palette,
    )


def godot_picture(folder: Path) -> np.ndarray:
    """Each SpriteFrames animation as a row of its frames, cut from the sheet by the
    regions godot-parser reads from the .tres."""
    import godot_parser

    sheet = read_png(folder / "sheet.png")
    _, _, *regions, resource = godot_parser.load(str(folder / "sheet.tres")).get_sections()
    rects = {s.header["id"]: s["region"].args for s in regions}
    rows = []
    for animation in resource["animations"]:
        frames = []
        for shown in animation["frames"]:
            x, y, w, h = rects[shown["texture"].args[0]]
            frames.append(sheet[y : y + h, x : x + w])
        rows.append(row(*frames, gap=2))
    return column(*rows)


def aseprite_picture(folder: Path) -> np.ndarray:
    """The .aseprite file's frames as the aseprite library reads them, one row per tag."""
    python = ROOT / ".readers" / "aseprite" / "bin" / "python"
    dump = ROOT / "tests" / "readers" / "aseprite_dump.py"
    read = json.loads(
        subprocess.run(
            [str(python), str(dump), str(folder / "sprites.aseprite")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    w, h = read["size"]
    frames = [np.frombuffer(base64.b64decode(f), np.uint8).reshape(h, w, 4) for f in read["frames"]]
    rows = [row(*frames[first : last + 1], gap=2) for _, first, last in read["tags"]]
    return column(*rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    run = pg.open_run("diffusion", checkpoint=args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tileset_pictures(run, folder, args.out)
        sprites = drawn_sheet(run)
        sprites.export(folder, ("aseprite", "godot"), columns=4)
        write_png(godot_picture(folder), args.out / "engine-godot.png", SCALE)
        write_png(aseprite_picture(folder), args.out / "engine-aseprite.png", SCALE)
    print(f"wrote engine-tileset.png, engine-transitions.png, engine-godot.png and "
          f"engine-aseprite.png to {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
