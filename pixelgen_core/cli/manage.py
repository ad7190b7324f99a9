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


def installer_command(verb: str, args: list[str], yes: bool = False) -> list[str]:
    """pip (or uv pip) `verb` with `args`, aimed at pixelgen's own environment."""
    if importlib.util.find_spec("pip") is not None:
        confirm = ["-y"] if yes and verb == "uninstall" else []
        return [sys.executable, "-m", "pip", verb, *confirm, *args]
    uv = shutil.which("uv")
    if uv:  # uv pip never prompts
        return [uv, "pip", verb, "--python", sys.executable, *args]
    raise PixelgenError(f"neither pip nor uv is available to install into {sys.prefix}")


def _run(command: list[str]) -> None:
    click.echo(" ".join(command), err=True)
    code = subprocess.run(command).returncode
    if code:
        raise PixelgenError(f"{command[command.index('pip') + 1]} failed (exit {code})")


@click.command("install")
@click.argument("packages", nargs=-1)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade packages already installed.")
@click.option("-e", "--editable", multiple=True, help="Install a local folder in editable mode.")
def install(packages: tuple[str, ...], upgrade: bool, editable: tuple[str, ...]) -> None:
    """Install plugin packages (names, wheels or folders) into pixelgen's environment."""
    if not packages and not editable:
        raise PixelgenError("name at least one package to install")
    args = ["--upgrade"] if upgrade else []
    for folder in editable:
        args += ["-e", folder]
    _run(installer_command("install", [*args, *packages]))


@click.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugin packages from pixelgen's environment."""
    if any(p.lower() == "pixelgen" for p in packages):
        raise PixelgenError("pixelgen cannot uninstall itself; use the tool that installed it")
    _run(installer_command("uninstall", list(packages), yes=yes))
