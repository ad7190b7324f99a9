"""Pieces shared by the command modules: the plugin registry and strategy options."""

from __future__ import annotations

import click

from pixelgen_core import checks, plugins
from pixelgen_core.errors import PixelgenError
from pixelgen_core.plugins import Registry
from pixelgen_core.strategy import Option

SEED = click.IntRange(0, 2**63 - 1)  # what torch.Generator.manual_seed takes
_warned_about: list[Registry] = []  # the registry whose failures were shown


def registry() -> Registry:
    """The installed plugins (discovered once per process); the first time a command
    looks, a warning on stderr for each plugin that failed."""
    found = plugins.registry()
    if not _warned_about or _warned_about[0] is not found:
        _warned_about[:] = [found]
        for failure in found.failures:
            click.echo(
                f"Warning: plugin {failure.name} ({failure.distribution}) failed: {failure.error}",
                err=True,
            )
    return found


def click_option(option: Option, show_default: bool) -> click.Option:
    """A strategy's Option as a click option."""
    if option.type is bool:
        flag = option.flag
        return click.Option(
            [f"{flag}/--no-{flag[2:]}", option.name],
            default=option.default,
            help=_help(option),
            show_default=show_default and option.default is not None,
        )
    kind = click.Choice(option.type) if isinstance(option.type, tuple) else option.type
    return click.Option(
        [option.flag, option.name],
        type=kind,
        default=option.default,
        help=_help(option),
        show_default=show_default and option.default is not None,
    )


def _help(option: Option) -> str:
    if option.config_key:
        return f"{option.help} [default: config {option.config_key}]"
    return option.help


class StrategyGroup(click.Group):
    """A group with one subcommand per installed strategy, built on demand.

    Subclasses implement `make_command(record)`.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(registry().strategies)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        try:
            record = registry().get(name)
        except PixelgenError as exc:
            raise click.UsageError(str(exc), ctx) from None
        return self.make_command(record)

    def make_command(self, record) -> click.Command:
        raise NotImplementedError


def checkpoint_options() -> list[click.Option]:
    """--run and --checkpoint, shared by the commands that use a trained model."""
    from pathlib import Path

    return [
        click.Option(["--run", "run_id"], help="MLflow run id [default: latest finished]."),
        click.Option(
            ["--checkpoint"],
            type=click.Path(path_type=Path),
            help="Checkpoint file or run folder instead of MLflow.",
        ),
    ]


def drawing_options(default_n: int, n_help: str, seed_help: str) -> list[click.Option]:
    """-n, --seed and --device, shared by the commands that draw sprites from a model."""
    return [
        click.Option(
            ["-n", "--num", "n"], type=int, default=default_n, show_default=True, help=n_help
        ),
        click.Option(["--seed"], type=SEED, default=0, show_default=True, help=seed_help),
        click.Option(["--device"], default="auto", help="cpu, cuda, cuda:N, mps or auto."),
    ]


def prompt_options() -> list[click.Option]:
    """--prompt and --negative: words read as the run's tags (runs trained on tags)."""
    return [
        click.Option(
            ["--prompt"],
            help='Words naming the run\'s tags, e.g. "green slime" (runs trained on tags).',
        ),
        click.Option(["--negative"], help="Tags to steer away from, with --prompt."),
    ]


def unfiltered_option() -> click.Option:
    """--no-filter: every sprite as the model draws it (`pixelgen_core.pixel_filter`)."""
    return click.Option(
        ["--no-filter", "unfiltered"],
        is_flag=True,
        help="Keep every sprite the model draws: skip the run's pixel filter, which "
        "drops draws whose stray pixels, colours and regions real sprites rarely have.",
    )


def shown(path):
    """`path` relative to the working directory when it is inside it, as users typed it."""
    from pathlib import Path

    try:
        return Path(path).relative_to(Path.cwd())
    except ValueError:
        return path


def output_options() -> list[click.Option]:
    """Where and how `sample` and `edit` write sprites: folder, scale, background, the
    palette to draw in, tileable sprites, and a sheet with its atlas."""
    from pathlib import Path

    return [
        click.Option(
            ["--out"],
            type=click.Path(path_type=Path),
            help="Output folder [default: a new samples/NAME-TIMESTAMP-XXXXXX].",
        ),
        click.Option(
            ["--scale"],
            type=int,
            default=1,
            show_default=True,
            help="Integer nearest-neighbour upscale of the PNGs.",
        ),
        click.Option(
            ["--background"],
            default="transparent",
            show_default=True,
            help="Grid background: transparent or #rrggbb.",
        ),
        click.Option(
            ["--palette"],
            help="Draw in this palette: pico-8, gameboy, endesga-32, or a .hex/.gpl/.pal/"
            ".txt/.png file (colours paired one to one with the model's).",
        ),
        click.Option(
            ["--tileable"],
            is_flag=True,
            help="Sprites that wrap around without a seam; also writes tiled.png (3x3 each).",
        ),
        click.Option(
            ["--sheet"],
            is_flag=True,
            help="Also write sheet.png and its atlas sheet.json (TexturePacker JSON Hash); "
            "sprite i is drawn alone from seed + i, so the atlas can name its seed.",
        ),
        click.Option(
            ["--export", "exports"],
            multiple=True,
            type=click.Choice(["aseprite", "aseprite-json", "tiled", "godot"]),
            help="Also write the sheet for an engine or editor (repeatable): aseprite "
            "(sprites.aseprite), aseprite-json (sheet-aseprite.json), tiled (sheet.tsx), "
            "godot (sheet.tres; with --tileable also sheet-tileset.tres). Implies --sheet.",
        ),
        click.Option(["--columns"], type=int, help="Sheet: sprites per row [default: a square]."),
        click.Option(
            ["--spacing"], type=int, default=0, show_default=True, help="Sheet: pixels between."
        ),
        click.Option(
            ["--margin"], type=int, default=0, show_default=True, help="Sheet: pixels around."
        ),
    ]


def check_output(n: int, scale: int, background: str, columns, spacing: int, margin: int) -> None:
    """Refuse bad output settings before a model is loaded."""
    from pixelgen_core.atlas import SheetLayout
    from pixelgen_core.images import parse_color

    checks.count(n)
    checks.scale(scale)
    parse_color(background)
    SheetLayout(columns, spacing, margin).check()


def write_output(
    sprites,
    out,
    name: str,
    scale: int,
    background: str,
    tileable: bool,
    sheet: bool,
    columns,
    spacing: int,
    margin: int,
    source: dict,
    exports: tuple[str, ...] = (),
) -> tuple:
    """Write the sprites, grid.png and (as asked) tiled.png, the sheet and its exports
    into `out` (a new folder under samples/ if None); return the folder and the extra
    files' names."""
    from pathlib import Path

    from pixelgen_core.files import new_folder
    from pixelgen_core.images import write_png

    out = out or new_folder(Path("samples"), f"{name}-")
    sprites.save(out, scale=scale, background=background)
    extra = []
    if tileable:
        write_png(sprites.tiled(3).grid(background=background), out / "tiled.png", scale)
        extra.append("tiled.png")
    if sheet or exports:
        sprites.save_sheet(out, columns, spacing, margin, scale, source)
        extra += ["sheet.png", "sheet.json"]
    if exports:
        from pixelgen_core.exports import write_exports

        extra += write_exports(sprites, out, exports, columns, spacing, margin, scale, tileable)
    return out, extra


# API names whose flag is not simply --NAME.
FLAGS = {"n": "-n", "label": "--class", "labels": "--class", "prompts": "--prompt"}


def flag_for(name: str) -> str:
    """The command-line flag for setting `name` as the API names it: core's own, a
    strategy's option (by its name or its config key: "training.stage" is --stage),
    else a config key stays as it is (set as KEY=VALUE), else --NAME."""
    if name in FLAGS:
        return FLAGS[name]
    from pixelgen_core.plugins import registry

    for record in registry().strategies.values():
        for option in (*record.spec.train_options, *record.spec.sample_options):
            if name in (option.name, option.config_key):
                return option.flag
    if "." in name:
        return name
    return "--" + name.replace("_", "-")
