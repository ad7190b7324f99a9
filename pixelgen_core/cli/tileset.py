"""`pixelgen tileset NAME`: an autotile set that Tiled and Godot paint maps with."""

from __future__ import annotations

from pathlib import Path

import click

from pixelgen_core.cli.common import (
    SEED,
    StrategyGroup,
    checkpoint_options,
    click_option,
)
from pixelgen_core.errors import PixelgenError
from pixelgen_core.plugins import StrategyRecord


class TilesetGroup(StrategyGroup):
    def make_command(self, record: StrategyRecord) -> click.Command:
        spec = record.spec
        params = [
            click.Option(
                ["--kind"],
                type=click.Choice(["wang16", "blob47"]),
                default="wang16",
                show_default=True,
                help="wang16: the 16 corner tiles of two terrains; blob47: blobs of the "
                "second terrain over the first (47 tiles and one of the first alone).",
            ),
            click.Option(
                ["--class", "labels"],
                type=int,
                multiple=True,
                help="The terrains' classes: once for both, twice for one each.",
            ),
            click.Option(
                ["--prompt", "prompts"],
                multiple=True,
                help="The terrains in words, e.g. --prompt grass --prompt snow (runs "
                "trained on tags): once for both, twice for one each.",
            ),
            click.Option(
                ["--transitions"],
                type=click.Choice(["cut", "inpaint"]),
                default="cut",
                show_default=True,
                help="cut: tiles cut from the two base tiles along straight edges; inpaint: "
                "the cut redrawn by the model (rounder, more specks; strategies that edit).",
            ),
            click.Option(["--seed"], type=SEED, default=0, show_default=True),
            click.Option(
                ["--out"],
                type=click.Path(path_type=Path),
                help="Output folder [default: a new tilesets/NAME-TIMESTAMP-XXXXXX].",
            ),
            click.Option(
                ["--scale"],
                type=int,
                default=1,
                show_default=True,
                help="Integer nearest-neighbour upscale of the PNGs (tiles grow with it).",
            ),
            click.Option(["--device"], default="auto", help="cpu, cuda, cuda:N, mps or auto."),
            *checkpoint_options(),
            *(click_option(o, show_default=True) for o in spec.sample_options),
        ]

        def callback(**kwargs):
            run_tileset(record, **kwargs)

        return click.Command(
            spec.name,
            params=params,
            callback=callback,
            help=f"Make an autotile set with a trained {spec.name} model.",
            short_help=spec.description,
        )


@click.group(cls=TilesetGroup)
def tileset() -> None:
    """Make an autotile set of two terrains for Tiled (Wang set, sample map) and Godot 4
    (TileSet with terrains), from a trained strategy that draws tileable sprites."""


def run_tileset(
    record: StrategyRecord,
    kind: str,
    labels: tuple[int, ...],
    prompts: tuple[str, ...],
    transitions: str | None,
    seed: int,
    out: Path | None,
    scale: int,
    device: str,
    run_id: str | None,
    checkpoint: Path | None,
    **options,
) -> None:
    from pixelgen_core import api
    from pixelgen_core.files import new_folder

    if scale < 1:
        raise PixelgenError("--scale must be a positive integer")
    run = api.open_run(record.spec.name, run_id=run_id, checkpoint=checkpoint, device=device)
    given = {k: v for k, v in options.items() if v is not None}
    made = run.tileset(
        kind, seed=seed, labels=labels, prompts=prompts, transitions=transitions, **given
    )
    out = out or new_folder(Path("tilesets"), f"{record.spec.name}-")
    written = made.save(out, scale=scale)
    terrains = " and ".join(made.terrains.names)
    click.echo(
        f"wrote {len(made.tiles)} {kind} tiles of {terrains} ({made.transitions} "
        f"transitions): {', '.join(written)} to {out}"
    )
