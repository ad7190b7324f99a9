"""Turn a config's data section into training tensors: palette indices, labels, batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pixelgen_core.data.augment import hflip, palette_swap
from pixelgen_core.data.datasets import SpriteSet, load_dataset
from pixelgen_core.data.labels import class_labels
from pixelgen_core.palette import Palette, extract, remap
from pixelgen_core.strategy import Batch, DataInfo, StrategySpec


@dataclass
class TrainingData:
    dataset: SpriteSet
    palette: Palette
    indices: torch.Tensor  # (N, H, W) palette indices, uint8 when the palette allows
    labels: torch.Tensor | None
    info: DataInfo

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
        return Batch(images.to(device), indices.to(device), labels)

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
) -> TrainingData:
    """Load the dataset, extract its palette (unless given), snap it, and cluster
    labels; with a `spec`, first check the strategy takes the sprites' size.

    With `data.palette` the extracted colours are then paired one to one with that
    palette's (`palette.remap`), and training sees the sprites in it."""
    data_cfg = config["data"]
    seed = int(config["training"]["seed"])
    dataset = load_dataset(str(data_cfg["dataset"]), bool(data_cfg["focused"]))
    if spec is not None:  # before any slow step, so a size it cannot take fails at once
        spec.sizes.check(spec.name, *dataset.shape)
    indices = None
    if palette is None:
        palette = extract(dataset.sprites, int(data_cfg["max_colors"]), seed=seed)
        if data_cfg.get("palette"):  # the data's colours paired one to one with the user's
            from pixelgen_core.palette_files import load_palette

            user = load_palette(data_cfg["palette"])
            indices = remap(palette, user)[palette.snap(dataset.sprites)]
            palette = user
    # a byte per pixel where the palette allows: the one copy of the data training holds
    compact = np.uint8 if palette.size <= 256 else np.int64
    if indices is None:
        indices = palette.snap(dataset.sprites, dtype=compact)
    indices = torch.from_numpy(indices.astype(compact, copy=False))
    num_classes = int(data_cfg["num_classes"]) if conditional else 0
    labels = None
    if num_classes > 0:
        labels = torch.from_numpy(class_labels(dataset, num_classes, seed=seed))
        num_classes = int(labels.max()) + 1
    height, width = dataset.shape
    info = DataInfo(height, palette.as_tuples(), num_classes, len(dataset), width)
    return TrainingData(dataset, palette, indices, labels, info)
