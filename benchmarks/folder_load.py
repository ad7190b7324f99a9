"""Loading a big folder of sprites: first run (decode and cache) against later runs.

    python benchmarks/folder_load.py [--sprites 20000] [--size 16] [--repeats 3]

Writes `--sprites` PNG sprites the script draws (random rectangles in a few colours on
transparency) into a scratch folder, then in fresh processes times what `pixelgen
train` does before its first step: `prepare` (load the folder, extract the palette,
snap to indices; no class labels) once with no cache and `--repeats` times with it,
and records each process's peak resident memory beside the bytes of one copy of the
sprites (RGBA) and of the indices training keeps. Prints the rows for
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

COLOURS = np.array(
    [[0, 0, 0, 0], [20, 20, 30, 255], [200, 60, 50, 255], [240, 220, 120, 255], [60, 140, 90, 255]],
    dtype=np.uint8,
)


def make_folder(folder: Path, count: int, size: int) -> None:
    from pixelgen_core import write_png

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(count):
        indices = np.zeros((size, size), dtype=np.int64)
        for _ in range(3):
            y, x = rng.integers(0, size - 2, 2)
            h, w = rng.integers(2, size // 2 + 1, 2)
            indices[y : y + h, x : x + w] = rng.integers(1, len(COLOURS))
        write_png(COLOURS[indices], folder / f"sprite_{i:05d}.png")


def load_once(folder: str) -> dict:
    """In a fresh process: time prepare() on the folder, and the peak memory it adds
    over the process with its libraries (torch, scikit-learn) already imported."""
    import sklearn.cluster  # noqa: F401  (imported before the baseline: not data)
    import torch  # noqa: F401

    import pixelgen_core as pg

    pg.get_strategy("vae")  # plugin discovery, before the clock and the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    data = pg.prepare_dataset(folder, strategy="vae")  # config merge included (ms)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "sprites": len(data),
        "peak_added_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
        / 2**20,
        "rgba_mb": data.dataset.sprites.nbytes / 2**20,
        "indices_mb": data.indices.numel() * data.indices.element_size() / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sprites", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(load_once(args.one)))
        return
    scratch = Path(tempfile.mkdtemp(prefix="pixelgen-folder-"))
    try:
        folder = scratch / "sprites"
        start = time.perf_counter()
        make_folder(folder, args.sprites, args.size)
        print(
            f"wrote {args.sprites} sprites in {time.perf_counter() - start:.1f} s", file=sys.stderr
        )

        def run() -> dict:
            cmd = [sys.executable, __file__, "--one", str(folder)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            return json.loads(out.strip().splitlines()[-1])

        first = run()
        later = [run() for _ in range(args.repeats)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {date.today()}")
    print(f"{args.sprites} sprites of {args.size}x{args.size}:")
    print("| load | seconds | peak memory added MB | one RGBA copy MB | indices MB |")
    print("|---|---|---|---|---|")
    median = statistics.median(r["seconds"] for r in later)
    peak = statistics.median(r["peak_added_mb"] for r in later)
    for label, row, seconds, mb in (
        ("first (decode, cache)", first, first["seconds"], first["peak_added_mb"]),
        (f"cached (median of {len(later)})", later[0], median, peak),
    ):
        print(
            f"| {label} | {seconds:.2f} | {mb:.0f} | {row['rgba_mb']:.1f} | "
            f"{row['indices_mb']:.1f} |"
        )


if __name__ == "__main__":
    main()
