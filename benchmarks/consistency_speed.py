"""What the consistency stage costs and saves, on the default diffusion config (issue 14
item 3). Run by hand from an activated .venv:

    python benchmarks/consistency_speed.py [--repeat 15] [--checkpoint RUN/checkpoint.pt]

1. Training: seconds per step of the base stage and of the tuning stage (batch 64 of the
   bundled sprites), so a tuning length can be put against the base stage's time (the
   issue allows tuning half of it).
2. Sampling: model time of 16 guided sprites (the target: at most 0.03 s). Times
   `strategy.sample` alone (inference mode; no palette snapping, no image files) for
   consistency 1 and 2 steps (each ending with the default base-model step at
   sampling.final_step_t, guided; 2 steps also without it, from t = 800 and from
   t = 700, the end-of-training choice's third candidate) and DPM-Solver++ 24 steps
   (guided at t <= 700), each with
   the bfloat16 copy of the weights kept between calls (as `Run.sample` now does) and
   made again at every call (as it did before). The weights are untrained and the run
   has no detail levels (`model.detail=false`): an untrained model misses every level it
   is asked for, and the hold's redraws would be timed instead of one draw.
3. With `--checkpoint RUN/checkpoint.pt`, the same draws on that trained run as a user
   gets them: its detail levels and the hold's redraws included (the pixel filter is
   not: `strategy.sample` draws, core filters). Each call of a variant draws from the
   next sampling seed (0, 1, 2, ...; every variant the same seeds), since how many
   sprites miss their level, and so how many are drawn again, changes with the seed.

Each variant runs in blocks of --repeat calls, in three rounds so drift hits every
variant alike (calls of different variants interleaved one by one slowed the cheapest
by up to half); prints medians as markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch
from pixelgen_diffusion.config import ALONE_MID_SHARE

import pixelgen_core as pg

ROUNDS = 3
# where the choice's third candidate takes its second step on the default 1000 timesteps
ALONE_MID_T = round(ALONE_MID_SHARE * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--checkpoint", default=None, help="also time a trained run's draws")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    overrides = ["tracking.enabled=false", "model.detail=false"]  # one draw, no redraws
    run = pg.new_run("diffusion", overrides=overrides, device="cpu")
    run.strategy.consistency_steps = 1  # as if tuned, so the consistency sampler may run
    steps = step_seconds(run, args.repeat)
    base_epochs = run.strategy.stages()[0].epochs  # the run's own split of training.epochs
    bf16 = pg.bf16_supported(torch.device("cpu"))
    print(f"threads: {torch.get_num_threads()}, bf16 on this CPU: {bf16}\n")
    print("| training step, batch 64 | s (median) | × base step |\n|---|---|---|")
    for name, value in steps.items():
        print(f"| {name} | {value:.3f} | {value / steps['base']:.2f} |")
    ratio = steps["consistency"] / steps["base"]
    print(
        f"\nTuning for E epochs costs E x {ratio:.2f} / {base_epochs} of the base stage's time.\n"
    )
    print_draw_times("16 guided sprites, one draw", draw_times(run, args.repeat))
    if args.checkpoint:
        trained = pg.open_run("diffusion", checkpoint=args.checkpoint, device="cpu")
        print_draw_times(
            "16 guided sprites, a trained run's draws", draw_times(trained, args.repeat)
        )


def print_draw_times(title: str, medians: dict[str, float]) -> None:
    reference = medians["DPM-Solver++, 24 steps, copy kept"]
    print(f"\n| {title} | model s (median) | × DPM-Solver++ 24 |\n|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.4f} | {value / reference:.3f} |")


def draw_times(run: pg.Run, repeat: int) -> dict[str, float]:
    """Median seconds of `strategy.sample` for 16 sprites with each sampler, the bf16
    copy kept between calls and made per call."""
    strategy = run.strategy

    def draw(kept: bool, **given):
        seeds = itertools.count()

        def go() -> None:
            if not kept:
                strategy._bf16_copies.clear()
            options = run.sample_options(**given)
            generator = torch.Generator().manual_seed(next(seeds))
            with torch.inference_mode():
                strategy.sample(pg.Draw(16, generator, options))

        return go

    variants = {}
    for name, given in (
        ("consistency, 1 step", {"sampler": "consistency", "steps": 1}),
        ("consistency, 2 steps", {"sampler": "consistency", "steps": 2}),
        ("consistency, 2 steps, no final step", {"sampler": "consistency", "final_step_t": 0}),
        (
            f"consistency, 2 steps alone from t = {ALONE_MID_T}",  # the choice's third candidate
            {"sampler": "consistency", "final_step_t": 0, "mid_t": ALONE_MID_T},
        ),
        ("DPM-Solver++, 24 steps", {"sampler": "dpm++", "steps": 24}),
    ):
        variants[f"{name}, copy kept"] = draw(True, **given)
        variants[f"{name}, copy made per call"] = draw(False, **given)
    times = {name: [] for name in variants}
    for _ in range(ROUNDS):  # rounds of blocks, so drift hits every variant alike
        for name, fn in variants.items():
            fn()  # warm-up: oneDNN primitives, the allocator
            for _ in range(repeat):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def step_seconds(run: pg.Run, repeat: int) -> dict[str, float]:
    """Median seconds of a training step of each stage, interleaved, on one batch of 64."""
    strategy = run.strategy
    batch = run.training_data().unaugmented(torch.arange(64), torch.device("cpu"))
    strategy.ema_updates = 1  # as if the base stage had run
    strategy.train()
    times = {"base": [], "consistency": []}
    for i in range(repeat + 1):
        for stage, name in (("base", "base"), ("consistency", "consistency")):
            start = time.perf_counter()
            strategy.train_step(batch, stage)
            if i:  # the first round warms up
                times[name].append(time.perf_counter() - start)
    strategy.eval()
    return {name: statistics.median(values) for name, values in times.items()}


if __name__ == "__main__":
    main()
