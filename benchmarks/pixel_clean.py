"""How clean each diffusion sampler's sprites are (issue 35): FD beside the pixel
statistics and the pixel-clean verdict, on one trained run. Run by hand from an
activated .venv, after `pixelgen train diffusion`:

    python benchmarks/pixel_clean.py [--run RUN_ID] [-n 1000] [--json OUT.json]

Scores each sampler exactly as `pixelgen evaluate diffusion -n N` does (five repeats,
seed 0), with the calibration rows of the first, and prints one markdown table for
benchmarks/RESULTS.md; --json writes the rows (and the run's recorded `auto` choice).
Also writes a 64-sprite grid per sampler (seed 0) to --pictures, to look at.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pixelgen_core as pg
from pixelgen_core.evaluation import markdown_table

SAMPLERS = {
    "consistency 2 (default: ends with a base step at t=200)": {
        "sampler": "consistency",
        "steps": 2,
    },
    "consistency 2, no final step": {"sampler": "consistency", "steps": 2, "final_step_t": 0},
    "consistency 1 (with the final step)": {"sampler": "consistency", "steps": 1},
    "dpm++ 24": {"sampler": "dpm++", "steps": 24},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run id (default: the latest finished)")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--pictures", type=Path, default=Path("samples/pixel-clean"))
    args = parser.parse_args()
    run = pg.open_run("diffusion", run_id=args.run)
    rows, calibration = [], None
    for name, options in SAMPLERS.items():
        evaluation = run.evaluate(args.n, calibrate=calibration is None, **options)
        evaluation.model.name = name
        calibration = calibration or evaluation.calibration
        rows.append(evaluation.model)
        print(f"{name}: FD {evaluation.model.metrics['fd']:.2f}, "
              f"{evaluation.model.verdict.describe()}", flush=True)  # fmt: skip
        folder = args.pictures / name.split(" (")[0].replace(" ", "-").replace(",", "")
        run.sample(64, seed=0, **options).save(folder, scale=4)
    print(f"\nrun {run.run_id}, {run.steps} steps; auto chose: {run.sampling_choice}\n")
    print(markdown_table(rows + calibration))
    if args.json:
        out = {
            "run": run.run_id,
            "steps": run.steps,
            "auto": run.sampling_choice,
            "rows": [r.to_dict() for r in rows + calibration],
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
