"""Training-step time of the default diffusion model, this tree against an older
revision, interleaved in fresh processes: what moving the step into core costs.

    python benchmarks/step_overhead.py --before 1480614 --rounds 5

The older revision is checked out with `git worktree` and put first on PYTHONPATH
(core and the diffusion plugin), so both run with the same installed libraries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, statistics, time, torch
import pixelgen_core as pg
torch.manual_seed(0)
run = pg.new_run("diffusion", overrides=["tracking.enabled=false"], device="cpu")
data = run.training_data()
strategy = run.strategy
strategy.train()
config = run.settings["data"]
times = []
for i in range(STEPS + 3):
    g = torch.Generator().manual_seed(i)
    rows = torch.randperm(len(data), generator=g)[:64]
    batch = data.batch(rows, g, config, torch.device("cpu"))
    start = time.perf_counter()
    strategy.train_step(batch, "base")
    times.append(time.perf_counter() - start)
print(json.dumps(statistics.median(times[3:])))
"""


def probe(code_root: Path | None, steps: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    if code_root is not None:
        env["PYTHONPATH"] = f"{code_root}:{code_root / 'plugins' / 'diffusion'}"
    out = subprocess.run(
        [sys.executable, "-c", PROBE.replace("STEPS", str(steps))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    worktree = Path(tempfile.mkdtemp()) / "before"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), args.before],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        results: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.rounds):
            results["before"].append(probe(worktree, args.steps))
            results["after"].append(probe(None, args.steps))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)
    before, after = (statistics.median(results[k]) for k in ("before", "after"))
    print("| code | median step (ms), batch 64 | rounds |\n|---|---|---|")
    print(f"| {args.before} | {before * 1000:.1f} | {args.rounds} |")
    print(f"| this tree | {after * 1000:.1f} | {args.rounds} |")
    print(f"\nratio this tree / {args.before}: {after / before:.3f}")


if __name__ == "__main__":
    main()
