"""End-to-end latency of the everyday `pixelgen sample diffusion -n 16` (issue 12 item 7).

Run by hand from an activated .venv:

    python benchmarks/sample_latency.py [--repeat 9] [--before CHECKOUT]

Trains the default diffusion config for one epoch of each stage in a scratch folder (the
weights do not change the time; the architecture and the default sampler, consistency
with 2 steps once a run is tuned, are the shipped ones), with a
local MLflow store as a user has it, then times fresh processes, interleaved so machine
noise hits every row alike:

- `python -c "import torch"`, the floor any command that samples pays;
- `pixelgen sample diffusion -n 16` (latest run, found through the run index);
- the same with `--checkpoint`;
- with --before, the same two commands run by the code of another checkout (e.g. a
  `git worktree` of an older commit), which trains its own run in its own folder.

Also reports the in-process sampling time of the 16 sprites (the model's own share).
Prints markdown for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TRAIN = ["train", "diffusion", "-q", "training.epochs=1"]
TRAIN += ["training.sample_every=0"]


def pixelgen(folder: Path, *args: str, code: Path | None = None) -> float:
    """Seconds a fresh `pixelgen ...` process takes in `folder` (with another checkout's
    code first on the path when `code` is given)."""
    env = dict(os.environ)
    if code is not None:
        plugins = [code / "plugins" / p for p in ("vae", "vqvae", "diffusion", "maskgit")]
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [code, *plugins])
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "pixelgen"), *args], cwd=folder, env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def fresh_python(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def model_seconds(folder: Path, repeat: int) -> float:
    """Median in-process time of drawing the 16 sprites, after one warm-up draw."""
    code = (
        "import time\n"
        "import pixelgen_core as pg\n"
        "run = pg.open_run('diffusion', device='cpu')\n"
        "run.sample(16, seed=0)\n"
        f"for _ in range({repeat}):\n"
        "    t = time.perf_counter(); run.sample(16, seed=0)\n"
        "    print(time.perf_counter() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, check=True, capture_output=True, text=True
    )
    return statistics.median(float(x) for x in out.stdout.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixelgen-latency-") as scratch:
        now, before = Path(scratch) / "now", Path(scratch) / "before"
        now.mkdir()
        pixelgen(now, *TRAIN)
        [ckpt] = list(now.glob("runs/diffusion/*/checkpoint.pt"))
        rows: dict[str, list[float]] = {
            'python -c "import torch"': [],
            "pixelgen sample diffusion -n 16": [],
            "pixelgen sample diffusion -n 16 --checkpoint": [],
        }
        if args.before:
            before.mkdir()
            pixelgen(before, *TRAIN, code=args.before.resolve())
            [old_ckpt] = list(before.glob("runs/diffusion/*/checkpoint.pt"))
            rows["before: pixelgen sample diffusion -n 16"] = []
            rows["before: ... --checkpoint"] = []
        for i in range(args.repeat):
            out = f"s{i}"
            rows['python -c "import torch"'].append(fresh_python("import torch"))
            rows["pixelgen sample diffusion -n 16"].append(
                pixelgen(now, "sample", "diffusion", "-n", "16", "--out", out)
            )
            rows["pixelgen sample diffusion -n 16 --checkpoint"].append(
                pixelgen(
                    now, "sample", "diffusion", "-n", "16", "--out", out, "--checkpoint", str(ckpt)
                )
            )
            if args.before:
                code = args.before.resolve()
                rows["before: pixelgen sample diffusion -n 16"].append(
                    pixelgen(before, "sample", "diffusion", "-n", "16", "--out", out, code=code)
                )
                rows["before: ... --checkpoint"].append(
                    pixelgen(
                        before,
                        "sample",
                        "diffusion",
                        "-n",
                        "16",
                        "--out",
                        out,
                        "--checkpoint",
                        str(old_ckpt),
                        code=code,
                    )
                )
        model = model_seconds(now, args.repeat)
    torch_s = statistics.median(rows['python -c "import torch"'])
    print(f"{args.repeat} interleaved runs each, medians; the sampling alone: {model:.3f} s\n")
    print("| command | median s | × import torch |")
    print("|---|---|---|")
    for name, times in rows.items():
        median = statistics.median(times)
        print(f"| `{name}` | {median:.2f} | {median / torch_s:.2f} |")


if __name__ == "__main__":
    main()
