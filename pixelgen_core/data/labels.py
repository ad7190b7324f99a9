"""Class labels for conditional strategies: k-means clusters of the sprites, cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelgen_core.data.datasets import SpriteSet
from pixelgen_core.errors import PixelgenError
from pixelgen_core.files import write_atomic
from pixelgen_core.images import grid, write_png


def features(sprites: np.ndarray) -> np.ndarray:
    """Per-sprite features for clustering: the shape (alpha) and colour, 2x downsampled."""
    x = sprites.astype(np.float32) / 255
    n, h, w, _ = x.shape
    if h % 2 == 0 and w % 2 == 0:
        x = x.reshape(n, h // 2, 2, w // 2, 2, 4).mean(axis=(2, 4))
    return x.reshape(n, -1)


def centroid_distances(sprites: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Euclidean distances (N, K) from RGBA uint8 sprites, in the `features` the labels
    are clustered in, to class centroids (K, D): the nearest is the class a sprite looks
    like, which is how class agreement is measured."""
    x = features(sprites)
    return np.sqrt(((x[:, None, :] - centroids[None]) ** 2).sum(-1))


def class_centroids(sprites: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The mean `features` of each class's sprites, (num_classes, D)."""
    x = features(sprites)
    return np.stack([x[labels == k].mean(0) for k in range(num_classes)])


def class_labels(dataset: SpriteSet, num_classes: int, seed: int = 0) -> np.ndarray:
    """Labels (N,) in [0, num_classes); cached beside the dataset with a grid per class."""
    if num_classes < 1:
        raise ValueError("num_classes must be at least 1")
    num_classes = min(num_classes, len(dataset))
    cache = label_cache_dir(dataset, num_classes, seed)
    if cache is not None and (cache / "labels.npy").is_file():
        labels = np.load(cache / "labels.npy")
        if len(labels) == len(dataset):
            return labels
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=num_classes, random_state=seed, n_init=4)
    labels = km.fit_predict(features(dataset.sprites)).astype(np.int64)
    if cache is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            for k in range(num_classes):
                members = dataset.sprites[labels == k][:64]
                if len(members):
                    write_png(grid(members), cache / f"class_{k:02d}.png", scale=2)
            # atomic: ranks and side-by-side runs may race to write it
            write_atomic(cache / "labels.npy", lambda handle: np.save(handle, labels))
        except (OSError, PixelgenError):
            pass  # a read-only location only costs recomputing next time
    return labels


def label_cache_dir(dataset: SpriteSet, num_classes: int, seed: int = 0) -> Path | None:
    """Where the labels and per-class grids for these settings live."""
    if dataset.cache_dir is None:
        return None
    num_classes = min(num_classes, len(dataset))
    return dataset.cache_dir / f"labels-k{num_classes}-s{seed}-{dataset.fingerprint()}"
