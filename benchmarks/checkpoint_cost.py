"""What writing checkpoints costs a training run: the default diffusion config's base
stage, saving after every epoch (`training.checkpoint_seconds=0`, as before) against
saving at most every `training.checkpoint_seconds` (the default). Run by hand from an
activated .venv, alone on the machine:

    python benchmarks/checkpoint_cost.py [--epochs 20] [--rounds 3]

Each arm is a whole `pixelgen_core.train` run in a scratch folder (tracking off, no
sample grids), timed by the Trainer itself; the arms alternate, round after round, so
the machine's drift hits both alike. Prints medians and their ratio as markdown for
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import pixelgen_core as pg

ARMS = {"every epoch": ["training.checkpoint_seconds=0"], "default (by time)": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.epochs < 1 or args.rounds < 1:
        parser.error("--epochs and --rounds must be at least 1")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    common = [
        f"training.epochs={args.epochs}",
        "consistency.share=0",
        "training.choose_sampler=0",  # a run with one candidate is measured too: not here
        "training.sample_every=0",
        "tracking.enabled=false",
    ]
    seconds: dict[str, list[float]] = {name: [] for name in ARMS}
    steps = 0
    with tempfile.TemporaryDirectory(prefix="pixelgen-ckpt-") as scratch:
        os.chdir(scratch)
        for _ in range(args.rounds):
            for name, extra in ARMS.items():
                run = pg.train("diffusion", overrides=[*common, *extra], progress=False)
                seconds[name].append(run.seconds)
                steps = run.steps
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    before = medians["every epoch"]
    print(f"{steps} steps ({args.epochs} epochs) per run, {args.rounds} rounds\n")
    print("| checkpoints | run s (median) | steps per s | × every epoch |\n|---|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} | {steps / value:.2f} | {value / before:.3f} |")
    print("\nEvery run:", {name: [round(s, 1) for s in values] for name, values in seconds.items()})


if __name__ == "__main__":
    main()
