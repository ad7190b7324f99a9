"""`pixelgen sample NAME`."""

from __future__ import annotations

import math
from pathlib import Path

import click

from pixelgen_core.cli.common import (
    StrategyGroup,
    check_output,
    checkpoint_options,
    click_option,
    drawing_options,
    output_options,
    prompt_options,
    unfiltered_option,
    write_output,
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
            *prompt_options(),
            *output_options(),
            click.Option(
                ["--reconstruct"],
                is_flag=True,
                help="Show N dataset sprites beside their reconstructions "
                "(strategies with an encoder).",
            ),
            unfiltered_option(),
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
    palette: str | None = None,
    tileable: bool = False,
    sheet: bool = False,
    columns: int | None = None,
    spacing: int = 0,
    margin: int = 0,
    exports: tuple[str, ...] = (),
    prompt: str | None = None,
    negative: str | None = None,
    unfiltered: bool = False,
    **options,
) -> None:
    from pixelgen_core import api
    from pixelgen_core.editing import as_palette
    from pixelgen_core.images import check_output_size, write_png

    check_output(n, scale, background, columns, spacing, margin)
    target = as_palette(palette)  # a bad palette fails before the model loads
    run = api.open_run(record.spec.name, run_id=run_id, checkpoint=checkpoint, device=device)
    asked = f"-n {n} with --reconstruct at --scale {scale}" if reconstruct else None
    check_output_size(2 * n if reconstruct else n, *run.info.shape, scale, asked=asked)
    given = {k: v for k, v in options.items() if v is not None}
    if reconstruct:
        refused = {"--class": label is not None, "--tileable": tileable, "--sheet": sheet}
        refused["--palette"] = bool(palette)
        refused["--prompt"] = prompt is not None
        if any(refused.values()):
            first = next(flag for flag, on in refused.items() if on)
            raise PixelgenError(f"{first} does not apply to --reconstruct")
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
    sprites = run.sample(
        n,
        seed=seed,
        label=label,
        palette=target,
        tileable=tileable,
        separate=sheet or bool(exports),
        prompt=prompt,
        negative=negative,
        filtered=not unfiltered,
        **given,
    )
    # the default folder is made only now, so a refused option leaves no empty one behind
    source = sheet_source(run, "sample", given, palette, tileable, prompt, negative)
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
    click.echo(f"wrote {n} sprites and {', '.join(['grid.png', *extra])} to {out}")


def sheet_source(
    run,
    command: str,
    options: dict,
    palette,
    tileable: bool,
    prompt: str | None = None,
    negative: str | None = None,
) -> dict:
    """What a sheet's atlas records of the command that drew it, so it can be drawn again."""
    source = {
        "command": command,
        "strategy": run.name,
        "run_id": run.run_id,
        "checkpoint": str(run.checkpoint) if run.checkpoint else None,
        "options": options,
        "palette": str(palette) if palette else None,
        "tileable": tileable,
    }
    if prompt is not None:
        source.update(prompt=prompt, negative=negative)
    return source
