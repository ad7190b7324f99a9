"""`pixelgen data slice|show|palette`: cut tilesheets, inspect datasets, export palettes."""

from __future__ import annotations

from pathlib import Path

import click

from pixelgen_core import checks
from pixelgen_core.settings import DataConfig


@click.group()
def data() -> None:
    """Prepare and inspect sprite datasets."""


@data.command("slice")
@click.argument("sheet", type=click.Path(path_type=Path))
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option(
    "--tile",
    default="16",
    show_default=True,
    help="Tile side in pixels, or WIDTHxHEIGHT (e.g. 16x24).",
)
@click.option("--spacing", type=int, default=0, show_default=True, help="Gap between tiles.")
@click.option("--margin", type=int, default=0, show_default=True, help="Border of the sheet.")
@click.option("--keep-empty", is_flag=True, help="Also write fully transparent tiles.")
def slice_command(
    sheet: Path, outdir: Path, tile: str, spacing: int, margin: int, keep_empty: bool
) -> None:
    """Cut SHEET into TILE-sized PNG sprites in OUTDIR (a dataset folder)."""
    from pixelgen_core.data.sheets import parse_tile, slice_sheet
    from pixelgen_core.images import read_png, write_png

    width, height = parse_tile(tile)
    tiles = slice_sheet(read_png(sheet), (height, width), spacing, margin, keep_empty)
    for i, piece in enumerate(tiles):
        write_png(piece, outdir / f"{sheet.stem}_{i:04d}.png")
    click.echo(f"wrote {len(tiles)} tiles of {width}x{height} to {outdir}")


@data.command("show")
@click.argument("dataset", default="kenney-colored")
@click.option("--focused", is_flag=True, help="Apply the focused filter (opaque share 0.15-0.50).")
@click.option("--max-colors", type=int, default=16, show_default=True, help="Palette size K.")
@click.option("--classes", type=int, default=0, help="Also cluster into K classes, a grid each.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("preview.png"),
    show_default=True,
    help="Where to write the preview grid.",
)
@click.option("--scale", type=int, default=2, show_default=True, help="Upscale of the preview.")
@click.option(
    "--min-tag-count",
    type=click.IntRange(min=1),
    default=DataConfig().min_tag_count,
    show_default=True,
    help="Drop tags that fewer sprites carry.",
)
def show_command(
    dataset: str,
    focused: bool,
    max_colors: int,
    classes: int,
    out: Path,
    scale: int,
    min_tag_count: int,
) -> None:
    """Print DATASET's counts, palette and tags, and write a preview grid.

    DATASET is kenney-colored, kenney-mono, kenney-arcade (32x32), or a folder of PNGs.
    """
    import numpy as np
    from rich.console import Console
    from rich.text import Text

    from pixelgen_core.data.datasets import load_dataset, opaque_share
    from pixelgen_core.data.labels import class_labels, label_cache_dir
    from pixelgen_core.images import grid, write_png
    from pixelgen_core.palette import extract

    checks.max_colors(max_colors)
    sprites = load_dataset(dataset, focused)
    palette = extract(sprites.sprites, max_colors)
    console = Console()
    console.print(sprites.describe())
    share = opaque_share(sprites.sprites)
    console.print(f"opaque share: mean {share.mean():.2f}, median {np.median(share):.2f}")
    line = Text(f"palette ({len(palette.colors)} colours + transparent): ")
    for color in palette.hex():
        line.append("  ", style=f"on {color}")
        line.append(f" {color} ")
    console.print(line)
    write_png(grid(sprites.sprites[:256]), out, scale)
    console.print(f"preview of {min(len(sprites), 256)} sprites: {out}")
    show_tags(console, sprites.tags(), min_tag_count)
    if classes:
        labels = class_labels(sprites, classes)
        counts = np.bincount(labels)
        console.print(f"{len(counts)} classes, sizes: {', '.join(map(str, counts))}")
        console.print(f"class grids: {label_cache_dir(sprites, classes)}")


def show_tags(console, tagging, min_count: int) -> None:
    """The tags a dataset's sprites carry, with their counts, and which were dropped."""
    from rich.columns import Columns

    if tagging.source == "none":
        console.print("tags: none (no tag file, sidecar .txt files or words in the file names)")
        return
    kept, dropped = tagging.kept(min_count)
    vocabulary = kept.vocabulary()
    untagged = sum(not tags for tags in kept.tags)
    console.print(
        f"tags from {tagging.source}: {len(vocabulary)} on {len(kept.tags) - untagged} "
        f"of {len(kept.tags)} sprites"
    )
    if tagging.unlisted:
        console.print(f"{tagging.unlisted} sprites are not listed in {tagging.source}")
    if vocabulary:
        console.print(Columns([f"{tag} [dim]{count}[/dim]" for tag, count in vocabulary]))
    if dropped:
        shown = ", ".join(dropped[:12]) + (", ..." if len(dropped) > 12 else "")
        console.print(
            f"dropped {len(dropped)} tags on fewer than {min_count} sprites or on all: {shown}"
        )


@data.command("palette")
@click.argument("dataset", default="kenney-colored")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Palette file to write: .gpl (GIMP, Aseprite), .hex, .pal (JASC) or .png (a strip).",
)
@click.option("--focused", is_flag=True, help="Apply the focused filter (opaque share 0.15-0.50).")
@click.option("--max-colors", type=int, default=16, show_default=True, help="Palette size K.")
def palette_command(dataset: str, out: Path, focused: bool, max_colors: int) -> None:
    """Write DATASET's palette (as training extracts it) to a palette file.

    DATASET is kenney-colored, kenney-mono, kenney-arcade (32x32), or a folder of PNGs.
    """
    from pixelgen_core.data.datasets import load_dataset
    from pixelgen_core.errors import PixelgenError
    from pixelgen_core.palette import extract
    from pixelgen_core.palette_files import WRITE_SUFFIXES, save_palette

    if out.suffix.lower() not in WRITE_SUFFIXES:
        raise PixelgenError(f"--out must end in {', '.join(WRITE_SUFFIXES)}, got {out.name!r}")
    checks.max_colors(max_colors)
    palette = extract(load_dataset(dataset, focused).sprites, max_colors)
    save_palette(palette, out)
    click.echo(f"wrote {len(palette.colors)} colours (transparency not counted) to {out}")
