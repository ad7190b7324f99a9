"""`pixelgen train NAME [KEY=VALUE ...]`."""

from __future__ import annotations

from pathlib import Path

import click

from pixelgen_core.cli.common import StrategyGroup, click_option, shown
from pixelgen_core.plugins import StrategyRecord
from pixelgen_core.strategy import StrategySpec


class TrainGroup(StrategyGroup):
    def make_command(self, record: StrategyRecord) -> click.Command:
        spec = record.spec
        params = [
            click.Option(
                ["-c", "--config", "config_file"],
                type=click.Path(path_type=Path),
                help="YAML file layered over the defaults.",
            ),
            click.Option(
                ["--resume"],
                type=click.Path(path_type=Path),
                help="Continue from a checkpoint file or run folder.",
            ),
            click.Option(["--device"], help="cpu, cuda, cuda:N or mps (default: auto)."),
            click.Option(["--quiet", "-q"], is_flag=True, help="No progress bar."),
            *(click_option(o, show_default=False) for o in spec.train_options),
            click.Argument(["overrides"], nargs=-1),
        ]

        def callback(config_file, resume, device, quiet, overrides, **options):
            run_train(record, config_file, list(overrides), resume, device, quiet, options)

        return click.Command(
            spec.name,
            params=params,
            callback=callback,
            help=_help(spec),
            short_help=spec.description,
        )


def _help(spec: StrategySpec) -> str:
    """The command's help: what it trains, on which sizes, in which stages."""
    text = (
        f"{spec.description}\n\nOVERRIDES are config settings such as training.epochs=5.\n\n"
        f"Trains on {spec.sizes.describe()}."
    )
    if len(spec.stages) > 1:
        text += (
            f" Trains in {len(spec.stages)} stages: {', then '.join(spec.stages)}. "
            "training.epochs and training.time_budget_minutes bound the whole run; the "
            "stages split them by their share settings (the --*-share options below)."
        )
    return text


@click.group(cls=TrainGroup)
def train() -> None:
    """Train a strategy on sprites; runs are tracked in MLflow."""


def run_train(
    record: StrategyRecord,
    config_file: Path | None,
    overrides: list[str],
    resume: Path | None,
    device: str | None,
    quiet: bool,
    options: dict,
) -> None:
    from pixelgen_core import api

    run = api.train(
        record.spec.name,
        config=config_file,
        overrides=overrides,
        resume=resume,
        progress=not quiet,
        device=device or None,
        **options,
    )
    click.echo(f"trained {run.name}: {run.steps} steps in {run.seconds:.1f} s")
    if run.sampling_choice:
        click.echo(f"default sampler (auto): {run.sampling_choice['reason']}")
        if run.sampling_choice.get("filter_reason"):
            click.echo(run.sampling_choice["filter_reason"])
    if run.checkpoint:
        click.echo(f"checkpoint: {shown(run.checkpoint)}")
        click.echo(f"sample grids: {shown(run.run_dir / 'samples')}")
    if run.run_id:
        click.echo(f"MLflow run: {run.run_id}")
