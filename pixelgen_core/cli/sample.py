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
    load_checkpoint,
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
    from pixelgen_core.images import check_output_size, grid, parse_color, write_png
    from pixelgen_core.sampling import choose_device, draw, restore

    if n < 1:
        raise PixelgenError("-n must be at least 1")
    if scale < 1:
        raise PixelgenError("--scale must be a positive integer")
    bg = parse_color(background)
    payload = load_checkpoint(record, run_id, checkpoint)
    size = payload["data"]["image_size"]
    check_output_size(2 * n if reconstruct else n, size, size, scale)
    strategy, palette = restore(record, payload, choose_device(device))
    classes = strategy.data.num_classes
    if label is not None:
        if not record.spec.conditional or classes == 0:
            raise PixelgenError(f"strategy {record.spec.name!r} was not trained with classes")
        if not 0 <= label < classes:
            raise PixelgenError(f"--class must be in 0..{classes - 1}")
    if reconstruct:
        if label is not None:
            raise PixelgenError("--class does not apply to --reconstruct")
        pairs, accuracy = reconstruction_pairs(record, payload, strategy, palette, n, seed)
        columns = 2 * math.ceil(math.sqrt(n))  # original, reconstruction side by side
        out = out or new_folder(Path("samples"), f"{record.spec.name}-")
        write_png(grid(pairs, columns, background=bg), out / "reconstructions.png", scale)
        shown = len(pairs) // 2  # fewer than n when the dataset is smaller
        click.echo(
            f"wrote {shown} sprites beside their reconstructions to {out}/reconstructions.png"
        )
        click.echo(f"pixels reconstructed exactly: {100 * accuracy:.1f}%")
        return
    sprites = draw(strategy, palette, n, seed, label, options)
    # the default folder is made only now, so a refused option leaves no empty one behind
    out = out or new_folder(Path("samples"), f"{record.spec.name}-")
    for i, sprite in enumerate(sprites):
        write_png(sprite, out / f"sprite_{i:04d}.png", scale)
    write_png(grid(sprites, background=bg), out / "grid.png", scale)
    click.echo(f"wrote {n} sprites and grid.png to {out}")


def reconstruction_pairs(record, payload, strategy, palette, n: int, seed: int):
    """RGBA (2n, H, W, 4) alternating dataset sprite and reconstruction, and the share of
    pixels whose palette index survived the round trip."""
    import numpy as np
    import torch

    from pixelgen_core.data.prepare import prepare
    from pixelgen_core.sampling import reconstruct

    data = prepare(payload["config"], record.spec.conditional, palette=palette)
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randperm(len(data), generator=generator)[:n]
    batch = data.unaugmented(rows, strategy.device)
    rebuilt = reconstruct(strategy, palette, batch.images)
    original = batch.indices.cpu().numpy()
    pairs = np.stack([original, rebuilt], axis=1).reshape(-1, *original.shape[1:])
    return palette.to_rgba(pairs), float((rebuilt == original).mean())
