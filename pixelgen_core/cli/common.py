"""Pieces shared by the command modules: the plugin registry and strategy options."""

from __future__ import annotations

from functools import cache

import click

from pixelgen_core.errors import PixelgenError
from pixelgen_core.plugins import Registry, discover
from pixelgen_core.strategy import Option


@cache
def registry() -> Registry:
    """Discover plugins once per process; warn on stderr about the ones that failed."""
    found = discover()
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
