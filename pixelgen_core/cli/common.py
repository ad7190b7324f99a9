"""Pieces shared by the command modules: the plugin registry and strategy options."""

from __future__ import annotations

from functools import cache

import click

from pixelgen_core.errors import PixelgenError
from pixelgen_core.plugins import Registry, discover
from pixelgen_core.strategy import Option

DISABLED: set[str] = set()  # filled by `pixelgen --disable-plugin NAME`
SEED = click.IntRange(0, 2**63 - 1)  # what torch.Generator.manual_seed takes


@cache
def registry() -> Registry:
    """Discover plugins once per process; warn on stderr about the ones that failed."""
    found = discover(disabled=DISABLED)
    for failure in found.failures:
        click.echo(
            f"Warning: plugin {failure.name} ({failure.distribution}) failed: {failure.error}",
            err=True,
        )
    return found


def click_option(option: Option, show_default: bool) -> click.Option:
    """A strategy's Option as a click option."""
    if option.type is bool:
        flag = option.flag
        return click.Option(
            [f"{flag}/--no-{flag[2:]}", option.name],
            default=option.default,
            help=option.help,
            show_default=show_default,
        )
    kind = click.Choice(option.type) if isinstance(option.type, tuple) else option.type
    return click.Option(
        [option.flag, option.name],
        type=kind,
        default=option.default,
        help=option.help,
        show_default=show_default,
    )


class StrategyGroup(click.Group):
    """A group with one subcommand per installed strategy, built on demand.

    Subclasses implement `make_command(record)`.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(registry().strategies)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        try:
            record = registry().get(name)
        except PixelgenError as exc:
            raise click.UsageError(str(exc), ctx) from None
        return self.make_command(record)

    def make_command(self, record) -> click.Command:
        raise NotImplementedError


def load_checkpoint(record, run_id: str | None, checkpoint) -> dict:
    """The checkpoint a command should use: --checkpoint, --run, or the latest finished run."""
    from pixelgen_core import checkpoint as ckpt

    if checkpoint is not None and run_id is not None:
        raise PixelgenError("give --run or --checkpoint, not both")
    if checkpoint is None:
        from pixelgen_core.tracking import find_checkpoint

        checkpoint = find_checkpoint(record.spec.name, run_id)
    return ckpt.load(checkpoint, strategy=record.spec.name)


def checkpoint_options() -> list[click.Option]:
    """--run and --checkpoint, shared by the commands that use a trained model."""
    from pathlib import Path

    return [
        click.Option(["--run", "run_id"], help="MLflow run id [default: latest finished]."),
        click.Option(
            ["--checkpoint"],
            type=click.Path(path_type=Path),
            help="Checkpoint file or run folder instead of MLflow.",
        ),
    ]


def drawing_options(default_n: int, n_help: str, seed_help: str) -> list[click.Option]:
    """-n, --seed and --device, shared by the commands that draw sprites from a model."""
    return [
        click.Option(
            ["-n", "--num", "n"], type=int, default=default_n, show_default=True, help=n_help
        ),
        click.Option(["--seed"], type=SEED, default=0, show_default=True, help=seed_help),
        click.Option(["--device"], default="auto", help="cpu, cuda, cuda:N, mps or auto."),
    ]
