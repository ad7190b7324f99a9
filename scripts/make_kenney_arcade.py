"""Build the bundled `kenney-arcade` sheet: 32x32 pixel-art sprites with file names,
from the CC0 Kenney images that the `arcade` package ships. Run by hand, once:

    pip download --no-deps -d /tmp/arcade arcade==3.3.3
    python scripts/make_kenney_arcade.py /tmp/arcade/arcade-3.3.3-py3-none-any.whl

Reads the platformer tiles, items, enemies and animated characters (128x128 and 96x128
PNGs drawn smooth, not as pixel art) from the wheel, pads each to a square (feet on
the bottom edge), shrinks it to 32x32 by area averaging, makes its alpha binary, and
puts every sprite in one 16-colour palette by k-means over all opaque pixels, so that
the sheet is pixel art with an exact palette. Writes
pixelgen_core/data/sheets/kenney-arcade.png (16 sprites a row, no spacing) and
kenney-arcade.txt (each sprite's folder and file name, in sheet order). pixelgen
never reads the wheel at run time; the sheet ships in the package.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.cluster import KMeans

ROOT = "arcade/resources/assets/images/"
FOLDERS = ("tiles", "items", "enemies", "animated_characters")
SIZE = 32
COLOURS = 16
COLUMNS = 16
OUT = Path(__file__).resolve().parents[1] / "pixelgen_core" / "data" / "sheets"


def sources(wheel: Path) -> list[tuple[str, Image.Image]]:
    """(folder/name, RGBA image) for every PNG under FOLDERS, sorted by name."""
    found = []
    with zipfile.ZipFile(wheel) as archive:
        for entry in sorted(archive.namelist()):
            if not entry.startswith(ROOT) or not entry.endswith(".png"):
                continue
            folder, *_, file = entry[len(ROOT) :].split("/")
            if folder not in FOLDERS:
                continue
            image = Image.open(io.BytesIO(archive.read(entry))).convert("RGBA")
            found.append((f"{folder}/{Path(file).stem}", image))
    return found


def shrink(image: Image.Image) -> np.ndarray:
    """Pad to a square (centred across, standing on the bottom edge), then area-average
    down to SIZE x SIZE; alpha made binary. RGBA uint8 (SIZE, SIZE, 4)."""
    side = max(image.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(image, ((side - image.width) // 2, side - image.height))
    small = np.asarray(square.resize((SIZE, SIZE), Image.Resampling.BOX)).copy()
    opaque = small[..., 3] >= 128
    small[..., 3] = np.where(opaque, 255, 0)
    small[~opaque] = 0
    return small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="arcade-3.3.3-py3-none-any.whl")
    args = parser.parse_args()
    named = sources(args.wheel)
    sprites = np.stack([shrink(image) for _, image in named])
    opaque = sprites[..., 3] == 255
    pixels = sprites[opaque][:, :3].astype(np.float64)
    kmeans = KMeans(COLOURS, n_init=4, random_state=0).fit(pixels)
    palette = np.rint(kmeans.cluster_centers_).clip(0, 255).astype(np.uint8)
    sprites[opaque, :3] = palette[kmeans.predict(pixels)]
    rows = -(-len(sprites) // COLUMNS)
    sheet = np.zeros((rows * SIZE, COLUMNS * SIZE, 4), dtype=np.uint8)
    for i, sprite in enumerate(sprites):
        r, c = divmod(i, COLUMNS)
        sheet[r * SIZE : (r + 1) * SIZE, c * SIZE : (c + 1) * SIZE] = sprite
    Image.fromarray(sheet, "RGBA").save(OUT / "kenney-arcade.png", optimize=True)
    (OUT / "kenney-arcade.txt").write_text("\n".join(name for name, _ in named) + "\n")
    print(f"{len(sprites)} sprites of {SIZE}x{SIZE}, {COLOURS} colours: {OUT}")


if __name__ == "__main__":
    main()
