"""Memory and speed per sprite size, for every installed strategy.

    python benchmarks/size_memory.py [--sizes 8 16 24 32 48 64] [--batch 64]
        [--strategies vae vqvae diffusion maskgit] [--set maskgit:model.patch=2]

For each strategy and size, a fresh process builds the strategy with its default
config (which fits the model to the size) on blocky test sprites, then measures:
training (one warm-up step per stage, then three timed steps per stage: images per
second, and the peak resident memory those steps added above the process before them)
and sampling 16 sprites with the default sample options (seconds, and the memory it
added). Peak memory is the process's VmHWM, reset before each phase; the baseline is
its resident size just before, so torch's own footprint is not counted. Prints the table for
benchmarks/RESULTS.md, with memory per sprite pixel (bytes per batch x height x width)
so growth faster than pixels x batch shows as a rising column.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date


def resident() -> int:
    """This process's resident memory now, in bytes."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak() -> int:
    """This process's peak resident memory since the last `reset_peak`, in bytes."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak() -> None:
    """Start the peak afresh (Linux: writing 5 to clear_refs resets VmHWM), so sampling's
    peak is its own and not training's."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def measure(name: str, size: int, batch: int, overrides: list[str]) -> dict:
    """One strategy at one size, in this process (run by `main` in a fresh one)."""
    import torch

    from pixelgen_core import DataInfo
    from pixelgen_core.testing import PALETTE, blocky_batch, make_strategy, sample

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    info = DataInfo(size, PALETTE, 3, batch)
    strategy = make_strategy(name, ["tracking.enabled=false", *overrides], info)
    if name in ("diffusion",):
        strategy.ema_updates = 1  # so the consistency stage may train here
    data = blocky_batch(size, 3, n=batch)
    strategy.train()
    stages = [s.name for s in strategy.stages() if s.epochs > 0]
    for stage in stages:
        strategy.train_step(data, stage)  # warm-up: optimizer state, kernels
    reset_peak()
    before, start = resident(), time.perf_counter()
    for stage in stages:
        for _ in range(3):
            strategy.train_step(data, stage)
    train_seconds = time.perf_counter() - start
    train_peak = peak() - before
    strategy.eval()
    reset_peak()
    before = resident()
    start = time.perf_counter()
    with torch.inference_mode():
        sample(strategy, 16, torch.Generator().manual_seed(0))
    sample_seconds = time.perf_counter() - start
    return {
        "strategy": name,
        "size": size,
        "batch": batch,
        "stages": stages,
        "train_images_per_second": 3 * len(stages) * batch / train_seconds,
        "train_peak_mb": max(train_peak, 0) / 2**20,
        "sample_16_seconds": sample_seconds,
        "sample_peak_mb": max(peak() - before, 0) / 2**20,
        "overrides": overrides,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 24, 32, 48, 64])
    parser.add_argument("--strategies", nargs="+", default=["vae", "vqvae", "diffusion", "maskgit"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME:KEY=V")
    parser.add_argument("--json", type=argparse.FileType("w"))
    parser.add_argument("--one", nargs=3, metavar=("NAME", "SIZE", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, size, batch = args.one
        print(json.dumps(measure(name, int(size), int(batch), args.overrides)))
        return
    rows = []
    for name in args.strategies:
        extra = [s.split(":", 1)[1] for s in args.sets if s.startswith(name + ":")]
        for size in args.sizes:
            cmd = [sys.executable, __file__, "--one", name, str(size), str(args.batch), *extra]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode:
                lines = done.stderr.strip().splitlines()
                why = lines[-1] if lines else f"exit {done.returncode}, no message (killed?)"
                print(f"{name} {size}: {why}", file=sys.stderr)
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {date.today()}")
    print(
        "| strategy | size | train img/s | train peak MB | bytes/pixel | sample 16 s | sample MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        per_pixel = r["train_peak_mb"] * 2**20 / (r["batch"] * r["size"] ** 2)
        label = r["strategy"] + (" " + " ".join(r["overrides"]) if r["overrides"] else "")
        print(
            f"| {label} | {r['size']} | {r['train_images_per_second']:.0f} | "
            f"{r['train_peak_mb']:.0f} | {per_pixel:.0f} | {r['sample_16_seconds']:.2f} | "
            f"{r['sample_peak_mb']:.0f} |"
        )
    if args.json:
        json.dump(rows, args.json, indent=2)


if __name__ == "__main__":
    main()
