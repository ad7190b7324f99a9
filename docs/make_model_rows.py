"""The model rows of docs/evaluation.md: each shipped default model trained with three
training seeds, each scored like `pixelgen evaluate NAME -n 1000` (five splits and
sampling seeds).

    python docs/make_model_rows.py [--workdir DIR] [--strategies vae vqvae ...] [--train-missing]

About 90 minutes on a 2-core CPU (maskgit's three runs are half of it). The trained runs
stay in DIR (default /tmp/pixelgen-model-rows), and a run already scored there is not
trained again, so an interrupted measurement goes on where it stopped. Writes
docs/model-rows.json: per strategy, every seed's metrics, and one row whose FD and KID
spread covers training seeds as well as splits and sampling seeds; under "quoted", each
number as the page prints it (tests/test_docs.py checks that the page quotes them); and
docs/images/compare.png, the README's picture: real sprites, then 16 sprites of each
strategy's seed-0 run with its default sampler (drawn when every seed-0 run is in DIR;
`--train-missing` trains the missing ones again with seed 0 for it, unscored, or takes
one it trained before).

Why three training runs: one run's ± covers only what changes between evaluations of
the same weights. A second training seed moves the weights, and with them FD, by an
amount only a second run shows.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

import numpy as np
from run_numbers import cpu_name

import pixelgen_core as pg
from pixelgen_core.evaluation import Row, format_cell, markdown_table, side_by_side

OUT = Path(__file__).resolve().parent / "model-rows.json"
PICTURE = Path(__file__).resolve().parent / "images" / "compare.png"
STRATEGIES = ("vae", "vqvae", "diffusion", "maskgit")
SEEDS = (0, 1, 2)
SPREAD = ("fd", "kid")  # the metrics whose spread over repeats evaluate reports
REPEATS = 5


def pooled(means: list[float], sds: list[float], repeats: int) -> tuple[float, float]:
    """Mean and sample standard deviation of all seeds' repeats together, from each
    seed's mean and standard deviation over its `repeats` (ddof 1, as evaluate's)."""
    means, sds = np.asarray(means), np.asarray(sds)
    mean = means.mean()
    within = ((repeats - 1) * sds**2).sum()
    between = (repeats * (means - mean) ** 2).sum()
    return float(mean), float(np.sqrt((within + between) / (repeats * len(means) - 1)))


def measure(name: str, seed: int, workdir: Path) -> dict:
    """Train `name`'s default config with training seed `seed`, then evaluate it."""
    cache = workdir / f"{name}-{seed}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    started = time.perf_counter()
    run = pg.train(name, overrides={"training.seed": seed}, progress=False)
    trained = time.perf_counter() - started
    result = run.evaluate(1000, seed=0, repeats=REPEATS)
    record = {
        "run": run.run_id,
        "train_seconds": trained,
        "machine": cpu_name(),  # a seed's run moves with the CPU (run_numbers.cpu_name)
        "metrics": result.model.metrics,
        "verdict": result.model.verdict.to_dict(),
    }
    cache.write_text(json.dumps(record, indent=2))
    return record


def combine(name: str, seeds: dict[int, dict]) -> Row:
    """One row for a strategy over its training seeds: FD and KID pooled over seeds and
    repeats (mean, spread), every other metric the mean over seeds."""
    rows = [record["metrics"] for record in seeds.values()]
    metrics = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if not k.endswith("_sd")}
    metrics["pixel_clean"] = float(min(r["pixel_clean"] for r in rows))  # clean at every seed
    for key in SPREAD:
        metrics[key], metrics[f"{key}_sd"] = pooled(
            [r[key] for r in rows], [r[f"{key}_sd"] for r in rows], REPEATS
        )
    return Row(name, metrics)


def picture(result: dict, train_missing: bool = False) -> None:
    """Real sprites, then each strategy's seed-0 run, 16 sprites each (seed 0). Drawn
    only when every seed-0 run is in the work folder, so that a measurement of one
    strategy in a new folder does not leave the others out of the picture; with
    `train_missing`, a strategy whose run is not there is trained again with seed 0 for
    the picture alone (not scored: its table row stays the measured one)."""
    real = pg.open_dataset("kenney-colored").sprites
    rows = [("real", real[np.random.default_rng(0).choice(len(real), 16, replace=False)])]
    for name, entry in result["strategies"].items():
        try:
            run = pg.open_run(name, run_id=entry["seeds"]["0"]["run"])  # in workdir
        except pg.PixelgenError:
            if not train_missing:
                print(f"{PICTURE.name} kept as it is: {name}'s seed-0 run is not in this folder")
                return
            run = seed_zero_run(name)
        rows.append((name, np.asarray(run.sample(16, seed=0))))
    side_by_side(rows, scale=3).save(PICTURE)


def seed_zero_run(name: str):
    """A finished run of `name` in this folder trained with seed 0 (one that an earlier
    `--train-missing` trained), else a new one: trained with seed 0, for the picture."""
    for record in pg.list_runs(name):
        if record.state == "FINISHED" and not record.remote:
            run = pg.open_run(name, run_id=record.id)
            if run.settings["training"]["seed"] == 0:
                return run
    print(f"training {name} with seed 0 again, for the picture", flush=True)
    return pg.train(name, overrides={"training.seed": 0}, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/pixelgen-model-rows"))
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument(
        "--train-missing",
        action="store_true",
        help="for the picture, train a seed-0 run that is not in DIR (not scored)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(args.workdir)  # the runs and their MLflow store live here
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    result = json.loads(OUT.read_text()) if OUT.exists() else {"strategies": {}}
    for name in args.strategies:
        seeds = {seed: measure(name, seed, args.workdir) for seed in SEEDS}
        row = combine(name, seeds)
        fds = [seeds[s]["metrics"]["fd"] for s in SEEDS]
        result["strategies"][name] = {
            "seeds": {str(s): seeds[s] for s in SEEDS},
            "row": row.metrics,
            "between_seeds_fd_sd": float(np.std(fds, ddof=1)),
            "mean_within_run_fd_sd": float(np.mean([seeds[s]["metrics"]["fd_sd"] for s in SEEDS])),
        }
        result["date"] = str(date.today())
        OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    quoted = {}
    rows = []
    for name, entry in result["strategies"].items():
        row = Row(name, entry["row"])
        rows.append(row)
        for key in ("fd", "kid"):
            quoted[f"{name} {key}"] = format_cell(row.metrics, key)
        for seed, record in entry["seeds"].items():
            quoted[f"{name} seed {seed} FD"] = format_cell(record["metrics"], "fd")
            quoted[f"{name} seed {seed} clean"] = "yes" if record["verdict"]["clean"] else "no"
        quoted[f"{name} FD spread between seeds"] = f"{entry['between_seeds_fd_sd']:.2f}"
        quoted[f"{name} FD spread within a run"] = f"{entry['mean_within_run_fd_sd']:.2f}"
        quoted[f"{name} isolated W1"] = f"{entry['row']['isolated_w1']:.2f}"
    result["quoted"] = quoted
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    picture(result, args.train_missing)
    print(markdown_table(rows))
    print(json.dumps(quoted, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
