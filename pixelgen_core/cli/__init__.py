"""The `pixelgen` command. Only this package knows about click.

Command modules import torch, MLflow and rich inside their functions, so
`pixelgen --help` and `pixelgen list-strategies` start fast.
"""

from __future__ import annotations

import logging

import click

from pixelgen_core import __version__
from pixelgen_core.errors import PixelgenError


class PixelgenGroup(click.Group):
    """Turns PixelgenError into one line on stderr and the error's exit code, shows
    pixelgen's warnings as one line each, and any other exception as the bug it is."""

    def invoke(self, ctx: click.Context):
        import warnings

        said = logging.getLogger("pixelgen")  # what core says while it works, e.g. a fit
        handler, level = _Stderr(), said.level
        said.addHandler(handler)
        said.setLevel(logging.INFO)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except PixelgenError as exc:
                click.echo(f"Error: {_in_flags(exc)}", err=True)
                raise click.exceptions.Exit(exc.exit_code) from None
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except Exception as exc:
                _report_bug(exc)
                raise click.exceptions.Exit(1) from None
            finally:
                said.removeHandler(handler)
                said.setLevel(level)


class _Stderr(logging.Handler):
    """Prints each message of pixelgen's logger as one line on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(record.getMessage(), err=True)


def _in_flags(exc: PixelgenError) -> str:
    """The error's message, naming a refused setting by the flag that sets it."""
    from pixelgen_core.errors import NamesSettings

    if not isinstance(exc, NamesSettings):
        return str(exc)
    from pixelgen_core.cli.common import flag_for

    return exc.words(flag_for)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from pixelgen_core.errors import PixelgenWarning

    if issubclass(category, PixelgenWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        import warnings

        click.echo(warnings.formatwarning(message, category, filename, lineno, line), err=True)


def _report_bug(exc: Exception) -> None:
    """The traceback, and who to tell: the distribution whose code raised, else pixelgen."""
    import traceback
    from importlib.metadata import packages_distributions

    traceback.print_exception(exc)
    owners = packages_distributions()
    culprit = "pixelgen"
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        package = frame.f_globals.get("__name__", "").partition(".")[0]
        if package.startswith("pixelgen"):
            culprit = (owners.get(package) or ["pixelgen"])[0]
    click.echo(
        f"Error: this is a bug in {culprit}, not a problem with your input; please report "
        "it with the traceback above",
        err=True,
    )


def _disable(ctx: click.Context, param: click.Parameter, names: tuple[str, ...]) -> None:
    """Runs while the options are parsed, before a subcommand looks up its strategy."""
    from pixelgen_core import plugins

    if names:
        plugins.disable(names)


@click.group(cls=PixelgenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="pixelgen")
@click.option(
    "--disable-plugin",
    multiple=True,
    expose_value=False,
    is_eager=True,
    callback=_disable,
    metavar="NAME",
    help="Do not load this plugin (distribution or entry-point name); repeatable. "
    "PIXELGEN_DISABLE_PLUGINS=a,b does the same.",
)
def cli() -> None:
    """Train small generative models on pixel-art sprites and sample new ones.

    Each architecture is a plugin strategy; see `pixelgen list-strategies`.
    """


def _register() -> None:
    from pixelgen_core.cli import (
        compare,
        data,
        edit,
        evaluate,
        listing,
        manage,
        runs,
        sample,
        scaffold,
        studio,
        tileset,
        train,
    )

    cli.add_command(listing.list_strategies)
    cli.add_command(manage.plugins)
    cli.add_command(manage.install)
    cli.add_command(manage.uninstall)
    cli.add_command(scaffold.new_strategy)
    cli.add_command(train.train)
    cli.add_command(sample.sample)
    cli.add_command(edit.edit)
    cli.add_command(tileset.tileset)
    cli.add_command(runs.runs)
    cli.add_command(evaluate.evaluate)
    cli.add_command(compare.compare)
    cli.add_command(data.data)
    cli.add_command(studio.studio)


_register()


def main() -> None:
    cli()
