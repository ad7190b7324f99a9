"""Make the numbers and pictures in docs/learn/words.md (and the README's prompt picture)
from diffusion runs trained on the tagged kenney-arcade sprites.

    pixelgen train diffusion data.dataset=kenney-arcade training.epochs=300
    pixelgen train diffusion data.dataset=kenney-arcade training.epochs=150 \
        training.choose_sampler=0                      # the A/B: bag ...
    pixelgen train diffusion data.dataset=kenney-arcade training.epochs=150 \
        training.choose_sampler=0 model.tag_conditioning=cross   # ... and cross
    python docs/learn/make_words_figures.py CHECKPOINT [--ab BAG CROSS] [-n 32]

Draws, from CHECKPOINT, a row of sprites for each of four prompts above a row of the
real sprites with that tag (docs/images/prompts.png) and scores every prompt with
`Run.evaluate_prompts` (the classifier's recognised share against its ceiling, FD,
pixel statistics, copies and a pixel verdict per prompt), as `pixelgen sample
--prompt` draws them and again with the consistency student's own guidance
("student"); with `--ab`, scores the two designs' runs (trained alike) the same way;
without it, keeps the A/B's numbers from the file as they were (with the date they
were scored on). Writes
docs/learn/words-numbers.json: every number the chapter quotes, as it quotes it
(tests/test_docs.py checks that it does).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from figures import save

import pixelgen_core as pg

NUMBERS = Path(__file__).resolve().parent / "words-numbers.json"
PROMPTS = ("robot", "coin", "grass", "planet")
COLUMNS = 8
AB = ("bag", "cross")  # the design A/B's runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a run with the default design: the picture")
    parser.add_argument("--ab", nargs=2, metavar=("BAG", "CROSS"), help="the design A/B runs")
    parser.add_argument("-n", type=int, default=32, help="sprites per prompt scored")
    args = parser.parse_args()
    run = pg.open_run("diffusion", checkpoint=args.checkpoint, device="cpu")
    data = run.training_data()
    real = run.palette.to_rgba(data.indices.numpy())
    vocabulary = list(run.info.tags)
    rows = []
    for k, prompt in enumerate(PROMPTS):
        drawn = run.sample(COLUMNS, seed=k, prompt=prompt)
        carrying = np.flatnonzero(data.tags.numpy()[:, vocabulary.index(prompt)] > 0)
        shown = np.zeros((COLUMNS, *real.shape[1:]), np.uint8)  # clear where there are fewer
        shown[: len(carrying[:COLUMNS])] = real[carrying[:COLUMNS]]
        rows += [np.asarray(drawn), shown]
    save("prompts.png", np.concatenate(rows), COLUMNS, scale=3)

    runs = {"run": args.checkpoint}
    if args.ab:
        runs.update({"bag": args.ab[0], "cross": args.ab[1]})
    numbers: dict = {"date": time.strftime("%Y-%m-%d"), "checkpoints": runs, "n": args.n}
    numbers["designs"] = {}
    quoted: dict[str, str] = {}
    if not args.ab and NUMBERS.exists():  # the A/B as it was scored, with its date
        before = json.loads(NUMBERS.read_text())
        for design in AB:  # a design carried over before keeps its own "scored"
            scored_on = {"scored": before.get("date", "2026-12-04")}
            numbers["designs"][design] = {**scored_on, **before["designs"][design]}
            runs[design] = before["checkpoints"][design]
            quoted.update({k: v for k, v in before["quoted"].items() if k.startswith(design)})
    scored = [(d, checkpoint, {}) for d, checkpoint in runs.items() if d not in numbers["designs"]]
    scored.insert(1, ("student", args.checkpoint, {"sampler": "consistency"}))
    for design, checkpoint, options in scored:
        same = checkpoint == args.checkpoint
        scored_run = run if same else pg.open_run("diffusion", checkpoint=checkpoint)
        start = time.perf_counter()
        result = scored_run.evaluate_prompts(args.n, **options)
        summary = result.summary()
        numbers["designs"][design] = {
            "options": options,
            "seconds": round(time.perf_counter() - start, 1),
            "steps": scored_run.steps,
            "summary": summary,
            "rows": [r.to_dict() for r in result.rows],
        }
        for key, value in summary.items():
            if key.endswith("/judged"):  # quoted with the clean share, as "k of n"
                continue
            if key.endswith("/clean"):
                judged = summary[key.replace("/clean", "/judged")]
                value = f"{round(value * judged)} of {judged:.0f}"
            quoted[f"{design} {key}"] = value if isinstance(value, str) else f"{value:.2f}"
        for row in result.rows:
            if row.prompt in PROMPTS and design == "run":
                quoted[f"{row.prompt} recognised"] = f"{row.recognised:.2f}"
                quoted[f"{row.prompt} ceiling"] = f"{row.ceiling:.2f}"
        print(design, json.dumps(summary, indent=1))
    numbers["quoted"] = quoted
    NUMBERS.write_text(json.dumps(numbers, indent=2) + "\n")
    print(NUMBERS)


if __name__ == "__main__":
    main()
