"""`pixelgen compare`: train strategies on one budget, evaluate each, show them side by side."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pixelgen_core.cli.common import SEED, load_checkpoint, registry
from pixelgen_core.errors import PixelgenError

EXTRA = ["train_seconds", "train_images_per_sec", "sample_ms_per_sprite"]


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
    help="Sprites drawn and scored per strategy.",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
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
def compare(names, budget_minutes, epochs, runs, n, seed, out, overrides, quiet) -> None:
    """Train NAMES (default: every installed strategy) with the same budget, evaluate each,
    and write a side-by-side picture (real data first) and a table of the metrics."""
    from pixelgen_core import checkpoint
    from pixelgen_core.config import resolve
    from pixelgen_core.evaluation.report import MIN_SAMPLES, markdown_table
    from pixelgen_core.evaluation.run import evaluate
    from pixelgen_core.evaluation.sheet import write_side_by_side
    from pixelgen_core.files import write_text
    from pixelgen_core.trainer import Trainer

    if budget_minutes is not None and epochs is not None:
        raise PixelgenError("give --budget-minutes or --epochs, not both")
    if runs and (budget_minutes is not None or epochs is not None or overrides):
        raise PixelgenError("--runs evaluates existing runs; it takes no training settings")
    if n < MIN_SAMPLES:
        raise PixelgenError(f"evaluation needs at least {MIN_SAMPLES} samples (-n)")
    records = [registry().get(name) for name in (names or sorted(registry().strategies))]
    if not records:
        raise PixelgenError("no strategies installed")
    budget = [f"training.time_budget_minutes={budget_minutes}"] if budget_minutes else []
    budget += [f"training.epochs={epochs}"] if epochs is not None else []

    results = []
    for record in records:
        name = record.spec.name
        if runs:
            payload = load_checkpoint(record, None, None)
            timings = {}
        else:
            click.echo(f"training {name} ...", err=True)
            config = resolve(record.spec, overrides=[*overrides, *budget])
            trained = Trainer(record, config, quiet=quiet).fit()
            payload = checkpoint.load(trained.checkpoint, strategy=name)
            timings = {
                "train_seconds": trained.seconds,
                "train_images_per_sec": trained.images_per_second,
            }
        click.echo(f"evaluating {name} ...", err=True)
        result = evaluate(record, payload, n, seed, calibrate=not results)  # once is enough
        result.model.extra.update(timings)
        results.append((record, payload, result))

    keys = ("dataset", "focused", "max_colors")  # what makes the sprites and palette
    datasets = {tuple(p["config"]["data"][k] for k in keys) for _, p, _ in results}
    if len(datasets) > 1:
        click.echo(
            "Warning: the strategies trained on different datasets; the calibration "
            "rows are those of the first",
            err=True,
        )
    first = results[0][2]
    rows = [r.model for _, _, r in results] + first.calibration
    held = first.reference.data.palette.to_rgba(first.reference.held)
    pictures = [("data", held)] + [(r.model.name, r.samples) for _, _, r in results]
    picture = write_side_by_side(pictures, out / "compare.png")
    table = markdown_table(rows, EXTRA)
    write_text(out / "compare.md", table + "\n")
    write_text(out / "compare.json", json.dumps([r.to_dict() for r in rows], indent=2))
    from pixelgen_core.cli.evaluate import print_rows

    print_rows(rows, title=f"{n} samples each, seed {seed}")
    for row in rows[: len(results)]:
        click.echo(
            f"{row.name}: " + ", ".join(f"{k} {row.extra[k]:.4g}" for k in EXTRA if k in row.extra)
        )
    click.echo(f"picture: {picture}\ntable: {out / 'compare.md'}")
