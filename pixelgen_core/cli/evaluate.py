"""`pixelgen evaluate NAME`: calibrated quality metrics for a trained strategy."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pixelgen_core import checks
from pixelgen_core.cli.common import (
    StrategyGroup,
    checkpoint_options,
    click_option,
    drawing_options,
    unfiltered_option,
)
from pixelgen_core.evaluation import REPEATS
from pixelgen_core.files import new_folder
from pixelgen_core.plugins import StrategyRecord


class EvaluateGroup(StrategyGroup):
    def make_command(self, record: StrategyRecord) -> click.Command:
        spec = record.spec
        params = [
            *drawing_options(
                1000,
                "Sprites drawn and scored per repeat (at most half the dataset, so the "
                "real-data row compares as many).",
                "Seeds the samples (SEED, SEED+1, ... per repeat), the data splits and "
                "the baselines.",
            ),
            repeats_option(),
            unfiltered_option(),
            click.Option(
                ["--tileable"],
                is_flag=True,
                help="Score tileable sprites, as `sample --tileable` draws them "
                "(strategies that can).",
            ),
            *checkpoint_options(),
            click.Option(["--json", "as_json"], is_flag=True, help="Print JSON, not a table."),
            click.Option(
                ["--prompts"],
                is_flag=True,
                help="Score how samples follow prompts of the run's tags instead (runs "
                "trained on tags): every tag, and pairs seen and never seen together.",
            ),
            click.Option(
                ["--per-prompt"],
                type=click.IntRange(min=2),
                default=32,
                show_default=True,
                help="Sprites drawn for each prompt, with --prompts.",
            ),
            click.Option(
                ["--out"],
                type=click.Path(path_type=Path),
                help="Folder for the report [default: a new evaluations/NAME-TIMESTAMP-XXXXXX].",
            ),
            *(click_option(o, show_default=True) for o in spec.sample_options),
        ]

        def callback(**kwargs):
            refuse_options_that_do_not_apply(kwargs["prompts"])
            run_evaluate(record, **kwargs)

        return click.Command(
            spec.name,
            params=params,
            callback=callback,
            help=f"Score {spec.name} samples against its training data, with calibration rows "
            "(held-out data, speckled data, palette noise, cluster means, training copies) "
            "and a pixel-clean verdict. "
            "See docs/evaluation.md.",
            short_help=spec.description,
        )


@click.group(cls=EvaluateGroup)
def evaluate() -> None:
    """Calibrated sprite-quality metrics for a trained strategy, logged to its MLflow run."""


def refuse_options_that_do_not_apply(prompts: bool) -> None:
    """`--prompts` draws `--per-prompt` sprites once for each prompt, and the table
    draws `-n` sprites in each of `--repeats` repeats: an option of the other mode,
    given on the command line, would be silently ignored, so it is an error instead."""
    from click.core import ParameterSource

    from pixelgen_core.errors import ConfigError

    ctx = click.get_current_context()
    given = {
        param.name: param.opts[0]
        for param in ctx.command.params
        if ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE
    }
    if prompts:
        wrong = [given[name] for name in ("n", "repeats", "tileable") if name in given]
        if wrong:
            verb = "does" if len(wrong) == 1 else "do"
            raise ConfigError(
                f"{' and '.join(wrong)} {verb} not apply with --prompts, which draws "
                "--per-prompt sprites for each prompt"
            )
    elif "per_prompt" in given:
        raise ConfigError("--per-prompt applies only with --prompts")


def run_evaluate(
    record: StrategyRecord,
    run_id: str | None,
    checkpoint: Path | None,
    n: int,
    seed: int,
    repeats: int,
    as_json: bool,
    out: Path | None,
    device: str,
    prompts: bool = False,
    per_prompt: int = 32,
    unfiltered: bool = False,
    tileable: bool = False,
    **options,
) -> None:
    from pixelgen_core import api

    if prompts:
        run = api.open_run(record.spec.name, run_id=run_id, checkpoint=checkpoint, device=device)
        given = {k: v for k, v in options.items() if v is not None}
        result = run.evaluate_prompts(per_prompt, seed=seed, filtered=not unfiltered, **given)
        out = out or new_folder(Path("evaluations"), f"{record.spec.name}-prompts-")
        files = result.save(out)
        logged_to = run.log_prompt_evaluation(result, files)
        if as_json:
            click.echo(json.dumps({**result.to_dict(), "mlflow_run_id": logged_to}, indent=2))
            return
        print_prompt_rows(result, f"{record.spec.name}: {per_prompt} sprites a prompt")
        click.echo(f"report: {files[0]}")
        return
    checks.evaluation(n, repeats)
    run = api.open_run(record.spec.name, run_id=run_id, checkpoint=checkpoint, device=device)
    given = {k: v for k, v in options.items() if v is not None}
    how = {"filtered": not unfiltered, "tileable": tileable}
    result = run.evaluate(n, seed=seed, repeats=repeats, **how, **given)
    out = out or new_folder(Path("evaluations"), f"{record.spec.name}-")
    files = result.save(out)
    logged_to = run.log_evaluation(result, files)
    if as_json:
        click.echo(json.dumps(to_json(result, run, seed, logged_to), indent=2))
        return
    print_rows(result.rows, title=f"{record.spec.name}: {describe(result, seed)}")
    click.echo(f"{record.spec.name}: {result.model.verdict.describe()}")
    extra = ", ".join(f"{k} {v:.4g}" for k, v in result.model.extra.items())
    click.echo(extra)
    click.echo(f"report: {files[0]}")
    if logged_to:
        click.echo(f"logged to MLflow run {logged_to}")
    else:
        click.echo("not logged to MLflow: the checkpoint's run is not in the tracking store")


def repeats_option() -> click.Option:
    return click.Option(
        ["--repeats"],
        type=int,
        default=REPEATS,
        show_default=True,
        help="Random half-splits of the data and sampling seeds; FD and KID show their "
        "spread over them.",
    )


def describe(result, seed: int) -> str:
    """The table title: what was scored."""
    return f"{result.count} samples x {result.reference.repeats} repeats, seed {seed}"


def to_json(result, run, seed: int, logged_to: str | None) -> dict:
    return {
        "strategy": run.name,
        "checkpoint": str(run.checkpoint),
        "mlflow_run_id": logged_to,
        "n": result.count,
        "repeats": result.reference.repeats,
        "seed": seed,
        "tileable": result.tileable,
        "rows": [r.to_dict() for r in result.rows],
    }


def print_prompt_rows(result, title: str) -> None:
    """The per-prompt table, then the means per kind of prompt."""
    from rich.console import Console

    from pixelgen_core.evaluation.prompts import markdown

    console = Console(width=max(150, Console().width))
    console.print(title)
    console.print(markdown(result), markup=False, highlight=False)


def print_rows(rows, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from pixelgen_core.evaluation.report import COLUMNS, LEGEND, format_cell

    table = Table(title=title, caption=LEGEND)
    table.add_column("", no_wrap=True)
    for _, heading, _, _ in COLUMNS:
        table.add_column(heading, justify="right", no_wrap=True)
    for row in rows:
        style = "bold" if row.kind == "model" else "italic dim"
        cells = [format_cell(row.metrics, k) for k, _, _, _ in COLUMNS]
        table.add_row(row.name, *cells, style=style)
    Console(width=max(170, Console().width)).print(table)
