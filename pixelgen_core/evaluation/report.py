"""Score a strategy's samples against its dataset, next to calibration rows.

Every row is measured the same way. The dataset is split into random halves several
times (`repeats`); in each split, the same number of sprites from every row (the
model's samples, the other half of the real data, or a trivial generator's output) is
scored against one half, so FD and KID, which depend on the sample count, compare
equal counts, and each row reports their mean and spread over the splits (and, for a
model, over its sampling seeds). Memorisation compares every row against the full
training set; real sprites leave themselves (and their mirror image) out. "palette
noise", "cluster means" and "training copies" show where trivial generators land. A
model's row reads between noise and the real data, and copying is flagged by
`memorised`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from pixelgen_core import checks
from pixelgen_core.data.labels import class_labels
from pixelgen_core.data.prepare import TrainingData
from pixelgen_core.errors import PixelgenError
from pixelgen_core.evaluation import REPEATS, metrics
from pixelgen_core.evaluation.encoder import embed

BASELINE_CLUSTERS = 16
# Per-sprite pixel statistics, compared with the real sprites' as distributions (1-D
# Wasserstein distance, `KEY_w1`): what FD barely sees and a pixel artist sees first.
PIXEL_STATS = ("isolated", "floating", "colours", "components", "notches", "palette")
SPREAD = ("fd", "kid", *(f"{k}_w1" for k in PIXEL_STATS))  # reported with their spread
SPECKLE = 0.02  # the speckled calibration row recolours this share of opaque pixels

# (key, column title, format, better: "high", "low" or "data" = closest to the data's value)
COLUMNS = [
    ("fd", "FD ↓", "{:.2f}", "low"),
    ("kid", "KID×1e3 ↓", "{:.2f}", "low"),
    ("precision", "precision ↑", "{:.2f}", "high"),
    ("recall", "recall ↑", "{:.2f}", "high"),
    ("density", "density ↑", "{:.2f}", "high"),
    ("coverage", "coverage ↑", "{:.2f}", "high"),
    ("memorised", "memorised ↓", "{:.1%}", "low"),
    ("nn_distance_median", "NN dist ≈", "{:.3f}", "data"),
    ("palette_fidelity", "palette ↑", "{:.1%}", "high"),
    ("isolated_w1", "isolated W1 ↓", "{:.2f}", "low"),
    ("floating_w1", "floating W1 ↓", "{:.2f}", "low"),
    ("colours_w1", "colours W1 ↓", "{:.2f}", "low"),
    ("components_w1", "parts W1 ↓", "{:.2f}", "low"),
    ("notches_w1", "notches W1 ↓", "{:.2f}", "low"),
    ("opaque_share", "opaque ≈", "{:.2f}", "data"),
    ("pixel_clean", "clean", "{}", "high"),
]
LEGEND = (
    "↑ higher is better, ↓ lower is better, ≈ closer to the real data row is better; "
    "± is the standard deviation over the repeats; W1: distance between the samples' and "
    "the real sprites' per-sprite counts; clean: every pixel statistic within the data "
    "row's spread"
)

# Draws `count` sprites for repeat `r`: (palette indices, pre-snap RGBA or None).
Draw = Callable[[int, int], tuple[np.ndarray, np.ndarray | None]]


@dataclass
class Row:
    name: str
    metrics: dict[str, float]
    kind: str = "model"  # "model" or "calibration"
    extra: dict[str, float] = field(default_factory=dict)  # strategy metrics, timings
    verdict: Verdict | None = None  # set by `judge`, against the real-data row

    def to_dict(self) -> dict:
        made = {"name": self.name, "kind": self.kind, "metrics": self.metrics, "extra": self.extra}
        if self.verdict is not None:
            made["verdict"] = self.verdict.to_dict()
        return made


@dataclass(frozen=True)
class Verdict:
    """Pixel-clean or not: each pixel statistic's distance to the real sprites (its mean
    over the repeats) within the real-data row's own: that row's mean plus `SPREAD_LIMIT`
    standard deviations, and at least `RESOLUTION` (one pixel, colour or region in 20
    sprites; 1% of pixels off the palette), since a statistic the data never varies on
    (one colour in every sprite, exact palette colours) has no spread at all."""

    limits: dict[str, float]
    values: dict[str, float]

    @property
    def failed(self) -> list[str]:
        return [k for k, limit in self.limits.items() if self.values[k] > limit]

    @property
    def clean(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        """ "pixel-clean" or "not pixel-clean: colours W1 0.48 > 0.05, ..."."""
        if self.clean:
            return "pixel-clean"
        over = ", ".join(f"{k} W1 {self.values[k]:.3g} > {self.limits[k]:.3g}" for k in self.failed)
        return f"not pixel-clean: {over}"

    def to_dict(self) -> dict:
        return {
            "clean": self.clean,
            "failed": self.failed,
            "limits": self.limits,
            "values": self.values,
        }


SPREAD_LIMIT = 2.0
# Half-splits the limits are measured over. The data row costs no draws, so its spread
# is measured over more splits than a model's repeats: from the choice's 3 repeats of 256
# sprites the parts limit came out anywhere from 0.46 to 1.53 with the data seed, over
# 20 splits 0.98 at each (benchmarks/RESULTS.md, 2026-12-05).
LIMIT_SPLITS = 20
RESOLUTION = {
    "isolated": 0.05,
    "floating": 0.05,
    "colours": 0.05,
    "components": 0.05,
    "notches": 0.05,
    "palette": 0.01,
}


def spread_limit(statistic: str, mean: float, sd: float) -> float:
    """A pixel statistic's limit from the real data's own distances: their mean plus
    SPREAD_LIMIT standard deviations, and at least the statistic's RESOLUTION."""
    return float(max(mean + SPREAD_LIMIT * sd, RESOLUTION[statistic]))


def pixel_limits(data: Row) -> dict[str, float]:
    """The verdict's limit for each pixel statistic, from the real-data row."""
    m = data.metrics
    return {k: spread_limit(k, m[f"{k}_w1"], m[f"{k}_w1_sd"]) for k in PIXEL_STATS}


def judge(rows: Iterable[Row], data: Row, limits: dict[str, float] | None = None) -> None:
    """Give each row its verdict against the real-data row's spread (`limits`, where the
    caller measured them over more splits: `Reference.limits`), and `pixel_clean` (1 or 0)
    among its metrics, so the verdict goes wherever the metrics go."""
    limits = pixel_limits(data) if limits is None else limits
    for row in rows:
        values = {k: row.metrics[f"{k}_w1"] for k in PIXEL_STATS}
        row.verdict = Verdict(limits, values)
        row.metrics["pixel_clean"] = float(row.verdict.clean)


@dataclass(frozen=True)
class Splits(Sequence):
    """The `repeats` random half-splits of `n` rows, (held, reference) row indices, each
    made from seed + r when asked for: a permutation is cheap, but holding one per
    repeat up front would let `--repeats 100000000` fill memory before any check."""

    n: int
    seed: int
    repeats: int

    def __len__(self) -> int:
        return self.repeats

    def __getitem__(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        if not -self.repeats <= r < self.repeats:
            raise IndexError(f"split {r} of {self.repeats}")
        order = np.random.default_rng(self.seed + r % self.repeats).permutation(self.n)
        return order[: self.n // 2], order[self.n // 2 :]


@dataclass
class Reference:
    """The dataset embedded once and split into random halves `repeats` times; every row
    is scored against the same splits with the same number of sprites."""

    data: TrainingData
    seed: int
    repeats: int = REPEATS
    splits: Splits = field(init=False)
    features: np.ndarray = field(init=False)
    _data_rows: dict[int, Row] = field(init=False, default_factory=dict, repr=False)
    _limits: dict[int, dict[str, float]] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.data)
        if n < checks.MIN_DATASET:
            raise PixelgenError(
                f"the dataset has {n} sprites; evaluation needs {checks.MIN_DATASET}"
            )
        if self.repeats < 1:
            raise PixelgenError("evaluation needs at least one repeat")
        self.splits = Splits(n, self.seed, self.repeats)
        self.features = embed(self.data.palette.to_rgba(self.training))

    @property
    def training(self) -> np.ndarray:
        return self.data.indices.numpy()

    @property
    def held(self) -> np.ndarray:
        """The first split's held-out half, as palette indices (for pictures)."""
        return self.training[self.splits[0][0]]

    def count(self, n: int) -> int:
        """Sprites per row and repeat: `n`, capped at the held-out half's size so the
        real-data row compares the same count as every other row."""
        return min(n, len(self.splits[0][0]))

    def set_scores(self, features: np.ndarray, r: int) -> dict[str, float]:
        """FD, KID and the k-NN metrics of embedded sprites against split `r`'s reference."""
        reference = self.features[self.splits[r][1]]
        return {
            "fd": metrics.frechet_distance(reference, features),
            "kid": 1e3 * metrics.kernel_inception_distance(reference, features),
            **metrics.prdc(reference, features),
        }

    def pixel_scores(
        self,
        indices: np.ndarray,
        raw: np.ndarray | None,
        exclude: np.ndarray | None = None,
        stats: dict[str, np.ndarray] | None = None,
    ) -> dict[str, float]:
        """Memorisation against the full training set (leaving out row `exclude[i]` for
        sprite i, when the sprites are the training set's own) and pixel statistics,
        pooled over every sprite given; `stats` are their `sprite_stats` when the caller
        has them already."""
        stats = self.sprite_stats(indices, raw) if stats is None else stats
        return {
            **metrics.memorisation(indices, self.training, exclude),
            "palette_fidelity": float(stats["palette"].mean()),
            "colours_per_sprite": float(stats["colours"].mean()),
            "isolated_per_sprite": float(stats["isolated"].mean()),
            "floating_per_sprite": float(stats["floating"].mean()),
            "components_per_sprite": float(stats["components"].mean()),
            "notches_per_sprite": float(stats["notches"].mean()),
            "stray_pixels": metrics.stray_pixel_rate(indices),
            "opaque_share": metrics.opaque_share(indices),
        }

    def sprite_stats(self, indices: np.ndarray, raw: np.ndarray | None) -> dict[str, np.ndarray]:
        """Each of PIXEL_STATS per sprite; sprites given as palette indices alone (real
        ones) are exactly on the palette."""
        palette = self.data.palette.rgba
        return {
            "isolated": metrics.isolated_pixels(indices),
            "floating": metrics.floating_pixels(indices),
            "colours": metrics.opaque_colours(indices),
            "components": metrics.colour_components(indices),
            "notches": metrics.notches(indices),
            "palette": np.ones(len(indices))
            if raw is None
            else metrics.on_palette_shares(raw, palette),
        }

    @cached_property
    def _training_stats(self) -> dict[str, np.ndarray]:
        return self.sprite_stats(self.training, None)

    def pixel_distances(self, stats: dict[str, np.ndarray], r: int) -> dict[str, float]:
        """The 1-D Wasserstein distance between each per-sprite statistic of a set and of
        split `r`'s reference half."""
        return self._distances(stats, self.splits[r][1])

    def _distances(self, stats: dict[str, np.ndarray], reference: np.ndarray) -> dict[str, float]:
        return {
            f"{k}_w1": metrics.wasserstein(stats[k], self._training_stats[k][reference])
            for k in PIXEL_STATS
        }

    def limits(self, n: int) -> dict[str, float]:
        """The verdict's limits at `count(n)` sprites: the real-data row's pixel distances
        (`pixel_limits`), their spread measured over max(repeats, LIMIT_SPLITS) half-splits,
        the first ones this reference's own. Measured once per count."""
        m = self.count(n)
        if m not in self._limits:
            splits = Splits(len(self.data), self.seed, max(self.repeats, LIMIT_SPLITS))
            per_split = []
            for held, reference in splits:
                stats = {k: v[held[:m]] for k, v in self._training_stats.items()}
                per_split.append(self._distances(stats, reference))
            spread = {}
            for key in per_split[0]:
                values = [d[key] for d in per_split]
                spread[key], spread[f"{key}_sd"] = np.mean(values), np.std(values, ddof=1)
            self._limits[m] = pixel_limits(Row("data (spread)", spread))
        return self._limits[m]

    def score(self, draw: Draw, n: int) -> tuple[dict[str, float], np.ndarray, np.ndarray | None]:
        """Every metric for a generator: `count(n)` sprites per repeat, set metrics and
        pixel distances averaged over the repeats (each with its spread), pooled pixel
        metrics over all of them. Returns the metrics and the pooled sprites (indices, raw)."""
        checks.evaluation(n)
        m = self.count(n)
        drawn = [draw(r, m) for r in range(self.repeats)]
        indices = np.concatenate([d[0] for d in drawn])
        raw = None if drawn[0][1] is None else np.concatenate([d[1] for d in drawn])
        features = embed(self.data.palette.to_rgba(indices))
        per_repeat, stats = [], []
        for r, (part, part_raw) in enumerate(drawn):
            stats.append(self.sprite_stats(part, part_raw))
            scores = self.set_scores(features[r * m : (r + 1) * m], r)
            per_repeat.append({**scores, **self.pixel_distances(stats[-1], r)})
        pooled = {k: np.concatenate([s[k] for s in stats]) for k in PIXEL_STATS}
        pixels = self.pixel_scores(indices, raw, stats=pooled)
        return {**summarise(per_repeat), **pixels}, indices, raw

    def data_row(self, n: int) -> Row:
        """Real sprites of each split's other half, measured exactly like a model: the
        best a model can hope for. Memorisation: each of those sprites against all the
        others in the training set (as many checks as a model's samples get). Measured
        once per count."""
        m = self.count(n)
        if m not in self._data_rows:
            self._data_rows[m] = self._measure_data_row(m)
        return self._data_rows[m]

    def _measure_data_row(self, m: int) -> Row:
        drawn = [held[:m] for held, _ in self.splits]
        per_repeat = []
        for r, rows in enumerate(drawn):
            scores = self.set_scores(self.features[rows], r)
            stats = {k: v[rows] for k, v in self._training_stats.items()}
            per_repeat.append({**scores, **self.pixel_distances(stats, r)})
        rows = np.concatenate(drawn)
        stats = {k: v[rows] for k, v in self._training_stats.items()}
        pixels = self.pixel_scores(self.training[rows], None, exclude=rows, stats=stats)
        return Row("data (held-out half)", {**summarise(per_repeat), **pixels}, "calibration")

    def speckled(self, r: int, m: int) -> np.ndarray:
        """Split `r`'s held-out sprites with specks: SPECKLE of each one's opaque pixels
        (at least one) recoloured to another opaque palette colour. With a one-colour
        palette there is none, so as many clear pixels turn opaque instead."""
        rng = np.random.default_rng([self.seed, r, 4])
        sprites = self.training[self.splits[r][0][:m]].copy()
        colours = self.data.palette.size - 1  # opaque colours, indices 1..colours
        for sprite in sprites.reshape(m, -1):
            opaque = np.flatnonzero(sprite > 0)
            count = max(1, round(SPECKLE * len(opaque)))
            if colours >= 2 and len(opaque):  # old + 1..colours-1, wrapped in 1..colours
                chosen = rng.choice(opaque, count, replace=False)
                shift = rng.integers(1, colours, count)
                sprite[chosen] = (sprite[chosen] - 1 + shift) % colours + 1
            elif colours == 1 and len(opaque) < len(sprite):
                clear = np.flatnonzero(sprite == 0)
                sprite[rng.choice(clear, min(count, len(clear)), replace=False)] = 1
        return sprites

    def calibration_rows(self, n: int, data: Row | None = None) -> list[Row]:
        """The real-data row (`data`, when the caller has it already), then rows of
        trivial and damaged generators measured the same way."""
        palette = self.data.palette
        shape = self.training.shape[1:]
        training = self.training

        def rng(r: int, salt: int) -> np.random.Generator:
            return np.random.default_rng([self.seed, r, salt])

        def noise(r: int, m: int):
            return rng(r, 1).integers(0, palette.size, size=(m, *shape)), None

        def means(r: int, m: int):
            cluster_means, weights = self._cluster_means
            raw = cluster_means[rng(r, 2).choice(len(cluster_means), m, p=weights)]
            return palette.snap(raw), raw

        def copies(r: int, m: int):
            return training[rng(r, 3).integers(0, len(training), m)], None

        def speckled(r: int, m: int):
            return self.speckled(r, m), None

        generators = {
            f"speckled data ({SPECKLE:.0%})": speckled,
            "palette noise": noise,
            "cluster means": means,
            "training copies": copies,
        }
        rows = [
            Row(name, self.score(draw, n)[0], "calibration") for name, draw in generators.items()
        ]
        return [data or self.data_row(n), *rows]

    @cached_property
    def _cluster_means(self) -> tuple[np.ndarray, np.ndarray]:
        """The mean RGBA sprite of each k-means cluster, and each cluster's share of the
        data (the "cluster means" generator draws them in proportion), computed once."""
        labels = class_labels(self.data.dataset, BASELINE_CLUSTERS, seed=self.seed)
        rgba = self.data.palette.to_rgba(self.training).astype(np.float64) / 255
        means = np.stack([rgba[labels == k].mean(0) for k in range(labels.max() + 1)])
        return means, np.bincount(labels) / len(labels)


def summarise(per_repeat: list[dict[str, float]]) -> dict[str, float]:
    """Means over the repeats, with `KEY_sd` (sample standard deviation) for FD and KID."""
    scores = {k: float(np.mean([s[k] for s in per_repeat])) for k in per_repeat[0]}
    for key in SPREAD:
        values = [s[key] for s in per_repeat]
        scores[f"{key}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return scores


def format_value(key: str, value: float) -> str:
    if key == "pixel_clean":
        return "yes" if value else "no"
    for k, _, fmt, _ in COLUMNS:
        if k == key:
            return fmt.format(value)
    return f"{value:.4g}"


def format_cell(scores: dict[str, float], key: str) -> str:
    """A metric as the tables show it: "3.71 ± 0.12" where it has a spread ("" where the
    row lacks it, as one scored before the metric existed)."""
    if key not in scores:
        return ""
    text = format_value(key, scores[key])
    if f"{key}_sd" in scores:
        text += " ± " + format_value(key, scores[f"{key}_sd"])
    return text


def markdown_table(rows: list[Row], extra_columns: list[str] = ()) -> str:
    header = ["", *(title for _, title, _, _ in COLUMNS), *extra_columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.name if row.kind == "model" else f"*{row.name}*"]
        cells += [format_cell(row.metrics, k) for k, _, _, _ in COLUMNS]
        cells += [format_value(c, row.extra[c]) if c in row.extra else "" for c in extra_columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n{LEGEND}; *italic* rows are calibration."
