"""Sprite data: bundled tilesheets, slicing, datasets, augmentation and class labels."""

from pixelgen_core.data.datasets import BUILTIN_DATASETS, SpriteSet, load_dataset
from pixelgen_core.data.sheets import slice_sheet

__all__ = ["BUILTIN_DATASETS", "SpriteSet", "load_dataset", "slice_sheet"]
