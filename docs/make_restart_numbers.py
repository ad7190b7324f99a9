"""The numbers of docs/usage.md's restarts paragraph: what `--restarts N` does to a
trained full default run's draws.

    python docs/make_restart_numbers.py CHECKPOINT   # about 8 minutes on a 2-core CPU

CHECKPOINT is a full default diffusion run (`pixelgen train diffusion`, or the run
docs/make_default_numbers.py trains): its checkpoint file or run folder. Scores its
DPM-Solver++ 24 draws, held to their detail levels and without the pixel filter (which
was fitted on draws without restarts), with 0, 2, 4 and 8 restarts, as
`Run.evaluate(1000, seed=0, repeats=3, filtered=False)` scores them, and times 16
sprites with each of 0, 2 and 4 (median of five draws). Writes
docs/restart-numbers.json; under "quoted", each number as docs/usage.md prints it.
Run it on an idle machine: the timings are wall-clock.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from run_numbers import head_commit, write

import pixelgen_core as pg

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "restart-numbers.json"
ROUNDS = (0, 2, 4, 8)
TIMED = (0, 2, 4)
DPM = {"sampler": "dpm++", "steps": 24}


def scored(run: pg.Run, restarts: int) -> dict:
    report = run.evaluate(1000, seed=0, repeats=3, calibrate=False, filtered=False, **DPM,
                          restarts=restarts)  # fmt: skip
    metrics = report.model.metrics
    keep = ("fd", "fd_sd", "memorised", "pixel_clean")
    row = {key: metrics[key] for key in keep}
    row.update({key: metrics[key] for key in metrics if key.endswith("_w1")})
    row["verdict"] = report.model.verdict.describe()
    print(restarts, row, flush=True)
    return row


def timed(run: pg.Run, restarts: int) -> float:
    """Median seconds of five draws of 16 sprites, after one to warm up."""
    options = {**DPM, "restarts": restarts, "filtered": False}
    run.sample(16, seed=0, **options)
    seconds = []
    for seed in range(5):
        start = time.perf_counter()
        run.sample(16, seed=seed, **options)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    args = parser.parse_args()
    run = pg.open_run("diffusion", checkpoint=args.checkpoint, device="cpu")
    rows = {str(r): scored(run, r) for r in ROUNDS}
    seconds = {str(r): timed(run, r) for r in TIMED}
    quoted = {
        "notches_without": f"{rows['0']['notches_w1']:.2f}",
        "notches_four": f"{rows['4']['notches_w1']:.2f}",
        "notches_eight": f"{rows['8']['notches_w1']:.2f}",
        "fd_without": f"{rows['0']['fd']:.2f}",
        "fd_four": f"{rows['4']['fd']:.2f}",
        "fd_eight": f"{rows['8']['fd']:.2f}",
        "parts_without": f"{rows['0']['components_w1']:.2f}",
        "parts_four": f"{rows['4']['components_w1']:.2f}",
        "copies_four": f"{100 * rows['4']['memorised']:.1f}%",
        "copies_eight": f"{100 * rows['8']['memorised']:.1f}%",
        "seconds_without": f"{seconds['0']:.1f} s",
        "seconds_four": f"{seconds['4']:.1f} s",
    }
    commit = head_commit(ROOT)
    write(OUT, commit, quoted, checkpoint=str(args.checkpoint), rows=rows, seconds=seconds)


if __name__ == "__main__":
    main()
