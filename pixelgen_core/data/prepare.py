"""Turn a config's data section into training tensors: palette indices, labels, batches."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from pixelgen_core.checks import MIN_DATASET
from pixelgen_core.data.augment import hflip, palette_swap
from pixelgen_core.data.datasets import SpriteSet, load_dataset
from pixelgen_core.data.labels import class_labels
from pixelgen_core.palette import Palette, extract, remap
from pixelgen_core.prompts import tag_implications
from pixelgen_core.settings import DataConfig, core_config
from pixelgen_core.strategy import Batch, DataInfo, StrategySpec


@dataclass
class TrainingData:
    dataset: SpriteSet
    palette: Palette
    indices: torch.Tensor  # (N, H, W) palette indices, uint8 when the palette allows
    labels: torch.Tensor | None
    info: DataInfo
    tags: torch.Tensor | None = None  # (N, T) 0/1 over info.tags, when the run has tags
    notes: tuple[str, ...] = ()  # one line each, said when training starts

    def __len__(self) -> int:
        return len(self.indices)

    def batch(
        self, rows: torch.Tensor, generator: torch.Generator, data_cfg: dict, device: torch.device
    ) -> Batch:
        """Sprites `rows`, augmented as the config says, as a Batch on `device`."""
        indices = self.indices[rows].long()
        if data_cfg["hflip"]:
            indices = hflip(indices, generator)
        indices = palette_swap(indices, self.palette.size - 1, generator, data_cfg["palette_swap"])
        images = rgba_table(self.info).index_select(0, indices.flatten())
        images = images.view(*indices.shape, 4).permute(0, 3, 1, 2).contiguous()
        labels = self.labels[rows].to(device) if self.labels is not None else None
        tags = self.tags[rows].to(device) if self.tags is not None else None
        return Batch(images.to(device), indices.to(device), labels, tags)

    def unaugmented(self, rows: torch.Tensor, device: torch.device) -> Batch:
        """Sprites `rows` as the dataset has them (no flips, no colour swaps): what
        evaluation scores and reconstruction shows."""
        return self.batch(rows, torch.Generator(), {"hflip": False, "palette_swap": 0.0}, device)


def rgba_table(info: DataInfo) -> torch.Tensor:
    return torch.tensor(info.palette, dtype=torch.float32)


def prepare(
    config: dict,
    conditional: bool,
    palette: Palette | None = None,
    spec: StrategySpec | None = None,
    vocabulary: tuple[str, ...] | None = None,
) -> TrainingData:
    """Load the dataset, extract its palette (unless given), snap it, and cluster
    labels or read tags; with a `spec`, first check the strategy takes the sprites' size.

    With `data.palette` the extracted colours are then paired one to one with that
    palette's (`palette.remap`), and training sees the sprites in it. A conditional
    strategy with the "tags" capability conditions on the data's tags when it has any
    (and `data.tags` is on), instead of k-means classes; `vocabulary` fixes the tags (a
    resumed or reopened run's)."""
    typed = core_config(config)
    data_cfg, seed = typed.data, typed.training.seed
    dataset = load_dataset(data_cfg.dataset, data_cfg.focused)
    if spec is not None:  # before any slow step, so a size it cannot take fails at once
        spec.sizes.check(spec.name, *dataset.shape)
    indices = None
    if palette is None:
        palette = extract(dataset.sprites, data_cfg.max_colors, seed=seed)
        if data_cfg.palette:  # the data's colours paired one to one with the user's
            from pixelgen_core.palette_files import load_palette

            user = load_palette(data_cfg.palette)
            indices = remap(palette, user)[palette.snap(dataset.sprites)]
            palette = user
    # a byte per pixel where the palette allows: the one copy of the data training holds
    compact = np.uint8 if palette.size <= 256 else np.int64
    if indices is None:
        indices = palette.snap(dataset.sprites, dtype=compact)
    indices = torch.from_numpy(indices.astype(compact, copy=False))
    takes_tags = vocabulary is not None or (spec is not None and "tags" in spec.capabilities)
    tagged = read_tags(dataset, data_cfg, vocabulary) if conditional and takes_tags else None
    num_classes = data_cfg.num_classes if conditional and tagged is None else 0
    labels = None
    if num_classes > 0:
        labels = torch.from_numpy(class_labels(dataset, num_classes, seed=seed))
        num_classes = int(labels.max()) + 1
    height, width = dataset.shape
    info = DataInfo(height, palette.as_tuples(), num_classes, len(dataset), width)
    if tagged is None:
        return TrainingData(dataset, palette, indices, labels, info, notes=few_sprites(info))
    matrix, vocab, notes = tagged
    counts = tuple(int(c) for c in matrix.sum(axis=0))
    implies = tag_implications(matrix, vocab)
    info = dataclasses.replace(
        info,
        tags=vocab,
        tag_counts=counts,
        tag_implies=tuple(implies.get(t, ()) for t in vocab),
    )
    notes = (*notes, *few_sprites(info))
    return TrainingData(dataset, palette, indices, None, info, torch.from_numpy(matrix), notes)


def few_sprites(info: DataInfo) -> tuple[str, ...]:
    """What to tell the user about a dataset too small to learn from or to measure: a
    model learns a handful of sprites by heart (it draws copies), and evaluation and the
    end-of-training sampler choice need MIN_DATASET. Training goes on: copying one's own
    few sprites can be what a user wants, but not without knowing it."""
    if info.num_sprites >= MIN_DATASET:
        return ()
    sprites, them = ("sprite", "it") if info.num_sprites == 1 else ("sprites", "them")
    return (
        f"only {info.num_sprites} {sprites}: the model will learn {them} by heart and draw "
        f"copies, and pixelgen evaluate needs at least {MIN_DATASET} (a few hundred train well)",
    )


def read_tags(
    dataset: SpriteSet, data_cfg: DataConfig, vocabulary: tuple[str, ...] | None
) -> tuple[np.ndarray, tuple[str, ...], list[str]] | None:
    """The (N, T) float32 tag matrix, the vocabulary and what to tell the user, or None
    when the data has no tags (or `data.tags` is off), so training falls back to classes.
    A given `vocabulary` is a run's own (empty: it has no tags), whatever the config says."""
    if vocabulary is None and not data_cfg.tags:
        return None
    min_count = data_cfg.min_tag_count
    tagging, dropped, vocab = dataset.tags(), [], vocabulary
    if vocabulary is None:
        tagging, dropped = tagging.kept(min_count)
        vocab = tuple(t for t, _ in tagging.vocabulary())
    # else the run's own tags, each where the data has it today
    if not vocab:
        return None
    column = {tag: i for i, tag in enumerate(vocab)}
    matrix = np.zeros((len(dataset), len(vocab)), dtype=np.float32)
    for row, tags in enumerate(tagging.tags):
        for tag in tags:
            if tag in column:
                matrix[row, column[tag]] = 1
    untagged = int((matrix.sum(axis=1) == 0).sum())
    notes = [
        f"conditioning on {len(vocab)} tags from {tagging.source} "
        f"({untagged} of {len(dataset)} sprites carry none): pixelgen data show lists them"
    ]
    if dropped:
        shown = ", ".join(dropped[:8]) + (", ..." if len(dropped) > 8 else "")
        notes.append(
            f"dropped {len(dropped)} tags on fewer than {min_count} sprites or on all "
            f"(data.min_tag_count): {shown}"
        )
    return matrix, vocab, notes
