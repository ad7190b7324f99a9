"""Time to quality: how good the default diffusion model is after M minutes of training.

    python benchmarks/time_to_quality.py [--budgets 2 4 8 12] [--seeds 0 1] [-n 1000]
        [--set KEY=VALUE ...] [--json results.json]

For each seed and budget, trains `pixelgen train diffusion` (the default config, plus
any --set overrides: the A/B of one training lever) with `training.time_budget_minutes`
in a scratch folder with its own MLflow store, then evaluates the run as `pixelgen
evaluate` does (the same seed for the samples and the data split), FD beside the pixel
statistics and the verdict, with the sampler the run chose for `auto`. Each run is separate,
so a lever that depends on the budget (a learning-rate decay) is measured as a user
would get it. Prints the table for benchmarks/RESULTS.md; run it on an idle machine,
since the budget is wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

import pixelgen_core as pg
from pixelgen_core.evaluation import PIXEL_STATS

METRICS = ("fd", "kid", "recall", "coverage", "memorised")
# the verdict's distances (the palette share is exact for every run) and the verdict: issue 35
PIXELS = (*(f"{k}_w1" for k in PIXEL_STATS if k != "palette"), "pixel_clean")


def one_run(budget: float, seed: int, n: int, overrides: list[str]) -> dict:
    settings = [f"training.time_budget_minutes={budget}", f"training.seed={seed}", *overrides]
    run = pg.train("diffusion", overrides=settings, progress=False)
    report = run.evaluate(n, seed=seed)
    held_out = next(r for r in report.calibration if r.name.startswith("data"))
    return {
        "budget_minutes": budget,
        "seed": seed,
        "steps": run.steps,
        "train_seconds": run.seconds,
        **{key: report.model.metrics[key] for key in (*METRICS, *PIXELS)},
        "sampler": (run.sampling_choice or {}).get("name", "auto"),
        "held_out_memorised": held_out.metrics["memorised"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[2, 4, 8, 12])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    results = []
    with tempfile.TemporaryDirectory(prefix="pixelgen-ttq-") as scratch:
        os.chdir(scratch)
        for seed in args.seeds:
            for budget in args.budgets:
                results.append(one_run(budget, seed, args.n, args.overrides))
                print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"\n## Diffusion time to quality ({date.today()})\n")
    print(f"- Machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch_version()}")
    print(f"- Command: `python benchmarks/time_to_quality.py {' '.join(sys.argv[1:])}`")
    print(f"- {args.n} samples per run; mean of seeds {', '.join(map(str, args.seeds))}\n")
    print(
        "| budget (min) | steps | FD ↓ | KID×1e3 ↓ | recall ↑ | coverage ↑ | memorised ↓ "
        "| isolated W1 ↓ | floating W1 ↓ | colours W1 ↓ | parts W1 ↓ | notches W1 ↓ "
        "| pixel-clean | sampler (auto) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for budget in args.budgets:
        rows = [r for r in results if r["budget_minutes"] == budget]
        mean = {k: statistics.mean(r[k] for r in rows) for k in ("steps", *METRICS, *PIXELS)}
        clean = sum(r["pixel_clean"] for r in rows)
        samplers = ", ".join(sorted({r["sampler"] for r in rows}))
        print(
            f"| {budget:g} | {mean['steps']:.0f} | {mean['fd']:.2f} | {mean['kid']:.2f} "
            f"| {mean['recall']:.3f} | {mean['coverage']:.3f} | {100 * mean['memorised']:.1f}% "
            f"| {mean['isolated_w1']:.2f} | {mean['floating_w1']:.2f} | {mean['colours_w1']:.2f} "
            f"| {mean['components_w1']:.2f} | {mean['notches_w1']:.2f} "
            f"| {clean:.0f} of {len(rows)} | {samplers} |"
        )
    held = statistics.mean(r["held_out_memorised"] for r in results)
    print(f"\nThe held-out data's own memorised rate (the baseline): {100 * held:.1f}%")


def cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()
