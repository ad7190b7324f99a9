"""The docs stay true: every hook is documented with its exact signature and tested,
the tutorials' examples run, every picture and linked page exists, every `pixelgen`
command shown parses, and pages quote the numbers their scripts measured."""

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pixelgen_core import hookspecs
from pixelgen_core.cli import cli
from pixelgen_core.plugins import discover

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = (ROOT / "docs" / "plugins.md").read_text()


def hooks():
    return [
        (name, fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "pixelgen_spec")
    ]


def test_there_are_hooks():
    assert [name for name, _ in hooks()] == ["register_strategies"]


def test_every_hook_appears_in_the_tutorial_with_its_exact_signature():
    for name, fn in hooks():
        assert f"`{name}{inspect.signature(fn)}`" in TUTORIAL, f"document {name} in plugins.md"
        assert f"def {name}{inspect.signature(fn)}:" in TUTORIAL, f"show an example of {name}"


def test_every_hook_has_a_test():
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    for name, _ in hooks():
        assert re.search(rf"def test_\w*{name}\w*\(", tests), f"no test named after {name}"


def test_the_tutorials_hook_example_runs(tmp_path, monkeypatch):
    """Put the tutorial's example in a generated plugin's place and load it."""
    assert CliRunner().invoke(cli, ["new-strategy", "sparkle"]).exit_code == 0
    blocks = re.findall(r"```python\n(.*?)```", TUTORIAL, re.S)
    [example] = [b for b in blocks if "@hookimpl" in b and "sparkle-wide" in b]
    package = tmp_path / "pixelgen-sparkle" / "pixelgen_sparkle"
    (package / "__init__.py").write_text(example)
    monkeypatch.syspath_prepend(str(package.parent))
    try:
        module = importlib.import_module("pixelgen_sparkle")
        ep = type("EP", (), {"name": "sparkle", "module": "pixelgen_sparkle", "dist": None})()
        ep.load = lambda: module
        registry = discover(eps=[ep], strict=True)
        assert sorted(registry.strategies) == ["sparkle", "sparkle-wide"]
        wide = registry.get("sparkle-wide").spec.load_default_config()
        assert wide["model"]["width"] == 128 and wide["training"]["epochs"] == 20
    finally:
        for name in [m for m in sys.modules if m.startswith("pixelgen_sparkle")]:
            del sys.modules[name]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def test_the_api_guide_runs_as_written(tmp_path):
    """Every example in docs/api.md, in order, in one namespace, in a fresh folder."""
    namespace: dict = {}
    for block in python_blocks(ROOT / "docs" / "api.md"):
        exec(compile(block, "docs/api.md", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "my-sprites" / "grid.png").is_file()
    assert (tmp_path / "my-evaluation" / "evaluation.md").is_file()
    assert (tmp_path / "my-comparison" / "compare.png").is_file()
    assert len(list((tmp_path / "runs" / "vae").glob("*/checkpoint.pt"))) == 2


def test_the_readme_python_example_runs(tmp_path):
    [example] = python_blocks(ROOT / "README.md")
    small = '{"training.epochs": 1, "data.dataset": "kenney-mono", "model.channels": [8, 16]}'
    example = example.replace('{"training.epochs": 5}', small)  # the same calls, faster
    assert small in example
    exec(compile(example, "README.md", "exec"), {})  # noqa: S102
    assert len(list((tmp_path / "sprites").glob("sprite_*.png"))) == 16


# -- every picture and command the docs show is real ------------------------------------
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]*\b|\[")  # NAME, RUN, K, [--json]: blanks to fill


def pictures(page: Path) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text())


def test_every_picture_a_page_shows_exists():
    missing = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in pictures(page)
        if not target.startswith("http") and not (page.parent / target).is_file()
    ]
    assert not missing
    assert sum(len(pictures(page)) for page in PAGES) > 30  # the pattern finds them


def shown_commands(page: Path) -> list[tuple[str, bool]]:
    """`pixelgen ...` commands in code blocks (fenced or indented), and in inline code
    (flagged True: prose may name a command without its arguments)."""
    text = page.read_text()
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    blocks += re.findall(r"(?:^|\n\n)((?: {4}.*\n?)+)", text)
    lines = [(line.strip(), False) for block in blocks for line in block.splitlines()]
    lines += [(line, True) for line in re.findall(r"`(pixelgen [^`]+)`", text)]
    commands = [(re.split(r"\s(?:&&|\||;)\s", line)[0], inline) for line, inline in lines]
    return [(line, inline) for line, inline in commands if line.startswith("pixelgen ")]


def parse(line: str) -> None:
    """Parse a shown command against the real CLI, down to its last subcommand, without
    running it; raises click's error for an unknown command or option."""
    import shlex

    import click

    args = shlex.split(line, comments=True)[1:]
    command, name, parent = cli, "pixelgen", None
    while True:
        try:
            context = command.make_context(name, args, parent=parent)
        except (click.exceptions.Exit, click.exceptions.NoArgsIsHelpError):  # --help, a group
            return
        if not isinstance(command, click.Group):
            return
        rest = [*context._protected_args, *context.args]
        if not rest:
            return
        name, command, args = command.resolve_command(context, rest)
        parent = context


def test_every_pixelgen_command_the_docs_show_parses():
    import click

    text = "\n".join(page.read_text() for page in PAGES)
    made = set(re.findall(r"pixelgen new-strategy ([a-z][\w-]*)", text))  # the docs make them
    seen, failures = 0, []
    for page in PAGES:
        for line, inline in shown_commands(page):
            if PLACEHOLDER.search(line.split("#")[0]) or "..." in line or "…" in line:
                continue  # a pattern with blanks to fill, not a command to run
            seen += 1
            try:
                parse(line)
            except click.MissingParameter:
                if not inline:
                    failures.append(f"{page.relative_to(ROOT)}: {line}: missing an argument")
            except click.ClickException as error:
                message = error.format_message()
                if "does not exist" in message:  # a file the example itself makes
                    continue
                if any(f"unknown strategy '{name}'" in message for name in made):
                    continue
                failures.append(f"{page.relative_to(ROOT)}: {line}: {message}")
    assert not failures, "\n".join(failures)
    assert seen > 80  # the extraction finds the commands


def test_a_wrong_command_does_not_parse():
    import click

    for line in ("pixelgen sample diffusion --stepz 2", "pixelgen trian vae"):
        with pytest.raises(click.ClickException):
            parse(line)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_pages_finds_its_page_and_heading():
    broken = []
    for page in PAGES:
        for target in re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path) if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
                if anchor not in {slug(h) for h in headings}:
                    broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


# A page's numbers come from the script its footer names, which writes them to JSON
# exactly as the page prints them.
NUMBERS = {  # page: (the script, its JSON, the JSON's key for the quoted numbers)
    "docs/learn/data.md": ("make_data_figures.py", "docs/learn/data-numbers.json", None),
    "docs/evaluation.md": ("make_evaluation_numbers.py", "docs/evaluation-numbers.json", "quoted"),
    "docs/evaluation.md#models": ("make_model_rows.py", "docs/model-rows.json", "quoted"),
    "README.md": ("make_demo_numbers.py", "docs/demo-numbers.json", "quoted"),
    "README.md#default": ("make_default_numbers.py", "docs/default-numbers.json", "quoted"),
    "docs/usage.md#restarts": ("make_restart_numbers.py", "docs/restart-numbers.json", "quoted"),
    "docs/learn/diffusion.md#noise-levels": (
        "make_noise_levels.py",
        "docs/learn/noise-levels.json",
        "quoted",
    ),
    **{
        f"docs/learn/{name}.md": (
            f"make_{name}_figures.py",
            f"docs/learn/{name}-numbers.json",
            "quoted",
        )
        for name in (
            "conditioning",
            "vae",
            "vqvae",
            "diffusion",
            "maskgit",
            "words",
            "capstone",
            "networks",
        )
    },
}


@pytest.mark.parametrize("page", sorted(NUMBERS))
def test_a_page_quotes_the_numbers_its_script_measured(page):
    script, path, key = NUMBERS[page]
    numbers = json.loads((ROOT / path).read_text())
    numbers = numbers[key] if key else numbers
    page = page.split("#")[0]  # a page whose numbers come from two scripts
    text = (ROOT / page).read_text()
    assert script in text  # the page says where its numbers come from
    missing = [f"{name}: {value}" for name, value in numbers.items() if value not in text]
    assert not missing, f"{page} does not quote: " + "; ".join(missing)


NUMBER = re.compile(r"(?<![\w.#/])\d+\.\d+%?|(?<![\w.#/])\d+%")
# What a page's prose states that no script measures: settings, arithmetic, file facts.
NOT_MEASURED = {
    "docs/learn/data.md": {"0.15", "0.50", "0.5", "1.1"},
    "docs/evaluation.md": {"1.65", "3.71"},  # the encoder file's MB; a format example
    "docs/learn/conditioning.md": {"0.2"},
    "docs/learn/vae.md": {"5.7"},  # sqrt(32)
    "docs/learn/vqvae.md": {"0.444", "0.99"},
    # cosine, EMA, an exercise's arithmetic, a paper's section, log(0.01), logit-normal
    # tails; RESULTS' model times of two student steps; a filter's keep rate (a run's
    # train log); the long config's parameter count, in millions
    "docs/learn/diffusion.md": {
        *("0.008", "1.008", "0.999", "0.49", "0.20", "3.1", "4.2", "4.6", "4.5%"),
        *("0.023", "0.054", "27%", "2.1"),
    },
    "docs/learn/maskgit.md": {"0.8"},
    "docs/learn/networks.md": {"1.2", "2.1"},  # parameter counts, in millions
    "README.md": {"3.17", "3.10"},  # MLflow's version, Python's
    "docs/usage.md": {"3.12", "3.10"},  # Python versions
    "docs/studio.md": {"20.1"},  # an example upload's size in an error message
}
# Pages that show what the scripts of other pages measured: any numbers file is a source.
SHOWCASES = (
    "README.md",
    "docs/usage.md",
    "docs/api.md",
    "docs/plugins.md",
    "docs/studio.md",
    "docs/learn/README.md",
)


def json_numbers(node) -> list[float]:
    """Every number in a numbers file: its values, and the numbers inside its strings."""
    if isinstance(node, dict):
        return [x for value in node.values() for x in json_numbers(value)]
    if isinstance(node, list):
        return [x for value in node for x in json_numbers(value)]
    if isinstance(node, str):
        return [float(n.rstrip("%")) for n in NUMBER.findall(node)]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [abs(float(node))]
    return []


def comes_from(number: str, measured: list[float]) -> bool:
    """`number` as printed is one of `measured`, rounded to its places (or a share
    printed as a percentage)."""
    places = len(number.rstrip("%").partition(".")[2])
    value = float(number.rstrip("%"))
    scales = (1, 100) if number.endswith("%") else (1,)
    return any(round(x * s, places) == value for x in measured for s in scales)


@pytest.mark.parametrize("page", sorted({page.split("#")[0] for page in NUMBERS} | set(SHOWCASES)))
def test_every_number_on_a_page_comes_from_its_scripts(page):
    """A measured number written into a page by hand goes stale silently; one that rounds
    from the page's numbers file was measured by its script. Code blocks are left out
    (their numbers are settings the commands pass)."""
    measured = [
        x
        for key, (_, path, _) in NUMBERS.items()
        if key.split("#")[0] == page or page in SHOWCASES
        for x in json_numbers(json.loads((ROOT / path).read_text()))
    ]
    text = re.sub(r"```.*?```", "", (ROOT / page).read_text(), flags=re.S)
    text = text.replace("\u2212", " ").replace("-", " ")  # signs are not digits
    numbers = set(NUMBER.findall(text)) - NOT_MEASURED.get(page, set())
    unsourced = sorted(n for n in numbers if not comes_from(n, measured))
    assert not unsourced, f"{page} quotes numbers no script wrote: {unsourced}"


def test_every_link_to_a_line_of_code_lands_on_what_it_names():
    """`[drop_labels](../../pixelgen_core/strategy.py#L448)` must point at a line that
    holds `drop_labels`: moved code breaks the link, and this says so."""
    links, wrong = 0, []
    for page in PAGES:
        for name, path, line in re.findall(
            r"\[`?([\w.]+)`?\]\(([^)#\s]+\.py)#L(\d+)\)", page.read_text()
        ):
            links += 1
            lines = (page.parent / path).read_text().splitlines()
            if int(line) > len(lines) or name.split(".")[-1] not in lines[int(line) - 1]:
                wrong.append(f"{page.relative_to(ROOT)}: {name} is not at {path}#L{line}")
    assert not wrong, "\n".join(wrong)
    assert links >= 2


CHAPTERS = sorted(p for p in (ROOT / "docs" / "learn").glob("*.md") if p.name != "README.md")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_has_the_same_shape(chapter):
    """Intuition first, then at least one picture, the knobs, exercises, and a footer
    naming the script that made its pictures and numbers."""
    text = chapter.read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "Intuition", headings
    assert {"Knobs", "Exercises"} <= set(headings), headings
    assert re.search(r"!\[[^\]]*\]\(\.\./images/", text), "no picture"
    footer = text.rstrip().rsplit("\n---\n", 1)[-1]
    assert f"make_{chapter.stem}_figures.py" in footer, "the footer names no figures script"
    assert "@@" not in text  # no unfilled number


def test_the_consistency_chain_lengths_in_the_diffusion_chapter():
    """diffusion.md says how many links tie x_999 to the clean end in each phase."""
    import re

    import torch
    from pixelgen_diffusion.consistency import gap_start

    counts = []
    for phase in range(6):
        t, links = 999, 0
        while t >= 0:
            t, links = int(gap_start(torch.tensor([t]), phase)), links + 1
        counts.append(links)
    text = " ".join((ROOT / "docs/learn/diffusion.md").read_text().split())
    stated = re.search(r"takes ([\d, and]+) links in phases 0 to 5", text).group(1)
    assert [int(n) for n in re.findall(r"\d+", stated)] == counts


def test_the_noise_levels_section_quotes_what_its_script_computes():
    """make_noise_levels.py needs no trained run, so its numbers are recomputed here."""
    import importlib.util

    path = ROOT / "docs/learn/make_noise_levels.py"
    spec = importlib.util.spec_from_file_location("make_noise_levels", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    measured = script.measure()
    saved = json.loads((ROOT / "docs/learn/noise-levels.json").read_text())
    assert saved == {"quoted": measured["quoted"], "chain": measured["chain"]}
    text = (ROOT / "docs/learn/diffusion.md").read_text()
    missing = [f"{k}: {v}" for k, v in measured["quoted"].items() if v not in text]
    assert not missing, "diffusion.md does not quote: " + "; ".join(missing)
