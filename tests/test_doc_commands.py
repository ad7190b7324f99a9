"""Every `pixelgen ...` command the README and docs/ show, run, not only parsed.

Each page's commands run in order in a fresh project folder, as a reader would type
them: its `train` commands make the runs that its `sample`, `edit` and `evaluate`
commands then open. Two things differ from a reader's terminal, so that the whole
batch takes a minute or two:

- a command that trains gets a small model, one epoch and, for diffusion, 4 sampling
  steps by default, appended as overrides (`SMALL`), and one that evaluates scores
  fewer sprites (`FEWER`); everything else runs as written;
- the files a reader would bring (a tilesheet, `hero.png`, a tagged `my-sprites/`
  folder, `my.yaml`) are made first, from the bundled sprites.

A command not run here says where it does run instead (`RUN_ELSEWHERE`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pixelgen_diffusion.testing import TINY

from pixelgen_core.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]*\b|\[")  # NAME, RUN, K, [--json]: blanks to fill
COMMANDS = set(cli.list_commands(click.Context(cli)))
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")

SMALL = {
    "vae": ["model.channels=[8,16]"],
    "vqvae": [
        "model.channels=[8,16]",
        "model.codebook_size=16",
        "model.code_dim=8",
        "prior.layers=1",
        "prior.width=16",
        "prior.heads=2",
    ],
    "diffusion": [
        *TINY,
        "training.choose_sampler=0",
        "sampling.steps=4",  # its draws: 4 denoising steps unless a command gives --steps
        # one epoch misses every detail level it is asked for, and the hold would draw
        # each sprite three times over (the hold has its own tests)
        "model.detail=false",
    ],
    "maskgit": ["model.unet_channels=[8,16]"],
}
ONE_EPOCH = ["training.epochs=1", "training.grid_size=4"]
FEWER = {"evaluate": ["-n", "32", "--repeats", "2"], "--prompts": ["--per-prompt", "2"]}

RUN_ELSEWHERE = {
    "--device cuda": "needs a GPU: benchmarks/RESULTS.md records the GPU runs",
    "sparkle": "scripts/check_scaffold.sh (run by .ci/run) installs the scaffold and runs it",
    "compare --budget-minutes": "trains every strategy for minutes; tests/test_evaluation.py "
    "runs compare on small models",
    "compare vae --epochs 20": "trains for minutes; tests/test_evaluation.py runs compare",
    "studio": "serves until Ctrl-C: tests/studio starts it and drives its page in Chromium",
}


def page_commands(page: Path) -> list[str]:
    """The runnable commands in a page's code blocks, in order (not inline code, not
    patterns with blanks to fill)."""
    text = page.read_text()
    found = []
    for match in re.finditer(r"```[a-z]*\n(.*?)```|(?:^|\n\n)((?: {4}.*\n?)+)", text, re.S):
        block = match.group(1) or match.group(2)
        for line in block.splitlines():
            line = re.split(r"\s(?:&&|\||;)\s", line.strip())[0]
            words = line.split()
            if len(words) < 2 or words[0] != "pixelgen":
                continue
            if words[1] not in COMMANDS and not words[1].startswith("-"):
                continue  # prose that starts with the word pixelgen
            if PLACEHOLDER.search(line.split("#")[0]) or "..." in line or "…" in line:
                continue
            found.append(line)
    return found


def elsewhere(line: str) -> str | None:
    return next((why for key, why in RUN_ELSEWHERE.items() if key in line), None)


def as_run(args: list[str], folder: Path) -> list[str]:
    """The command as this test runs it: smaller when it trains, and a run id from the
    docs replaced by one of this folder's runs."""
    if args[0] == "train":
        args = [*args, *ONE_EPOCH, *SMALL.get(args[1], [])]
    if args[0] == "evaluate":
        args = [*args, *FEWER["--prompts" if "--prompts" in args else "evaluate"]]
    for i, arg in enumerate(args):
        if RUN_ID.match(arg) and i > 0 and args[i - 1] == "--run":  # the strategy's newest
            args[i] = max(p.name for p in (folder / "runs" / args[1]).glob("*"))
        elif RUN_ID.match(arg) and i > 0 and args[i - 1] == "--delete":  # the oldest of all
            args[i] = min(p.name for p in (folder / "runs").glob("*/*"))
    return args


# The sprites of "your own" a page's examples assume: usage.md's are 32x32 platformer
# sprites named by kind (`enemies/slimeGreen.png`), as kenney-arcade's are.
OWN_SPRITES = {"docs/usage.md": "kenney-arcade"}


def bring_files(folder: Path, commands: list[str], page: str) -> None:
    """What a reader would have before running the page: the repository's configs, a
    tilesheet, tall characters, sprites to edit, a config file, and a folder of their
    own sprites named by kind (unless the page slices one)."""
    import shutil

    import pixelgen_core as pg

    shutil.copytree(ROOT / "configs", folder / "configs")
    colored = pg.open_dataset("kenney-colored").sprites
    pg.Sprites(colored[:32]).save_sheet(folder, 8, spacing=1, margin=1, name="my-tilesheet")
    tall = np.concatenate([colored[32:40], colored[40:48, :8]], axis=1)  # 16 wide, 24 high
    pg.Sprites(tall).save_sheet(folder, 4, name="chars")
    (folder / "my.yaml").write_text("training:\n  batch_size: 32\n")
    own = pg.open_dataset(OWN_SPRITES.get(page, "kenney-colored"))
    names = own.names if page in OWN_SPRITES else [f"sprite{i}" for i in range(len(own))]
    by_name = dict(zip(names, own.sprites, strict=True))
    for file, name in (("hero.png", 100), ("slime.png", 200)):
        sprite = by_name.get("enemies/slimeGreen" if file == "slime.png" else "", own.sprites[name])
        Image.fromarray(sprite, "RGBA").save(folder / file)
    if page in OWN_SPRITES and not any("data slice" in c and "my-sprites" in c for c in commands):
        for name, sprite in by_name.items():
            path = folder / "my-sprites" / f"{name}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(sprite, "RGBA").save(path)


# Pages whose commands open a run they do not train themselves: what to train first.
BEFORE = {"docs/evaluation.md": ["pixelgen train vae"]}


@pytest.mark.parametrize(
    "page", [p for p in PAGES if page_commands(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_command_a_page_shows_runs(page, tmp_path):
    commands = page_commands(page)
    bring_files(tmp_path, commands, str(page.relative_to(ROOT)))
    failures = []
    for line in [*BEFORE.get(str(page.relative_to(ROOT)), []), *commands]:
        if elsewhere(line):
            continue
        args = as_run(shlex.split(line, comments=True)[1:], tmp_path)
        result = CliRunner().invoke(cli, args)
        if result.exit_code != 0:
            tail = (result.output.strip().splitlines() or [repr(result.exception)])[-1]
            failures.append(f"{line}\n    -> exit {result.exit_code}: {tail}")
    assert not failures, f"{page.relative_to(ROOT)}:\n" + "\n".join(failures)


def test_the_commands_not_run_here_say_where_they_run():
    skipped = [line for page in PAGES for line in page_commands(page) if elsewhere(line)]
    assert skipped and all(elsewhere(line) for line in skipped)
    assert len(skipped) < 16  # a short list, each with its reason
    assert sum(bool(page_commands(page)) for page in PAGES) >= 10  # the extraction works
