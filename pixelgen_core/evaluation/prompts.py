"""Does a run draw what its prompts ask for? Tag adherence, measured (`pixelgen evaluate
NAME --prompts`).

A small tag classifier (one logistic regression per tag, balanced for rare tags, on the
evaluation encoder's features and the sprites' 2x-downsampled pixels) is trained on one
half of the data. For each prompt it scores the share of samples drawn for the prompt
in which it recognises every asked-for tag, against the share of held-out real sprites
with those tags in which it does: the ceiling, since the classifier is no better than
that even on real sprites. Prompts are every tag, the commonest pairs of tags the data
has together ("seen"), and pairs it never has together ("novel", where there is no
ceiling). Each prompt also gets FD, the pixel statistics against the real sprites with
its tags, and the share of its samples that copy a training sprite (rare tags copy).
A prompt with at least MIN_JUDGED such sprites also gets a pixel verdict against their
own spread (`judge_prompt`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from pixelgen_core.data.labels import features as pixel_features
from pixelgen_core.evaluation import metrics
from pixelgen_core.evaluation.encoder import embed
from pixelgen_core.evaluation.report import LIMIT_SPLITS, Verdict, spread_limit

MIN_HELD = 2  # a tag needs this many held-out sprites (and training ones) to be scored
PAIRS = 8  # seen and novel pairs of tags scored, each
# Real sprites a prompt needs for a pixel verdict: halves of 10 at least, so that the
# spread between two halves of them says something (the prompt filter's own minimum).
MIN_JUDGED = 20


@dataclass
class PromptRow:
    prompt: str
    kind: str  # "tag", "seen pair" or "novel pair"
    real: int  # sprites of the data with every tag of the prompt
    ceiling: float | None  # share of held-out such sprites the classifier recognises
    recognised: float  # share of samples it recognises
    scores: dict[str, float] = field(default_factory=dict)  # fd, *_w1, memorised
    verdict: Verdict | None = None  # with MIN_JUDGED real sprites or more (`judge_prompt`)

    @property
    def clean(self) -> bool | None:
        return None if self.verdict is None else self.verdict.clean

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "kind": self.kind,
            "real": self.real,
            "ceiling": self.ceiling,
            "recognised": self.recognised,
            **self.scores,
            "pixel_clean": self.clean,
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
        }


@dataclass
class PromptEvaluation:
    rows: list[PromptRow]
    n: int

    def summary(self) -> dict[str, float]:
        """Per kind: mean recognised share, mean ceiling where there is one, and the share
        of the judged prompts (`judge_prompt`) that are pixel-clean where any are."""
        out: dict[str, float] = {}
        for kind in ("tag", "seen pair", "novel pair"):
            rows = [r for r in self.rows if r.kind == kind]
            if not rows:
                continue
            key = kind.replace(" ", "_")
            out[f"prompts/{key}/recognised"] = float(np.mean([r.recognised for r in rows]))
            ceilings = [r.ceiling for r in rows if r.ceiling is not None]
            if ceilings:
                out[f"prompts/{key}/ceiling"] = float(np.mean(ceilings))
            out[f"prompts/{key}/memorised"] = float(np.mean([r.scores["memorised"] for r in rows]))
            judged = [r.clean for r in rows if r.clean is not None]
            if judged:
                out[f"prompts/{key}/clean"] = float(np.mean(judged))
                out[f"prompts/{key}/judged"] = float(len(judged))
        return out

    def to_dict(self) -> dict:
        return {"n": self.n, "summary": self.summary(), "rows": [r.to_dict() for r in self.rows]}

    def save(self, folder) -> list:
        """prompts.md (the table) and prompts.json in `folder`, each written atomically."""
        import json
        from pathlib import Path

        from pixelgen_core.files import write_text

        folder = Path(folder)
        table = write_text(folder / "prompts.md", markdown(self) + "\n")
        data = write_text(folder / "prompts.json", json.dumps(self.to_dict(), indent=2) + "\n")
        return [table, data]


def markdown(result: PromptEvaluation) -> str:
    """The prompts as a markdown table, and a line of means per kind."""

    def cell(value, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def clean(row: PromptRow) -> str:
        if row.verdict is None:
            return "-"
        return "yes" if row.verdict.clean else "no: " + ", ".join(row.verdict.failed)

    lines = [
        "| prompt | kind | real sprites | ceiling | recognised | FD | isolated W1 | "
        "floating W1 | colours W1 | parts W1 | notches W1 | memorised | clean |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result.rows:
        s = row.scores
        lines.append(
            f"| {row.prompt} | {row.kind} | {row.real} | {cell(row.ceiling)} | "
            f"{cell(row.recognised)} | {cell(s.get('fd'))} | {cell(s.get('isolated_w1'))} | "
            f"{cell(s.get('floating_w1'))} | {cell(s.get('colours_w1'))} | "
            f"{cell(s.get('components_w1'))} | {cell(s.get('notches_w1'))} | "
            f"{cell(s['memorised'])} | {clean(row)} |"
        )
    means = result.summary()
    said = []
    for kind in ("tag", "seen_pair", "novel_pair"):
        if f"prompts/{kind}/recognised" in means:
            ceiling = means.get(f"prompts/{kind}/ceiling")
            text = (
                f"{kind.replace('_', ' ')}s: recognised {means[f'prompts/{kind}/recognised']:.2f}"
            )
            text += f" (ceiling {ceiling:.2f})" if ceiling is not None else ""
            judged = means.get(f"prompts/{kind}/judged")
            if judged:
                clean = round(means[f"prompts/{kind}/clean"] * judged)
                text += f", pixel-clean {clean} of {judged:.0f} judged"
            said.append(text)
    lines += ["", "Means: " + "; ".join(said) + "."]
    return "\n".join(lines)


STATISTICS = {
    "isolated": metrics.isolated_pixels,
    "floating": metrics.floating_pixels,
    "colours": metrics.opaque_colours,
    "components": metrics.colour_components,
    "notches": metrics.notches,
}


def judge_prompt(drawn: dict[str, np.ndarray], real: dict[str, np.ndarray], seed: int) -> Verdict:
    """A prompt's pixel verdict against the spread of its own real sprites, measured like
    with like as `evaluate`'s verdict is: over LIMIT_SPLITS random halves A and B of the
    real sprites, m = min(samples, |A|) sprites of A against B give the data's distance
    (the limit: `spread_limit` of their mean and standard deviation), and m of
    the samples against the same B the prompt's (its value: the mean). `drawn` and
    `real` map each of STATISTICS to per-sprite counts."""
    rng = np.random.default_rng(seed)
    n, count = len(next(iter(drawn.values()))), len(next(iter(real.values())))
    m = min(n, count // 2)
    data: dict[str, list[float]] = {k: [] for k in STATISTICS}
    model: dict[str, list[float]] = {k: [] for k in STATISTICS}
    for _ in range(LIMIT_SPLITS):
        order = rng.permutation(count)
        held, reference = order[:m], order[count // 2 :]
        samples = rng.choice(n, m, replace=False)
        for k in STATISTICS:
            data[k].append(metrics.wasserstein(real[k][held], real[k][reference]))
            model[k].append(metrics.wasserstein(drawn[k][samples], real[k][reference]))
    limits = {k: spread_limit(k, np.mean(v), np.std(v, ddof=1)) for k, v in data.items()}
    return Verdict(limits, {k: float(np.mean(v)) for k, v in model.items()})


def sprite_features(sprites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation encoder's features of RGBA sprites (for FD), and those beside the
    2x-downsampled pixels (what the tag classifier reads): each sprite embedded once."""
    embedded = embed(sprites)
    return embedded, np.concatenate([embedded, pixel_features(sprites)], axis=1)


class TagClassifier:
    """One balanced logistic regression per tag on `sprite_features`."""

    def __init__(self, features: np.ndarray, tags: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.scaler = StandardScaler().fit(features)
        x = self.scaler.transform(features)
        self.models = {}
        for j in range(tags.shape[1]):
            y = tags[:, j] > 0
            if y.sum() >= MIN_HELD and (~y).sum() >= MIN_HELD:
                model = LogisticRegression(class_weight="balanced", C=0.1, max_iter=2000)
                self.models[j] = model.fit(x, y)

    def recognises(self, features: np.ndarray, columns: list[int]) -> np.ndarray:
        """(N,) True where every tag of `columns` is recognised (False for a tag it
        could not learn)."""
        if any(j not in self.models for j in columns):
            return np.zeros(len(features), dtype=bool)
        x = self.scaler.transform(features)
        found = [self.models[j].predict(x).astype(bool) for j in columns]
        return np.logical_and.reduce(found)


def choose_prompts(tags: np.ndarray, vocabulary: tuple[str, ...]) -> list[tuple[str, tuple]]:
    """(kind, tag columns): every tag; the PAIRS commonest pairs the data has together
    (but not always: a pair always together is one tag to the model); and PAIRS pairs
    it never has together but could, because a substitute of one goes with the other
    (no zombie climbs, but female characters, which keep the same company as zombies,
    do), not contradictions like a walking tile or snowy grass. The pairs with the most
    such evidence come first."""
    together = tags.T.astype(np.int64) @ tags.astype(np.int64)
    counts = np.diag(together).copy()
    prompts = [("tag", (j,)) for j in range(len(vocabulary))]
    pairs = list(combinations(range(len(vocabulary)), 2))
    seen = [(a, b) for a, b in pairs if 0 < together[a, b] < min(counts[a], counts[b])]
    seen.sort(key=lambda p: (-together[p], p))
    # Substitutes: tags never together that keep the same company (grass and snow, or
    # zombie and female). A pair never seen is a new combination where one tag's
    # substitute does go with the other (a climbing zombie: females climb).
    company = together.copy()
    np.fill_diagonal(company, 0)
    shared = np.minimum(company[:, None, :], company[None, :, :]).sum(-1)
    substitute = (together == 0) & (shared > 0)
    plausible = substitute.astype(np.int64) @ company  # [a, b]: a's substitutes with b
    plausible = plausible + plausible.T
    novel = [(a, b) for a, b in pairs if together[a, b] == 0 and not substitute[a, b]]
    novel = [p for p in novel if plausible[p] > 0]
    novel.sort(key=lambda p: (-plausible[p], p))
    prompts += [("seen pair", p) for p in seen[:PAIRS]]
    prompts += [("novel pair", p) for p in novel[:PAIRS]]
    return prompts


def evaluate_prompts(
    draw: Callable[[tuple[str, ...], int, int], tuple[np.ndarray, np.ndarray]],
    sprites: np.ndarray,
    indices: np.ndarray,
    tags: np.ndarray,
    vocabulary: tuple[str, ...],
    n: int = 32,
    seed: int = 0,
) -> PromptEvaluation:
    """Score prompts of the run's tags: `draw(tags, n, seed)` returns n samples drawn
    for those tags as (RGBA uint8, palette indices); `sprites`, `indices` and `tags` are
    the training data (RGBA, indices, (N, T) 0/1)."""
    order = np.random.default_rng(seed).permutation(len(sprites))
    train, held = order[: len(order) // 2], order[len(order) // 2 :]
    real_embedded, real_features = sprite_features(sprites)
    real_stats = {name: stat(indices) for name, stat in STATISTICS.items()}
    classifier = TagClassifier(real_features[train], tags[train])
    carried = tags > 0
    rows = []
    for i, (kind, columns) in enumerate(choose_prompts(tags, vocabulary)):
        with_all = np.logical_and.reduce([carried[:, j] for j in columns])
        held_with = held[with_all[held]]
        if kind != "novel pair" and len(held_with) < MIN_HELD:
            continue
        names = tuple(vocabulary[j] for j in columns)
        rgba, drawn = draw(names, n, seed + i)
        embedded, features = sprite_features(rgba)
        ceiling = None
        if kind != "novel pair":
            ceiling = float(classifier.recognises(real_features[held_with], list(columns)).mean())
        scores = {"memorised": metrics.memorisation(drawn, indices)["memorised"]}
        reference = np.flatnonzero(with_all)
        verdict = None
        if len(reference) >= MIN_HELD:
            scores["fd"] = metrics.frechet_distance(embedded, real_embedded[reference])
            drawn_stats = {name: stat(drawn) for name, stat in STATISTICS.items()}
            real_with = {name: real_stats[name][reference] for name in STATISTICS}
            for name in STATISTICS:
                scores[f"{name}_w1"] = metrics.wasserstein(drawn_stats[name], real_with[name])
            if len(reference) >= MIN_JUDGED:
                verdict = judge_prompt(drawn_stats, real_with, seed + i)
        rows.append(
            PromptRow(
                ", ".join(names),
                kind,
                int(with_all.sum()),
                ceiling,
                float(classifier.recognises(features, list(columns)).mean()),
                scores,
                verdict,
            )
        )
    return PromptEvaluation(rows, n)
