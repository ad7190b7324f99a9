"""Run the capstone chapter's commands at their real size and keep what they show.

    python docs/learn/make_capstone_figures.py [--work DIR]

Makes `my-tilesheet.png` the way an artist's sheet often is (the bundled 1-bit sheet's
first 160 sprites, 16 a row, with a 1-pixel gap and margin), then runs every `pixelgen`
command of capstone.md's first part in order in DIR, exactly as written (the plugin
part is run by scripts/check_scaffold.sh). Writes docs/images/capstone.png (the sheet,
then the sprites of the first run and of the longer one) and
docs/learn/capstone-numbers.json, which the chapter quotes. About 12 minutes on the
2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import tempfile
from pathlib import Path

from PIL import Image

import pixelgen_core as pg
from pixelgen_core.testing import invoke

HERE = Path(__file__).resolve().parent
CHAPTER = HERE / "capstone.md"
JSON = HERE / "capstone-numbers.json"
PICTURE = HERE.parent / "images" / "capstone.png"


def chapter_commands() -> list[str]:
    """The chapter's pixelgen commands before its plugin part, in order."""
    text = CHAPTER.read_text().split("## Your own strategy")[0]
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", text, re.S)
    lines = [line.split("#")[0].strip() for b in blocks for line in b.splitlines()]
    return [line for line in lines if line.startswith("pixelgen ")]


def make_sheet(folder: Path) -> None:
    """my-tilesheet.png: 160 of the bundled 1-bit sprites, 16 a row, 1 pixel apart."""
    sprites = pg.open_dataset("kenney-mono").sprites[:160]
    pg.Sprites(sprites).save_sheet(folder, 16, spacing=1, margin=1, name="my-tilesheet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder to run in (default: a new one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="capstone-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    make_sheet(work)
    outputs = {}
    for line in chapter_commands():
        result = invoke(*shlex.split(line)[1:])
        print(f"$ {line}\n{result.output}")
        assert result.exit_code == 0, line
        outputs[line] = result.output
    newest, previous = pg.list_runs("diffusion")[:2]
    quoted = {"sprites": str(len(pg.open_dataset("my-sprites")))}
    for key, record in (("short", previous), ("long", newest)):
        run = pg.open_run("diffusion", run_id=record.id)
        evaluation = run.evaluate(1000)  # what `pixelgen evaluate diffusion` printed
        model = evaluation.rows[0]
        data_row = next(r for r in evaluation.rows if r.kind != "model")
        quoted.update(
            {
                f"{key} steps": str(run.steps),
                f"{key} sampler": (run.sampling_choice or {}).get("name", "none"),
                f"{key} FD": f"{model.metrics['fd']:.2f}",
                f"{key} pixel-clean": "yes" if model.verdict.clean else "no",
                f"{key} failed": ", ".join(model.verdict.failed) or "none",
                f"{key} memorised": f"{model.metrics['memorised']:.1%}",
            }
        )
    quoted["colours"] = str(run.palette.size - 1)
    quoted["data FD"] = f"{data_row.metrics['fd']:.2f}"
    JSON.write_text(json.dumps({"quoted": quoted}, indent=2) + "\n")
    sheet = Image.open(work / "my-tilesheet.png")
    sheet = sheet.resize((sheet.width * 2, sheet.height * 2), Image.NEAREST)
    panels = [
        sheet,
        Image.open(work / "mine" / "grid.png"),
        Image.open(work / "mine-longer" / "grid.png"),
    ]
    width = sum(p.width for p in panels) + 16 * (len(panels) + 1)
    canvas = Image.new("RGBA", (width, max(p.height for p in panels) + 32), (29, 29, 43, 255))
    x = 16
    for panel in panels:
        canvas.alpha_composite(panel.convert("RGBA"), (x, 16))
        x += panel.width + 16
    canvas.save(PICTURE)
    print(json.dumps(quoted, indent=2))


if __name__ == "__main__":
    main()
