"""`pixelgen runs [NAME]`: the training runs in this folder, and deleting one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pixelgen_core.cli.common import shown


@click.command("runs")
@click.argument("strategy", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, not a table.")
@click.option(
    "--delete", "delete_id", metavar="RUN_ID", help="Delete this run (folder and MLflow run)."
)
@click.option(
    "--tags",
    "tags_id",
    metavar="RUN_ID",
    help="List this run's tags (the words --prompt takes) with their sprite counts.",
)
def runs(strategy: str | None, as_json: bool, delete_id: str | None, tags_id: str | None) -> None:
    """List training runs, newest first: id, strategy, status, steps, start, checkpoint.

    The runs under ./runs, and with a shared tracking server ($MLFLOW_TRACKING_URI) the
    runs it holds that are not here, listed by their MLflow id.

    Status is FINISHED, FAILED, KILLED (Ctrl-C; resumable), RUNNING, or DIED: recorded as
    running by a process that no longer exists (killed, or the machine went down). The id
    works with --run on sample and evaluate; --resume takes the checkpoint path.
    """
    from pixelgen_core import api

    if delete_id is not None:
        folder = api.delete_run(delete_id, strategy)
        where = f"run {folder.name} ({folder})" if folder else f"run {delete_id} on its server"
        click.echo(f"deleted {where}")
        return
    if tags_id is not None:
        show_run_tags(api.open_run(strategy, run_id=tags_id, device="cpu"), as_json)
        return
    records = api.list_runs(strategy)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        from pixelgen_core.runs import output_root

        click.echo(f"no {strategy + ' ' if strategy else ''}runs in {output_root()}/")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for heading in ("id", "strategy", "status", "steps", "started"):
        table.add_column(heading, no_wrap=True, justify="right" if heading == "steps" else "left")
    table.add_column("checkpoint", overflow="fold", min_width=24)
    styles = {"FINISHED": "green", "FAILED": "red", "DIED": "red", "KILLED": "yellow"}
    for r in records:
        state = r.state
        table.add_row(
            r.id,
            r.strategy,
            f"[{styles.get(state, 'cyan')}]{state}[/]",
            str(r.steps),
            r.started.replace("T", " "),
            "on the server" if r.remote else _shown_path(r.checkpoint_path),
        )
    console = Console()
    if not console.is_terminal:  # piped or captured: keep each run on one line
        console.width = 200
    console.print(table)


def show_run_tags(run, as_json: bool) -> None:
    """A run's vocabulary with how many training sprites carried each tag."""
    tags = run.tags
    if as_json:
        click.echo(json.dumps([{"tag": t, "count": c} for t, c in tags], indent=2))
        return
    if not tags:
        click.echo(f"run {run.run_id or run.checkpoint} was trained without tags")
        return
    from rich.columns import Columns
    from rich.console import Console

    click.echo(f"{len(tags)} tags, with the training sprites that carry each:")
    Console().print(Columns([f"{tag} [dim]{count}[/dim]" for tag, count in tags]))


def _shown_path(path: Path | None) -> str:
    return "-" if path is None else str(shown(path))
