"""`pixelgen plugins`, `pixelgen install` and `pixelgen uninstall`.

Installs go into the environment pixelgen runs from (`sys.executable`), so they work
when pixelgen itself was installed with pipx or `uv tool`; a uv-made environment has
no pip, so uv is used there when it is on PATH.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import click

from pixelgen_core.cli.common import registry
from pixelgen_core.errors import PixelgenError


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugin distributions: version, hooks, strategies and status."""
    rows = [
        {
            "distribution": p.distribution,
            "version": p.version,
            "entry_point": p.name,
            "hooks": p.hooks,
            "strategies": p.strategies,
            "status": p.status,
            "error": p.error,
        }
        for p in sorted(registry().plugins, key=lambda p: (p.distribution, p.name))
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No plugins installed. Try: pixelgen install pixelgen-vae")
        return
    from rich.console import Console
    from rich.table import Table

    colour = {"ok": "green", "failed": "red"}
    table = Table(title="pixelgen plugins")
    for column in ("distribution", "version", "hooks", "strategies", "status"):
        table.add_column(column, no_wrap=column != "status")
    for row in rows:
        status = row["status"] + (f": {row['error']}" if row["error"] else "")
        c = colour.get(row["status"], "yellow")
        table.add_row(
            row["distribution"],
            row["version"],
            ", ".join(row["hooks"]),
            ", ".join(row["strategies"]),
            f"[{c}]{status}[/{c}]",
        )
    Console().print(table)


def installer_command(verb: str, args: list[str]) -> list[str]:
    """pip (or uv pip) `verb` with `args`, aimed at pixelgen's own environment."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", verb, *args]
    uv = shutil.which("uv")
    if uv:  # uv pip never prompts, and has no -y
        args = [a for a in args if a not in ("-y", "--yes")]
        return [uv, "pip", verb, "--python", sys.executable, *args]
    raise PixelgenError(f"neither pip nor uv is available to install into {sys.prefix}")


def _run(verb: str, args: tuple[str, ...]) -> None:
    if not args:
        raise PixelgenError(f"name at least one package to {verb}")
    command = installer_command(verb, list(args))
    click.echo(" ".join(command), err=True)
    code = subprocess.run(command).returncode
    if code:
        raise PixelgenError(f"{verb} failed (exit {code})")


PASS_THROUGH = {"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]}


@click.command("install", context_settings=PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def install(args: tuple[str, ...]) -> None:
    """Install plugin packages into pixelgen's environment.

    ARGS are those of `pip install`: names, wheels, `-e FOLDER`, `-U`, `-c FILE` ...
    """
    _run("install", args)


@click.command("uninstall", context_settings=PASS_THROUGH)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def uninstall(args: tuple[str, ...]) -> None:
    """Uninstall plugin packages from pixelgen's environment (ARGS as for `pip uninstall`)."""
    if any(a.lower() == "pixelgen" for a in args):
        raise PixelgenError("pixelgen cannot uninstall itself; use the tool that installed it")
    _run("uninstall", args)
