"""Score a strategy's samples against its dataset, next to calibration rows.

Every row is scored against the same reference: a fixed random half of the dataset.
The other half ("data, held-out half") shows what real sprites score; "palette noise",
"cluster means" and "training copies" show where trivial generators land. A model's
row reads between noise and held-out data, and copying is flagged by `memorised`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pixelgen_core.data.labels import class_labels
from pixelgen_core.data.prepare import TrainingData
from pixelgen_core.errors import PixelgenError
from pixelgen_core.evaluation import metrics
from pixelgen_core.evaluation.encoder import embed

MIN_SAMPLES = 16  # k-NN metrics use k = 5; fewer samples make them meaningless
MIN_DATASET = 24
BASELINE_CLUSTERS = 16

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
    ("colours_per_sprite", "colours ≈", "{:.2f}", "data"),
    ("stray_pixels", "stray ≈", "{:.3f}", "data"),
    ("opaque_share", "opaque ≈", "{:.2f}", "data"),
]
LEGEND = "↑ higher is better, ↓ lower is better, ≈ closer to the held-out data row is better"


@dataclass
class Row:
    name: str
    metrics: dict[str, float]
    kind: str = "model"  # "model" or "calibration"
    extra: dict[str, float] = field(default_factory=dict)  # strategy metrics, timings

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "metrics": self.metrics, "extra": self.extra}


@dataclass
class Reference:
    """The dataset split once, embedded once, shared by every row scored against it."""

    data: TrainingData
    seed: int
    held: np.ndarray = field(init=False)
    rest: np.ndarray = field(init=False)
    features: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.data)
        if n < MIN_DATASET:
            raise PixelgenError(f"the dataset has {n} sprites; evaluation needs {MIN_DATASET}")
        order = np.random.default_rng(self.seed).permutation(n)
        indices = self.data.indices.numpy()
        self.held, self.rest = indices[order[: n // 2]], indices[order[n // 2 :]]
        self.features = embed(self.data.palette.to_rgba(self.rest))

    @property
    def training(self) -> np.ndarray:
        return self.data.indices.numpy()

    def score(self, indices: np.ndarray, raw: np.ndarray | None, training: np.ndarray) -> dict:
        """All metrics for sprites given as palette indices (and their pre-snap RGBA)."""
        if len(indices) < MIN_SAMPLES:
            raise PixelgenError(f"evaluation needs at least {MIN_SAMPLES} samples (-n)")
        palette = self.data.palette
        features = embed(palette.to_rgba(indices))
        scores = {
            "fd": metrics.frechet_distance(self.features, features),
            "kid": 1e3 * metrics.kernel_inception_distance(self.features, features),
            **metrics.prdc(self.features, features),
            **metrics.memorisation(indices, training),
            "palette_fidelity": 1.0 if raw is None else metrics.palette_fidelity(raw, palette.rgba),
            "colours_per_sprite": metrics.colours_per_sprite(indices),
            "stray_pixels": metrics.stray_pixel_rate(indices),
            "opaque_share": metrics.opaque_share(indices),
        }
        return scores

    def data_row(self) -> Row:
        """Real held-out sprites against the other half: the best a model can hope for."""
        return Row("data (held-out half)", self.score(self.held, None, self.rest), "calibration")

    def calibration_rows(self, n: int) -> list[Row]:
        rng = np.random.default_rng(self.seed + 1)
        palette = self.data.palette
        shape = self.training.shape[1:]
        noise = rng.integers(0, palette.size, size=(n, *shape))
        copies = self.training[rng.integers(0, len(self.training), n)]
        means_raw = self._cluster_means(rng, n)
        return [
            self.data_row(),
            Row("palette noise", self.score(noise, None, self.training), "calibration"),
            Row(
                "cluster means",
                self.score(palette.snap(means_raw), means_raw, self.training),
                "calibration",
            ),
            Row("training copies", self.score(copies, None, self.training), "calibration"),
        ]

    def _cluster_means(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """The mean RGBA sprite of each k-means cluster, drawn in proportion to cluster size."""
        labels = class_labels(self.data.dataset, BASELINE_CLUSTERS, seed=self.seed)
        rgba = self.data.palette.to_rgba(self.training).astype(np.float64) / 255
        means = np.stack([rgba[labels == k].mean(0) for k in range(labels.max() + 1)])
        picks = rng.choice(len(means), n, p=np.bincount(labels) / len(labels))
        return means[picks]


def format_value(key: str, value: float) -> str:
    for k, _, fmt, _ in COLUMNS:
        if k == key:
            return fmt.format(value)
    return f"{value:.4g}"


def markdown_table(rows: list[Row], extra_columns: list[str] = ()) -> str:
    header = ["", *(title for _, title, _, _ in COLUMNS), *extra_columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.name if row.kind == "model" else f"*{row.name}*"]
        cells += [format_value(k, row.metrics[k]) for k, _, _, _ in COLUMNS]
        cells += [format_value(c, row.extra[c]) if c in row.extra else "" for c in extra_columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\n{LEGEND}; *italic* rows are calibration."
