"""The README's second picture and the numbers beside it: the full default diffusion run,
trained as a user trains it, then scored.

    python docs/make_default_numbers.py [--workdir DIR]   # about 13 min, then 5 to score

Runs `pixelgen train diffusion` (every default: 250 epochs, the end-of-training choice
of sampler and pixel filter) in DIR (default: a new temporary folder, with a local MLflow
store there), timing it; run it on an idle machine. A DIR that already holds this
script's `train.log` and `wall_seconds` from an earlier call is scored without training
again. Then scores the run like `pixelgen evaluate diffusion -n 1000`, and once more with
`--no-clean` (its sprites before the outline cleaner, and so without the pixel filter,
which was fitted on cleaned ones), draws the sheet
(64 sprites, seed 0, the run's default path) to docs/images/diffusion-samples.png and
writes docs/default-numbers.json; under "quoted", each number as the README prints it
(tests/test_docs.py checks that the README quotes them).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run_numbers import head_commit, scored, trained, write

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "default-numbers.json"
sys.path.insert(0, str(ROOT / "docs" / "learn"))


def pixelgen() -> str:
    """The `pixelgen` of the Python running this script."""
    found = Path(sys.executable).with_name("pixelgen")
    return str(found) if found.exists() else shutil.which("pixelgen") or "pixelgen"


def train(work: Path) -> tuple[str, float]:
    """`pixelgen train diffusion` in `work`, once: its output and wall seconds."""
    log, wall = work / "train.log", work / "wall_seconds"
    if not (log.exists() and wall.exists()):
        started = time.perf_counter()
        done = subprocess.run(
            [pixelgen(), "train", "diffusion"], cwd=work, check=True, capture_output=True, text=True
        )
        wall.write_text(f"{time.perf_counter() - started:.1f}\n")
        log.write_text(done.stdout)
    return log.read_text(), float(wall.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="pixelgen-default-"))
    work.mkdir(parents=True, exist_ok=True)
    output, wall = train(work)
    steps, seconds, chosen = trained(output)
    kept = re.search(r"pixel filter kept: keeps (\d+)% of draws", output)
    checkpoint = re.search(r"checkpoint: (\S+)", output).group(1)

    model, data = scored(pixelgen(), work)
    unclean, _ = scored(pixelgen(), work, "--no-clean")
    verdict, m = model["verdict"], model["metrics"]

    from figures import save

    import pixelgen_core as pg

    run = pg.open_run("diffusion", checkpoint=work / checkpoint, device="cpu")
    save("diffusion-samples.png", run.sample(64, seed=0), 16)

    minutes, secs = divmod(round(wall), 60)
    values, limits = verdict["values"], verdict["limits"]
    quoted = {
        "wall time": f"{minutes} min {secs} s",
        "sampler": chosen,
        "filter": f"keeps {kept.group(1)}% of draws" if kept else "no pixel filter",
        "FD": f"FD {m['fd']:.2f} ± {m['fd_sd']:.2f}",
        "data FD": f"the real sprites {data['metrics']['fd']:.2f}",
        "isolated W1": f"isolated-pixel distance {values['isolated']:.2f}",
        "isolated limit": f"allows {limits['isolated']:.2f}",
        "floating W1": f"floating {values['floating']:.2f} ({limits['floating']:.2f})",
        "colours W1": f"colours {values['colours']:.2f} ({limits['colours']:.2f})",
        "parts W1": f"regions {values['components']:.2f} ({limits['components']:.2f})",
        "notches W1": f"notches {values['notches']:.2f} ({limits['notches']:.2f})",
        "notches W1 drawn": f"{unclean['verdict']['values']['notches']:.2f} as the model drew them",
        "palette W1": f"palette {values['palette']:.2f} ({limits['palette']:.2f})",
        "copies": f"{m['memorised']:.1%} near-copies",
        "data copies": f"own {data['metrics']['memorised']:.1%}",
        "verdict": "pixel-clean" if verdict["clean"] else "not yet pixel-clean",
        "speed": f"{model['extra']['sample_ms_per_sprite']:.0f} ms a sprite",
    }
    commit = head_commit(ROOT)
    write(
        OUT,
        commit,
        quoted,
        wall_seconds=wall,
        steps=steps,
        train_seconds=seconds,
        sampler=chosen,
        model=model,
        unclean=unclean,
        data=data,
    )


if __name__ == "__main__":
    main()
