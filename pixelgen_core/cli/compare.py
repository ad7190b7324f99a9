"""`pixelgen compare`: train strategies on one budget, evaluate each, show them side by side."""

from __future__ import annotations

from pathlib import Path

import click

from pixelgen_core.cli.common import SEED
from pixelgen_core.errors import PixelgenError
from pixelgen_core.evaluation import REPEATS


@click.command("compare")
@click.argument("names", nargs=-1)
@click.option("--budget-minutes", type=float, help="Stop each training run after M minutes.")
@click.option("--epochs", type=int, help="Train each strategy for E epochs.")
@click.option("--runs", is_flag=True, help="Use each strategy's latest finished run; no training.")
@click.option(
    "-n",
    "--num",
    "n",
    type=int,
    default=500,
    show_default=True,
    help="Sprites drawn and scored per strategy and repeat (at most half the dataset).",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=REPEATS,
    show_default=True,
    help="Random half-splits of the data and sampling seeds; FD and KID show their spread.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("comparison"),
    show_default=True,
    help="Folder for compare.png, compare.md and compare.json.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="A config override applied to every strategy (repeatable).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def compare(names, budget_minutes, epochs, runs, n, seed, repeats, out, overrides, quiet) -> None:
    """Train NAMES (default: every installed strategy) with the same budget, evaluate each,
    and write a side-by-side picture (real data first) and a table of the metrics."""
    from pixelgen_core import api
    from pixelgen_core.cli.evaluate import describe, print_rows

    if budget_minutes is not None and epochs is not None:
        raise PixelgenError("give --budget-minutes or --epochs, not both")
    if runs and (budget_minutes is not None or epochs is not None or overrides):
        raise PixelgenError("--runs evaluates existing runs; it takes no training settings")
    result = api.compare(
        names,
        epochs=epochs,
        budget_minutes=budget_minutes,
        use_runs=runs,
        n=n,
        seed=seed,
        repeats=repeats,
        overrides=overrides,
        progress=not quiet,
        on_event=lambda text: click.echo(text, err=True),
    )
    if not result.same_dataset():
        click.echo(
            "Warning: the strategies trained on different datasets; the calibration "
            "rows are those of the first",
            err=True,
        )
    written = result.save(out)
    rows = result.rows
    print_rows(rows, title=describe(result.evaluations[0], seed) + " each")
    for row in rows[: len(result.runs)]:
        shown = [f"{k} {row.extra[k]:.4g}" for k in api.COMPARE_EXTRA if k in row.extra]
        click.echo(f"{row.name}: {row.verdict.describe()}; " + ", ".join(shown))
    click.echo(f"picture: {written['picture']}\ntable: {written['table']}")
