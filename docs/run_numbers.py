"""What the README's numbers scripts share: reading `pixelgen train`'s summary, scoring a
run with `pixelgen evaluate -n 1000`, and writing the numbers file
(docs/make_demo_numbers.py, docs/make_default_numbers.py)."""

from __future__ import annotations

import json
import platform
import re
import subprocess
from datetime import date
from pathlib import Path


def trained(output: str) -> tuple[int, float, str]:
    """Steps, training seconds and the chosen sampler, from `pixelgen train`'s output."""
    steps, seconds = re.search(r"trained diffusion: (\d+) steps in ([\d.]+) s", output).groups()
    sampler = re.search(r"default sampler \(auto\): (.+?) \(", output).group(1)
    # a train.log written at 23b2e28 named the filtered row there ("consistency 2 + filter")
    return int(steps), float(seconds), sampler.removesuffix(" + filter")


def scored(pixelgen: str, cwd: Path, *options: str) -> tuple[dict, dict]:
    """`pixelgen evaluate diffusion -n 1000 --json` (with sample `options`) on the latest
    run in `cwd`'s MLflow store: the model's row and the real held-out data's."""
    done = subprocess.run(
        [pixelgen, "evaluate", "diffusion", "-n", "1000", "--json", *options],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = {row["name"]: row for row in json.loads(done.stdout)["rows"]}
    data = next(row for name, row in rows.items() if name.startswith("data"))
    return rows["diffusion"], data


def cpu_name() -> str:
    """The CPU's model name: a seed gives the same run only on the same kind of CPU (the
    same code and seed trained maskgit to FD 6.26 on one VM and 11.96 on another;
    benchmarks/RESULTS.md, 2026-12-07), so each numbers file says which it was made on."""
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def head_commit(folder: Path) -> str:
    """The short commit a checkout at `folder` is at: what a numbers file was made with."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def write(out: Path, commit: str, quoted: dict[str, str], **measured) -> None:
    """The numbers file: date, commit, machine, what was measured, and under "quoted"
    each number as the README prints it; the quoted ones are printed too."""
    result = {
        "date": str(date.today()),
        "commit": commit,
        "machine": f"{platform.machine()}, {cpu_name()}",
        **measured,
        "quoted": quoted,
    }
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(quoted, indent=2, ensure_ascii=False))
