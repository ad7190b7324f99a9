"""Each metric on cases with a known answer."""

import numpy as np
import pytest

from pixelgen_core.evaluation import metrics


@pytest.fixture
def cloud():
    return np.random.default_rng(0).normal(size=(400, 8))


def test_frechet_distance_is_zero_for_identical_sets_and_the_mean_shift_otherwise(cloud):
    assert metrics.frechet_distance(cloud, cloud) == pytest.approx(0, abs=1e-8)
    shifted = cloud + np.array([3.0, 4.0, 0, 0, 0, 0, 0, 0])
    assert metrics.frechet_distance(cloud, shifted) == pytest.approx(25.0, rel=1e-6)


def test_frechet_distance_sees_a_change_of_spread(cloud):
    # Same mean; covariance I vs 4I in 8 dims: FD = 8 * (1 + 4 - 2 * 2) = 8 (approximately).
    other = np.random.default_rng(1).normal(size=(400, 8)) * 2
    assert metrics.frechet_distance(cloud, other) == pytest.approx(8, rel=0.25)


def test_kid_is_near_zero_for_one_distribution_and_large_for_another(cloud):
    same = np.random.default_rng(1).normal(size=(400, 8))
    far = same + 2
    assert abs(metrics.kernel_inception_distance(cloud, same, subset_size=200)) < 0.05
    assert metrics.kernel_inception_distance(cloud, far, subset_size=200) > 1


def test_prdc_identical_sets_are_perfect_and_disjoint_sets_score_zero(cloud):
    same = metrics.prdc(cloud, cloud)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] >= 1.0
    apart = metrics.prdc(cloud, cloud + 100)
    assert apart == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_separates_fidelity_from_diversity(cloud):
    # Samples collapsed onto a few real points: high precision, low recall and coverage.
    collapsed = np.repeat(cloud[:5], 80, axis=0)
    scores = metrics.prdc(cloud, collapsed + 1e-6)
    assert scores["precision"] == 1.0
    assert scores["recall"] < 0.05 and scores["coverage"] < 0.2


def sprites(n, seed=0):
    return np.random.default_rng(seed).integers(0, 4, size=(n, 16, 16))


def test_verbatim_and_mirrored_copies_are_flagged_as_memorised():
    train = sprites(50)
    copies = metrics.memorisation(train[:20], train)
    assert copies["memorised"] == copies["exact_copies"] == 1.0
    assert metrics.memorisation(train[:20, :, ::-1], train)["memorised"] == 1.0
    near = train[:20].copy()
    near[:, 0, :5] = (near[:, 0, :5] + 1) % 4  # 5 of 256 pixels changed: under 2%
    assert metrics.memorisation(near, train)["memorised"] == 1.0
    assert metrics.memorisation(near, train)["exact_copies"] == 0.0
    fresh = metrics.memorisation(sprites(20, seed=9), train)
    assert fresh["memorised"] == 0.0 and fresh["nn_distance_median"] > 0.5


def test_palette_fidelity_counts_pixels_near_a_palette_entry():
    palette = np.array([[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 255]], dtype=np.uint8)
    exact = np.array([[1, 0, 0, 1], [0, 0, 1, 1], [0.3, 0.3, 0.3, 0.0]], dtype=np.float64)
    assert metrics.palette_fidelity(exact, palette) == 1.0
    between = np.array([[0.5, 0, 0.5, 1], [1, 0, 0, 0.5]])
    assert metrics.palette_fidelity(between, palette) == 0.0


def test_stray_pixels_colours_and_opaque_share():
    image = np.zeros((1, 6, 6), dtype=np.int64)
    image[0, 0, 0] = 1  # isolated
    image[0, 3:5, 3:5] = 2  # a 2x2 block: no strays
    assert metrics.stray_pixel_rate(image) == pytest.approx(1 / 5)
    assert metrics.colours_per_sprite(image) == 2
    assert metrics.opaque_share(image) == pytest.approx(5 / 36)
    assert metrics.stray_pixel_rate(np.zeros((1, 4, 4), dtype=np.int64)) == 0.0
