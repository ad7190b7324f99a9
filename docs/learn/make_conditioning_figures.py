"""Make the numbers and pictures in docs/learn/conditioning.md from a trained diffusion run.

    pixelgen train diffusion
    python docs/learn/make_conditioning_figures.py runs/diffusion/RUN/checkpoint.pt [-n 100]

For each class K: `-n` sprites drawn with `--class K` at three guidance settings, and
their **class agreement** (the share whose nearest class centroid, in the features the
k-means labels were made from, is K), beside what the class is in the data: its size,
and how separate it is (its members' distance to their own centroid over the distance
to the next nearest one: near 1 means the class blends into a neighbour). Writes
docs/images/conditioning-*.png and docs/learn/conditioning-numbers.json (every number
the chapter quotes, as it quotes it; tests/test_docs.py checks that it does).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from figures import save

import pixelgen_core as pg
from pixelgen_core.evaluation import centroid_distances, class_centroids

NUMBERS = Path(__file__).resolve().parent / "conditioning-numbers.json"
SETTINGS = {
    "no guidance": {"sampler": "dpm++", "guidance_scale": 1.0},
    "default": {"sampler": "dpm++"},  # s = 2 at t <= 700
    "every step": {"sampler": "dpm++", "guidance_scale": 2.0, "guidance_max_t": 999},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("-n", type=int, default=100)
    args = parser.parse_args()
    run = pg.open_run("diffusion", checkpoint=args.checkpoint, device="cpu")
    data = run.training_data()
    labels = data.labels.numpy()
    sprites = data.dataset.sprites
    classes = run.info.num_classes
    centroids = class_centroids(sprites, labels, classes)

    rows, strip = [], []
    for k in range(classes):
        own = centroid_distances(sprites[labels == k], centroids)
        ranked = np.sort(own, axis=1)
        row = {
            "class": k,
            "size": int((labels == k).sum()),
            "separation": float(np.mean(own[:, k] / ranked[:, 1])),
        }
        for name, options in SETTINGS.items():
            drawn = run.sample(args.n, seed=k, label=k, **options).rgba
            row[name] = float((centroid_distances(drawn, centroids).argmin(1) == k).mean())
            if name == "default":
                strip.append(drawn[:10])
        rows.append(row)
    save("conditioning-classes.png", np.concatenate(strip), 10)

    order = sorted(rows, key=lambda r: r["separation"])
    agreement = np.array([r["default"] for r in rows])
    separation = np.array([r["separation"] for r in rows])
    sizes = np.array([r["size"] for r in rows])

    def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])

    quoted = {
        "sprites per class": str(args.n),
        "best class": str(max(rows, key=lambda r: r["default"])["class"]),
        "worst class": str(min(rows, key=lambda r: r["default"])["class"]),
        "most separate class": str(order[0]["class"]),
        "least separate class": str(order[-1]["class"]),
        "rank correlation, separation": f"{rank_correlation(separation, agreement):.2f}",
        "rank correlation, size": f"{rank_correlation(sizes, agreement):.2f}",
    }
    for name in SETTINGS:
        quoted[f"mean agreement, {name}"] = f"{np.mean([r[name] for r in rows]):.1%}"
    table = ["| class | sprites | separation | no guidance | default | every step |"]
    table.append("|---|---|---|---|---|---|")
    for r in rows:
        table.append(
            f"| {r['class']} | {r['size']} | {r['separation']:.2f} | {r['no guidance']:.0%} "
            f"| {r['default']:.0%} | {r['every step']:.0%} |"
        )
    quoted["table"] = "\n".join(table)
    result = {"checkpoint": args.checkpoint, "rows": rows}
    NUMBERS.write_text(json.dumps({**result, "quoted": quoted}, indent=2) + "\n")
    print(quoted["table"])
    print(json.dumps(quoted, indent=2))


if __name__ == "__main__":
    main()
