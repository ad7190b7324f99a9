"""`pixelgen new-strategy NAME`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new-strategy")
@click.argument("name")
@click.option(
    "--dir",
    "target",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the plugin [default: ./pixelgen-NAME].",
)
def new_strategy(name: str, target: Path | None) -> None:
    """Write a new strategy plugin that installs, trains, samples and passes the contract."""
    from pixelgen_core.scaffold import write_plugin

    path = write_plugin(name, target)
    click.echo(f"wrote the pixelgen-{name} plugin to {path}")
    click.echo(f"next: pixelgen install -e {path} && pixelgen train {name} training.epochs=5")
    click.echo(f"      cd {path} && python -m pytest")
