"""`pixelgen sample NAME`."""

from __future__ import annotations

import math
from pathlib import Path

import click

from pixelgen_core.cli.common import (
    StrategyGroup,
    checkpoint_options,
    click_option,
    drawing_options,
)
from pixelgen_core.errors import PixelgenError
from pixelgen_core.files import new_folder
from pixelgen_core.plugins import StrategyRecord


class SampleGroup(StrategyGroup):
    def make_command(self, record: StrategyRecord) -> click.Command:
        spec = record.spec
        params = [
            *drawing_options(16, "How many sprites.", "Same seed, same sprites."),
            click.Option(
                ["--class", "label"],
                type=int,
                default=None,
                help="Class label (class-conditional strategies).",
            ),
            click.Option(
                ["--out"],
                type=click.Path(path_type=Path),
                help="Output folder [default: a new samples/NAME-TIMESTAMP-XXXXXX].",
            ),
            click.Option(
                ["--scale"],
                type=int,
                default=1,
                show_default=True,
                help="Integer nearest-neighbour upscale of the PNGs.",
            ),
            click.Option(
                ["--background"],
                default="transparent",
                show_default=True,
                help="Grid background: transparent or #rrggbb.",
            ),
            click.Option(
                ["--reconstruct"],
                is_flag=True,
                help="Show N dataset sprites beside their reconstructions "
                "(strategies with an encoder).",
            ),
            *checkpoint_options(),
            *(click_option(o, show_default=True) for o in spec.sample_options),
        ]

        def callback(**kwargs):
            run_sample(record, **kwargs)

        return click.Command(
            spec.name,
            params=params,
            callback=callback,
            help=f"Sample sprites from a trained {spec.name} model.",
            short_help=spec.description,
        )


@click.group(cls=SampleGroup)
def sample() -> None:
    """Sample sprites from a trained strategy (a grid PNG and one PNG per sprite)."""


def run_sample(
    record: StrategyRecord,
    n: int,
    seed: int,
    label: int | None,
    out: Path | None,
    scale: int,
    background: str,
    run_id: str | None,
    checkpoint: Path | None,
    device: str,
    reconstruct: bool = False,
    **options,
) -> None:
    from pixelgen_core import api
    from pixelgen_core.images import check_output_size, parse_color, write_png

    if n < 1:
        raise PixelgenError("-n must be at least 1")
    if scale < 1:
        raise PixelgenError("--scale must be a positive integer")
    parse_color(background)
    run = api.open_run(record.spec.name, run_id=run_id, checkpoint=checkpoint, device=device)
    size = run.info.image_size
    check_output_size(2 * n if reconstruct else n, size, size, scale)
    given = {k: v for k, v in options.items() if v is not None}
    if reconstruct:
        if label is not None:
            raise PixelgenError("--class does not apply to --reconstruct")
        made = run.reconstruct(n, seed=seed)
        columns = 2 * math.ceil(math.sqrt(n))  # original, reconstruction side by side
        out = out or new_folder(Path("samples"), f"{record.spec.name}-")
        picture = made.pairs().grid(columns, background=background, scale=scale)
        write_png(picture, out / "reconstructions.png")
        shown = len(made.originals)  # fewer than n when the dataset is smaller
        click.echo(
            f"wrote {shown} sprites beside their reconstructions to {out}/reconstructions.png"
        )
        click.echo(f"pixels reconstructed exactly: {100 * made.accuracy:.1f}%")
        return
    sprites = run.sample(n, seed=seed, label=label, **given)
    # the default folder is made only now, so a refused option leaves no empty one behind
    out = out or new_folder(Path("samples"), f"{record.spec.name}-")
    sprites.save(out, scale=scale, background=background)
    click.echo(f"wrote {n} sprites and grid.png to {out}")
