"""`pixelgen edit NAME`: inpaint a region of one of your sprites, or draw variations of it."""

from __future__ import annotations

from pathlib import Path

import click

from pixelgen_core import checks
from pixelgen_core.cli.common import (
    StrategyGroup,
    check_output,
    checkpoint_options,
    click_option,
    drawing_options,
    output_options,
    prompt_options,
    registry,
    write_output,
)
from pixelgen_core.cli.sample import sheet_source
from pixelgen_core.plugins import StrategyRecord


class EditGroup(StrategyGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return registry().capable("edit")

    def make_command(self, record: StrategyRecord) -> click.Command:
        spec = record.spec
        if "edit" not in spec.capabilities:
            raise registry().lacks(spec.name, "edit", "edit sprites")
        params = [
            click.Option(
                ["--image"],
                type=click.Path(path_type=Path),
                required=True,
                help="The sprite to edit (a PNG of the run's size; colours are snapped).",
            ),
            click.Option(
                ["--mask"],
                type=click.Path(path_type=Path),
                help="PNG of the same size: white, opaque pixels are redrawn, the rest kept.",
            ),
            click.Option(["--region"], help="X,Y,W,H: redraw this rectangle, keep the rest."),
            click.Option(
                ["--strength"],
                type=float,
                help="0 keeps the input, 1 ignores it where redrawn "
                "[default: 1 with --mask/--region, else 0.5].",
            ),
            *drawing_options(8, "How many edits.", "Same seed, same edits."),
            click.Option(["--class", "label"], type=int, default=None, help="Class label."),
            *prompt_options(),
            *output_options(),
            *checkpoint_options(),
            *(click_option(o, show_default=True) for o in spec.sample_options),
        ]

        def callback(**kwargs):
            run_edit(record, **kwargs)

        return click.Command(
            spec.name,
            params=params,
            callback=callback,
            help=f"Inpaint or vary a sprite with a trained {spec.name} model.",
            short_help=spec.description,
        )


@click.group(cls=EditGroup)
def edit() -> None:
    """Edit a sprite: redraw a masked region (inpainting), or draw variations of it.

    Kept pixels come back exactly; the output folder gets one PNG per edit and a grid.
    """


def run_edit(
    record: StrategyRecord,
    image: Path,
    mask: Path | None,
    region: str | None,
    strength: float | None,
    n: int,
    seed: int,
    label: int | None,
    out: Path | None,
    scale: int,
    background: str,
    palette: str | None,
    tileable: bool,
    sheet: bool,
    columns: int | None,
    spacing: int,
    margin: int,
    run_id: str | None,
    checkpoint: Path | None,
    device: str,
    exports: tuple[str, ...] = (),
    prompt: str | None = None,
    negative: str | None = None,
    **options,
) -> None:
    from pixelgen_core import api
    from pixelgen_core.editing import as_palette

    check_output(n, scale, background, columns, spacing, margin)
    if strength is not None:
        checks.strength(strength)
    target = as_palette(palette)
    run = api.open_run(record.spec.name, run_id=run_id, checkpoint=checkpoint, device=device)
    snapped = run.snap_sprite(image, target)
    click.echo(snapped.notice())
    given = {k: v for k, v in options.items() if v is not None}
    sprites = run.edit(
        snapped,
        mask=mask,
        region=region,
        strength=strength,
        n=n,
        seed=seed,
        label=label,
        palette=target,
        tileable=tileable,
        separate=sheet or bool(exports),
        prompt=prompt,
        negative=negative,
        **given,
    )
    source = sheet_source(run, "edit", given, palette, tileable, prompt, negative)
    source.update(image=str(image), mask=str(mask) if mask else None, region=region)
    source["strength"] = strength
    out, extra = write_output(
        sprites,
        out,
        record.spec.name,
        scale,
        background,
        tileable,
        sheet,
        columns,
        spacing,
        margin,
        source,
        exports,
    )
    click.echo(f"wrote {n} edits and {', '.join(['grid.png', *extra])} to {out}")
