"""`pixelgen runs [NAME]`: the training runs in this folder, and deleting one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pixelgen_core.errors import PixelgenError


@click.command("runs")
@click.argument("strategy", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, not a table.")
@click.option(
    "--delete", "delete_id", metavar="RUN_ID", help="Delete this run (folder and MLflow run)."
)
def runs(strategy: str | None, as_json: bool, delete_id: str | None) -> None:
    """List training runs, newest first: id, strategy, status, steps, start, checkpoint.

    Status is FINISHED, FAILED, KILLED (Ctrl-C; resumable), RUNNING, or DIED: recorded as
    running by a process that no longer exists (killed, or the machine went down). The id
    works with --run on sample and evaluate; --resume takes the checkpoint path.
    """
    from pixelgen_core import runs as index

    if delete_id is not None:
        delete(delete_id, strategy)
        return
    records = index.all_runs(strategy=strategy)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        where = index.output_root()
        click.echo(f"no {strategy + ' ' if strategy else ''}runs in {where}/")
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
            _shown_path(r.checkpoint_path),
        )
    console = Console()
    if not console.is_terminal:  # piped or captured: keep each run on one line
        console.width = 200
    console.print(table)


def _shown_path(path: Path | None) -> str:
    """A checkpoint path relative to the working folder when it lies inside it."""
    if path is None:
        return "-"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return path


def delete(run_id: str, strategy: str | None) -> None:
    """Remove a run's folder; its MLflow run (if the store is reachable) is marked deleted."""
    import shutil

    from pixelgen_core import runs as index
    from pixelgen_core.files import os_error

    record = index.find(run_id, strategy)
    if record is None:
        raise PixelgenError(f"no run {run_id!r}; see pixelgen runs")
    if record.state == index.RUNNING:
        raise PixelgenError(f"run {record.id} is still running (process {record.pid})")
    if record.mlflow_run_id and record.tracking_uri:
        from pixelgen_core.tracking import delete_run

        delete_run(record.mlflow_run_id, record.tracking_uri)
    try:
        shutil.rmtree(record.run_dir)
    except OSError as exc:
        raise os_error(exc, record.run_dir) from None
    click.echo(f"deleted run {record.id} ({record.run_dir})")
