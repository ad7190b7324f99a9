"""The README's first picture and the numbers beside it: the main job, run as a new user
runs it, then scored.

    python docs/make_demo_numbers.py [--workdir DIR]

Clones this repository's committed HEAD into DIR (default: a new temporary folder),
times `bash scripts/demo.sh` there (set-up, training with configs/diffusion-quick.yaml,
the sampler choice and the sheet; run it on an idle machine, since the recipe has a
time budget), then scores the run like `pixelgen evaluate diffusion -n 1000`, and once
more with `--no-clean` (the sprites before the outline cleaner, and so without the
pixel filter, which was fitted on cleaned ones). Copies
the sheet to docs/images/demo-samples.png and writes docs/demo-numbers.json; under
"quoted", each number as the README prints it (tests/test_docs.py checks that the
README quotes them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from run_numbers import head_commit, scored, trained, write

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "demo-numbers.json"
PICTURE = ROOT / "docs" / "images" / "demo-samples.png"


def steps_by_stage(clone: Path, total: int) -> dict[str, int]:
    """Each training stage's steps, from the run's progress.jsonl; the last stage ends at
    `total`, the run's steps (progress is logged every few steps, so its last line may
    come before the end)."""
    [progress] = (clone / "runs" / "diffusion").glob("*/progress.jsonl")
    last: dict[str, int] = {}  # the step a stage ended at (its last line), stages in order
    for line in progress.read_text().splitlines():
        entry = json.loads(line)
        last[entry["stage"]] = entry["step"]
    stages, ends = list(last), list(last.values())
    ends[-1] = total
    return {s: ends[i] - (ends[i - 1] if i else 0) for i, s in enumerate(stages)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pixelgen-demo-"))
    clone = work / "pixelgen"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    commit = head_commit(clone)

    started = time.perf_counter()
    demo = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=clone, check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    steps, seconds, chosen = trained(demo.stdout)
    model, data = scored(".venv/bin/pixelgen", clone)
    unclean, _ = scored(".venv/bin/pixelgen", clone, "--no-clean")
    verdict = model["verdict"]
    stages = steps_by_stage(clone, steps)
    shutil.copyfile(clone / "samples" / "demo" / "grid.png", PICTURE)

    m = model["metrics"]
    minutes, secs = divmod(round(wall), 60)
    quoted = {
        "wall time": f"{minutes} min {secs} s",
        "base steps": f"{stages.get('base', 0)} base steps",
        "training seconds": f"{seconds:.0f} s",
        "sampler": chosen,
        "FD": f"FD {m['fd']:.2f} ± {m['fd_sd']:.2f}",
        "data FD": f"{data['metrics']['fd']:.2f}",
        "isolated W1": f"isolated-pixel distance {verdict['values']['isolated']:.2f}",
        "floating W1": f"floating-pixel distance {verdict['values']['floating']:.2f}",
        "colours W1": f"colour distance {verdict['values']['colours']:.2f}",
        "isolated limit": f"{verdict['limits']['isolated']:.2f}",
        "colours limit": f"{verdict['limits']['colours']:.2f}",
        "floating limit": f"{verdict['limits']['floating']:.2f}",
        "notches W1": f"notch distance {verdict['values']['notches']:.2f}",
        "notches limit": f"{verdict['limits']['notches']:.2f}",
        "verdict": "pixel-clean" if verdict["clean"] else "not yet pixel-clean",
    }
    drawn = unclean["verdict"]["values"]
    quoted["notches W1 drawn"] = f"notch distance {drawn['notches']:.2f} as drawn"
    quoted["FD drawn"] = f"FD {unclean['metrics']['fd']:.2f} as drawn"
    if stages.get("cleaner"):
        quoted["cleaner steps"] = f"{stages['cleaner']} steps of the outline cleaner"
    if stages.get("consistency"):  # a recipe with consistency tuning
        quoted["tuning steps"] = f"{stages['consistency']} of consistency tuning"
    write(
        OUT,
        commit,
        quoted,
        wall_seconds=wall,
        steps=steps,
        train_seconds=seconds,
        steps_by_stage=stages,
        sampler=chosen,
        model=model,
        unclean=unclean,
        data=data,
    )


if __name__ == "__main__":
    main()
