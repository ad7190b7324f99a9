"""Quality benchmark: every shipped strategy, default config, one CPU budget, then evaluated.

    python benchmarks/quality.py [--budget-minutes 10] [-n 1000] [--workdir DIR]

Runs `pixelgen compare` on the strategies of the distributions under plugins/ (each
trains its default config, stopped early if it reaches the budget), in a scratch
folder with its own MLflow store (kept with --workdir, e.g. to make the learning
docs' figures from the same runs). Prints the table for benchmarks/RESULTS.md; the
side-by-side picture is compare.png in the run folder (--workdir). One training run
each: for the README's table, with the training seed's spread, and its picture, see
docs/make_model_rows.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shipped_distributions() -> list[str]:
    names = []
    for pyproject in sorted(ROOT.glob("plugins/*/pyproject.toml")):
        names.append(re.search(r'^name = "(.+)"', pyproject.read_text(), re.M).group(1))
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=10)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, help="run here and keep the runs")
    args = parser.parse_args()
    if shutil.which("pixelgen") is None:
        sys.exit("pixelgen is not on PATH; activate .venv first")
    env = {**os.environ, "PIXELGEN_LOAD_PLUGINS": ",".join(shipped_distributions())}
    env.pop("MLFLOW_TRACKING_URI", None)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        where = contextlib.nullcontext(str(args.workdir.resolve()))
    else:
        where = tempfile.TemporaryDirectory(prefix="pixelgen-quality-")
    with where as scratch:
        cmd = ["pixelgen", "compare", "--budget-minutes", str(args.budget_minutes)]
        cmd += ["-n", str(args.n), "--out", "out", "-q"]
        subprocess.run(cmd, cwd=scratch, env=env, check=True)
        out = Path(scratch) / "out"
        table = (out / "compare.md").read_text()
    print(f"\n## Quality ({date.today()})\n")
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"- Machine: {machine}, Python {platform.python_version()}")
    print(f"- Command: `python benchmarks/quality.py --budget-minutes {args.budget_minutes}`")
    print(f"- Samples scored per strategy: {args.n}")
    print(f"- Strategies: {env['PIXELGEN_LOAD_PLUGINS']}\n")
    print(table)


if __name__ == "__main__":
    main()
