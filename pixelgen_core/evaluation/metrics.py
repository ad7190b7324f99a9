"""Sprite quality metrics. Feature-space metrics take embeddings; pixel metrics take sprites.

Every function is pure numpy (scikit-learn for nearest neighbours), so each can be
checked on cases with a known answer. docs/evaluation.md explains what each means.
"""

from __future__ import annotations

import numpy as np

NEAR_COPY = 0.02  # a sample within 2% of pixels of a training sprite is a (near) copy
K_NEIGHBOURS = 5


# -- feature space ----------------------------------------------------------------------
def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2) between Gaussian fits.

    The matrix square roots go through symmetric eigendecompositions, which stay real
    and stable where a general sqrtm can return complex noise.
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    inner = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(inner, 0, None)).sum()
    value = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(value, 0.0))


GRAM_ROWS = 4096  # sets up to this size get whole kernel matrices (128 MB each at most)


def _cubic_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / d + 1)^3 for every pair of rows (multiplied out: twice as
    fast as ** 3)."""
    k = x @ y.T / x.shape[1] + 1
    return k * k * k


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int = 500, seed: int = 0
) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel, averaged over random subsets.

    Unlike the Fréchet distance, its expectation does not depend on the sample size,
    which matters for datasets of a few hundred sprites. The subsets overlap heavily,
    so (for sets up to GRAM_ROWS) the kernel is computed once for every pair of rows,
    and a subset's sum over its block is w' K w, w being its 0/1 indicator vector.
    """
    rng = np.random.default_rng(seed)
    m = min(len(a), len(b), subset_size)
    draws = [
        (rng.choice(len(a), m, replace=False), rng.choice(len(b), m, replace=False))
        for _ in range(subsets)
    ]
    if max(len(a), len(b)) > GRAM_ROWS:
        sums = np.array([_block_sums(a[i], b[j]) for i, j in draws])
    else:
        wa, wb = np.zeros((len(a), subsets)), np.zeros((len(b), subsets))
        for s, (i, j) in enumerate(draws):
            wa[i, s] = wb[j, s] = 1
        kaa, kbb, kab = _cubic_kernel(a, a), _cubic_kernel(b, b), _cubic_kernel(a, b)
        sums = np.stack(
            [
                ((kaa @ wa) * wa).sum(0) - np.diag(kaa) @ wa,
                ((kbb @ wb) * wb).sum(0) - np.diag(kbb) @ wb,
                ((kab @ wb) * wa).sum(0),
            ],
            axis=1,
        )
    within = (sums[:, 0] + sums[:, 1]) / (m * (m - 1))
    return float(np.mean(within - 2 * sums[:, 2] / (m * m)))


def _block_sums(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Off-diagonal sums of k(x, x) and k(y, y), and the sum of k(x, y)."""
    kxx, kyy = _cubic_kernel(x, x), _cubic_kernel(y, y)
    return kxx.sum() - np.trace(kxx), kyy.sum() - np.trace(kyy), _cubic_kernel(x, y).sum()


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return dist[:, -1]  # column 0 is the point itself


def prdc(real: np.ndarray, fake: np.ndarray, k: int = K_NEIGHBOURS) -> dict[str, float]:
    """Precision and recall with k-NN manifolds (Kynkäänniemi et al., 2019), density and
    coverage (Naeem et al., 2020).

    precision: share of samples inside some real sprite's k-NN ball (fidelity);
    recall: share of real sprites inside some sample's k-NN ball (diversity);
    density: how many real balls hold each sample, over k (can exceed 1);
    coverage: share of real sprites whose ball holds at least one sample.
    """
    from sklearn.metrics import pairwise_distances

    real_radius = _kth_radius(real, k)
    fake_radius = _kth_radius(fake, k)
    dist = pairwise_distances(real, fake)  # (R, F)
    inside_real = dist <= real_radius[:, None]
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((dist <= fake_radius[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k),
        "coverage": float((dist.min(axis=1) <= real_radius).mean()),
    }


# -- pixel space ------------------------------------------------------------------------
def nearest_copy_distance(
    samples: np.ndarray, training: np.ndarray, exclude: np.ndarray | None = None
) -> np.ndarray:
    """For each sample (N, H, W) of palette indices, the share of pixels that differ from
    its nearest training sprite, mirror images included (training flips sprites).

    `exclude[i]`, when given, is the training row that sample i itself is: it and its
    mirror are left out, so real sprites are checked against all the others.
    """
    n = len(training)
    train = np.concatenate([training, training[:, :, ::-1]]).reshape(2 * n, -1)
    flat = samples.reshape(len(samples), -1)
    colours = np.intersect1d(np.unique(flat), np.unique(train))
    best = np.empty(len(flat))
    for start in range(0, len(flat), 512):  # bounds memory at 512 x 2n counts
        chunk = flat[start : start + 512]
        # Pixels that agree, as a sum over colours of one-hot matrix products: BLAS
        # does this many times faster than comparing every pair pixel by pixel, and
        # float32 counts are exact up to 2^24 pixels.
        same = np.zeros((len(chunk), 2 * n), dtype=np.float32)
        for colour in colours:
            same += (chunk == colour).astype(np.float32) @ (train == colour).astype(np.float32).T
        differ = (flat.shape[1] - same.astype(np.float64)) / flat.shape[1]
        if exclude is not None:
            rows, own = np.arange(len(chunk)), exclude[start : start + 512]
            differ[rows, own] = differ[rows, own + n] = np.inf
        best[start : start + 512] = differ.min(axis=1)
    return best


def memorisation(
    samples: np.ndarray, training: np.ndarray, exclude: np.ndarray | None = None
) -> dict[str, float]:
    """Share of exact or near copies (at most 2% of pixels differ) and the NN distances;
    `exclude` as in `nearest_copy_distance`."""
    dist = nearest_copy_distance(samples, training, exclude)
    return {
        "memorised": float((dist <= NEAR_COPY).mean()),
        "exact_copies": float((dist == 0).mean()),
        "nn_distance_p10": float(np.quantile(dist, 0.1)),
        "nn_distance_median": float(np.median(dist)),
    }


def on_palette(raw: np.ndarray, palette_rgba: np.ndarray, tolerance: float = 0.1) -> np.ndarray:
    """For each raw (pre-snap) RGBA pixel (..., 4) in [0, 1]: whether it lies within
    `tolerance` per channel of a palette entry, a colour at full opacity or the
    transparent background. Shaped like `raw` without its last axis."""
    pixels = raw.reshape(-1, 4)
    colours = palette_rgba[1:, :3].astype(np.float64) / 255
    alpha = pixels[:, 3]
    background = alpha <= tolerance
    colour_err = np.abs(pixels[:, None, :3] - colours[None, :, :]).max(axis=2).min(axis=1)
    opaque_ok = (alpha >= 1 - tolerance) & (colour_err <= tolerance)
    return (background | opaque_ok).reshape(raw.shape[:-1])


def palette_fidelity(raw: np.ndarray, palette_rgba: np.ndarray, tolerance: float = 0.1) -> float:
    """Share of raw (pre-snap) pixels on the palette (`on_palette`)."""
    return float(on_palette(raw, palette_rgba, tolerance).mean())


def colours_per_sprite(indices: np.ndarray) -> float:
    """Mean number of distinct opaque palette colours in a sprite (`opaque_colours`)."""
    return float(opaque_colours(indices).mean())


def stray_pixel_rate(indices: np.ndarray) -> float:
    """Share of opaque pixels with no 8-neighbour of the same colour (isolated specks)."""
    n, h, w = indices.shape
    padded = np.full((n, h + 2, w + 2), -1, dtype=np.int64)
    padded[:, 1:-1, 1:-1] = indices
    same = np.zeros((n, h, w), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                same |= padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] == indices
    opaque = indices > 0
    return float((opaque & ~same).sum() / max(opaque.sum(), 1))


def opaque_share(indices: np.ndarray) -> float:
    return float((indices > 0).mean())


# -- per-sprite pixel statistics ---------------------------------------------------------
# What a pixel artist checks first: specks, extra colours, broken shapes, colours off the
# palette. Each returns one number per sprite, so a set of samples can be compared with
# real sprites as distributions (`wasserstein`), not only by their means.
def _same_colour_neighbours(indices: np.ndarray) -> np.ndarray:
    """(N, H, W) counts of each pixel's 4-neighbours (up, down, left, right) of its colour."""
    same = np.zeros(indices.shape, dtype=np.int8)
    same[:, 1:] += indices[:, 1:] == indices[:, :-1]
    same[:, :-1] += indices[:, :-1] == indices[:, 1:]
    same[:, :, 1:] += indices[:, :, 1:] == indices[:, :, :-1]
    same[:, :, :-1] += indices[:, :, :-1] == indices[:, :, 1:]
    return same


def isolated_mask(indices: np.ndarray) -> np.ndarray:
    """(N, H, W) bool: the opaque pixels with no 4-neighbour of their own colour."""
    return (indices > 0) & (_same_colour_neighbours(indices) == 0)


def isolated_pixels(indices: np.ndarray) -> np.ndarray:
    """Per sprite: opaque pixels with no 4-neighbour of their own colour. A one-pixel
    diagonal line counts too, so real sprites have some; specks add more."""
    return isolated_mask(indices).sum(axis=(1, 2)).astype(np.float64)


def opaque_colours(indices: np.ndarray) -> np.ndarray:
    """Per sprite: how many distinct opaque palette colours it uses (index 0 is clear)."""
    flat = indices.reshape(len(indices), int(np.prod(indices.shape[1:]))).astype(np.int64)
    present = np.zeros((len(flat), int(flat.max(initial=0)) + 1), dtype=bool)
    present[np.arange(len(flat))[:, None], flat] = True
    return present[:, 1:].sum(axis=1).astype(np.float64)


def colour_components(indices: np.ndarray) -> np.ndarray:
    """Per sprite: 4-connected regions of one opaque colour. A speck inside a shape adds
    one region, or splits the shape into more."""
    from scipy import ndimage

    # 4-connectivity within a sprite, none across sprites (the first axis).
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    counts = np.zeros(len(indices))
    for colour in np.setdiff1d(np.unique(indices), [0]):
        labels, found = ndimage.label(indices == colour, structure)
        if not found:
            continue
        # label() numbers regions in scan order, so sprite i's are those above the
        # largest label of sprites 0..i-1: the running maximum gives each sprite's count.
        last = np.maximum.accumulate(labels.reshape(len(indices), -1).max(axis=1))
        counts += np.diff(last, prepend=0)
    return counts


FLOATING_GROUP = 2  # opaque pixels: a group this small, touching nothing else, is a speck


def floating_mask(indices: np.ndarray) -> np.ndarray:
    """(N, H, W) bool: opaque pixels in a group of at most FLOATING_GROUP that touches
    no other opaque pixel, not even diagonally: a speck cut off from the shape."""
    from scipy import ndimage

    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connectivity within a sprite, none across sprites
    labels, _ = ndimage.label(indices > 0, structure)
    sizes = np.bincount(labels.ravel())
    small = (sizes <= FLOATING_GROUP) & (np.arange(len(sizes)) > 0)
    return small[labels]


def floating_pixels(indices: np.ndarray) -> np.ndarray:
    """Per sprite: its `floating_mask` pixels. Isolated pixels mix such specks with
    one-pixel detail on the shape (a diagonal stroke, an eye), which real sprites have
    plenty of; floating ones few sprites have (a dotted line, a star), and a model
    sprinkles them around its shapes."""
    return floating_mask(indices).reshape(len(indices), -1).sum(axis=1).astype(np.float64)


def notch_mask(indices: np.ndarray) -> np.ndarray:
    """(N, H, W) bool: the pixels (clear ones too) joined to their own colour by exactly
    one 4-neighbour, whose other three neighbours are one other colour: a one-pixel bump
    out of an edge or a one-pixel dent into it. A drawn straight edge or a staircase has
    none; the end of a one-pixel line is one, so real sprites have some."""
    n, h, w = indices.shape
    padded = np.full((n, h + 2, w + 2), -1, dtype=np.int64)  # -1: beyond the frame
    padded[:, 1:-1, 1:-1] = indices
    around = [
        padded[:, :-2, 1:-1],
        padded[:, 2:, 1:-1],
        padded[:, 1:-1, :-2],
        padded[:, 1:-1, 2:],
    ]
    walled = np.zeros(indices.shape, dtype=bool)  # three or four neighbours of one other colour
    for side in around:
        alike = sum((other == side).astype(np.int8) for other in around)
        walled |= (alike >= 3) & (side != indices) & (side >= 0)
    return walled & (_same_colour_neighbours(indices) == 1)


def notches(indices: np.ndarray) -> np.ndarray:
    """Per sprite: its `notch_mask` pixels. What makes an outline ragged rather than
    drawn: real sprites keep them for line ends and small details (an eye, a tooth); a
    model's torn shapes and textures have them all along their edges, and FD and the
    counts of specks and colours do not see them."""
    return notch_mask(indices).reshape(len(indices), -1).sum(axis=1).astype(np.float64)


def on_palette_shares(
    raw: np.ndarray, palette_rgba: np.ndarray, tolerance: float = 0.1
) -> np.ndarray:
    """Per sprite (N, H, W, 4): the share of its raw pixels on the palette (`on_palette`),
    what the model drew exactly before snapping hid the rest."""
    return on_palette(raw, palette_rgba, tolerance).reshape(len(raw), -1).mean(axis=1)


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """The 1-D Wasserstein (earth mover's) distance between two samples of a per-sprite
    statistic: 0 for the same distribution, and in the statistic's own units (0.5 colours
    per sprite means half a colour too many or too few on average, once both are sorted)."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))
