"""How long `pixelgen --help` and `pixelgen list-strategies` take, wall clock.

Target (issue 3): each under 0.5 s on the project's 2-core machine, since neither
needs torch or MLflow. Run by hand from an activated .venv:

    python benchmarks/cli_startup.py [--repeat 21]

Prints a markdown table of medians (and min/max) to paste into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    "python -c 'import torch' (what is avoided)": [sys.executable, "-c", "import torch"],
    "pixelgen --help": ["pixelgen", "--help"],
    "pixelgen list-strategies": ["pixelgen", "list-strategies"],
    "pixelgen list-strategies --json": ["pixelgen", "list-strategies", "--json"],
    "pixelgen sample vae --help": ["pixelgen", "sample", "vae", "--help"],
}


def time_once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    if shutil.which("pixelgen") is None:
        sys.exit("pixelgen is not on PATH; activate .venv first")
    for _ in range(2):  # warm the file cache
        for cmd in COMMANDS.values():
            time_once(cmd)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeat):  # interleave commands so machine noise hits all alike
        for name, cmd in COMMANDS.items():
            times[name].append(time_once(cmd))
    print("| command | median (s) | min (s) | max (s) | runs |\n|---|---|---|---|---|")
    for name, values in times.items():
        print(
            f"| `{name}` | {statistics.median(values):.3f} | {min(values):.3f} | "
            f"{max(values):.3f} | {len(values)} |"
        )


if __name__ == "__main__":
    main()
