"""`pixelgen list-strategies`."""

from __future__ import annotations

import json

import click

from pixelgen_core.cli.common import registry


@click.command("list-strategies")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_strategies(as_json: bool) -> None:
    """List the installed strategies, and plugins that failed to load."""
    found = registry()
    rows = [
        {
            "name": name,
            "description": rec.spec.description,
            "conditional": rec.spec.conditional,
            "capabilities": list(rec.spec.capabilities),
            "sizes": rec.spec.sizes.to_dict(),
            "stages": list(rec.spec.stages),
            "distribution": rec.distribution,
            "version": rec.version,
            "status": "ok",
            "error": None,
        }
        for name, rec in sorted(found.strategies.items())
    ]
    rows += [
        {
            "name": f.name,
            "description": "",
            "conditional": None,
            "capabilities": [],
            "sizes": None,
            "stages": [],
            "distribution": f.distribution,
            "version": None,
            "status": "failed",
            "error": f.error,
        }
        for f in found.failures
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pixelgen strategies")
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    table.add_column("classes")
    table.add_column("can")
    table.add_column("plugin")
    table.add_column("status", no_wrap=True)
    for row in rows:
        ok = row["status"] == "ok"
        table.add_row(
            row["name"],
            f"{row['description']}\n[dim]sizes {_sizes(row['sizes'])}[/dim]"
            if ok
            else f"[red]{row['error']}[/red]",
            ("yes" if row["conditional"] else "no") if ok else "",
            ", ".join(row["capabilities"]),
            f"{row['distribution']} {row['version'] or ''}".strip(),
            "[green]ok[/green]" if ok else "[red]failed[/red]",
        )
    if not rows:
        click.echo("No strategies installed. Install one, e.g. pip install -e plugins/vae")
        return
    Console().print(table)


def _sizes(sizes: dict) -> str:
    """E.g. "8-64 (multiples of 4), any shape" for the table (the JSON has every field)."""
    text = f"{sizes['smallest']}-{sizes['largest']}"
    if sizes["multiple"] > 1:
        text += f" (multiples of {sizes['multiple']})"
    return text + (", any shape" if sizes["rectangular"] else ", square")
