"""The numbers docs/evaluation.md quotes about its calibration rows, measured here.

    python docs/make_evaluation_numbers.py        # about 2 minutes on a 2-core CPU

Scores the calibration rows of `kenney-colored` exactly as `pixelgen evaluate NAME -n 1000`
does (seed 0, five repeats), draws the held-out sprites beside their speckled copies
(docs/images/evaluation-speckle.png), measures how FD moves with the sample count (training
copies at 539 and at 1000 sprites), and the real data's near-copy rate measured the
old way (each held-out half against the other half only). Writes
docs/evaluation-numbers.json: the raw values, and under "quoted" each number as the
page prints it; tests/test_docs.py checks that the page quotes every one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import pixelgen_core as pg
from pixelgen_core.evaluation import (
    PIXEL_STATS,
    Reference,
    format_cell,
    frechet_distance,
    judge,
    markdown_table,
    memorisation,
    pixel_limits,
    side_by_side,
)

OUT = Path(__file__).resolve().parent / "evaluation-numbers.json"
PICTURE = Path(__file__).resolve().parent / "images" / "evaluation-speckle.png"


def limit_swing(data) -> dict[str, list[float]]:
    """The parts limit at 256 sprites for data seeds 0-3, from the data row's own 3
    repeats (the rule before the limits had their own splits) and from `Reference.limits`."""
    references = [Reference(data, seed=seed, repeats=3) for seed in range(4)]
    return {
        "3 repeats": [pixel_limits(r.data_row(256))["components"] for r in references],
        "own splits": [r.limits(256)["components"] for r in references],
    }


def main() -> None:
    reference = Reference(pg.prepare_dataset("kenney-colored"), seed=0)
    rows = reference.calibration_rows(1000)
    judge(rows, rows[0], reference.limits(1000))  # as evaluate judges
    print(markdown_table(rows))
    training = reference.training
    palette = reference.data.palette

    def copies_fd(count: int) -> dict[str, float]:
        rng = np.random.default_rng(0)
        values = [
            frechet_distance(
                reference.features[rest], reference.features[rng.integers(0, len(training), count)]
            )
            for _, rest in reference.splits
        ]
        return {"fd": float(np.mean(values)), "fd_sd": float(np.std(values, ddof=1))}

    held_count = len(reference.splits[0][0])
    small, large = copies_fd(held_count), copies_fd(1000)
    half_rates = [
        memorisation(training[held], training[rest])["memorised"] for held, rest in reference.splits
    ]
    everyone = np.arange(len(training))
    sheet_rate = memorisation(training, training, everyone)["memorised"]
    data = rows[0].metrics
    quoted = {
        "the sheet's near-copy rate (every sprite against all others)": f"{sheet_rate:.1%}",
        "held-out half size": str(held_count),
        "data FD": format_cell(data, "fd"),
        "data memorised": f"{data['memorised']:.1%}",
        "copies FD at the held-out count": format_cell(small, "fd"),
        "copies FD at 1000": format_cell(large, "fd"),
        "old data memorised, lowest split": f"{min(half_rates):.1%}",
        "old data memorised, highest split": f"{max(half_rates):.1%}",
    }
    for row in rows:
        quoted[f"{row.name} FD"] = format_cell(row.metrics, "fd")
    speckled = next(row for row in rows if row.name.startswith("speckled"))
    for key in (k for k in PIXEL_STATS if k != "palette"):  # the palette share: exact for both
        quoted[f"data {key} W1"] = format_cell(data, f"{key}_w1")
        quoted[f"speckled {key} W1"] = format_cell(speckled.metrics, f"{key}_w1")
    for key in PIXEL_STATS:
        quoted[f"{key} limit"] = f"{rows[0].verdict.limits[key]:.2f}"
    swing = limit_swing(reference.data)
    quoted["parts limit at 3 repeats of 256, lowest"] = f"{min(swing['3 repeats']):.2f}"
    quoted["parts limit at 3 repeats of 256, highest"] = f"{max(swing['3 repeats']):.2f}"
    for key in ("isolated", "floating", "components", "colours", "notches"):
        key = f"{key}_per_sprite"
        quoted[f"data {key}"] = f"{data[key]:.2f}"
        quoted[f"speckled {key}"] = f"{speckled.metrics[key]:.2f}"
    held = reference.training[reference.splits[0][0][:12]]
    speckles = reference.speckled(0, 12)
    picture = side_by_side(
        [("data", palette.to_rgba(held)), ("speckled", palette.to_rgba(speckles))], 12, scale=5
    )
    picture.save(PICTURE)
    noise = next(row.metrics for row in rows if row.name == "palette noise")
    quoted["noise precision"] = f"precision 0.{round(100 * noise['precision']):02d}"
    quoted["noise density"] = f"density of {noise['density']:.2f}"
    result = {
        "rows": [row.to_dict() for row in rows],
        "copies_fd": {str(held_count): small, "1000": large},
        "old_data_memorised_per_split": half_rates,
        "sheet_near_copy_rate": sheet_rate,
        "parts_limit_at_256_by_data_seed": swing,
        "quoted": quoted,
    }
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(quoted, indent=2, ensure_ascii=False))
    print(OUT)


if __name__ == "__main__":
    main()
