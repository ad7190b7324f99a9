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


def kid_by_definition(a, b, subsets, subset_size, seed):
    """KID as the paper writes it: each subset's kernel blocks made anew."""
    rng = np.random.default_rng(seed)
    m, values = min(len(a), len(b), subset_size), []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = [(p @ q.T / a.shape[1] + 1) ** 3 for p, q in ((x, x), (y, y), (x, y))]
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2 * kxy.mean())
    return np.mean(values)


@pytest.mark.parametrize("gram_rows", [4096, 10], ids=["whole-kernel", "per-subset"])
def test_kid_equals_its_definition_on_overlapping_subsets(cloud, monkeypatch, gram_rows):
    monkeypatch.setattr(metrics, "GRAM_ROWS", gram_rows)
    other = np.random.default_rng(1).normal(size=(300, 8)) + 0.3
    for size, seed in ((150, 0), (500, 3)):  # proper subsets; then the whole of the smaller set
        expected = kid_by_definition(cloud, other, 7, size, seed)
        got = metrics.kernel_inception_distance(cloud, other, 7, size, seed)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


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


@pytest.mark.parametrize("shape", [(16, 16), (20, 12)])
def test_nearest_copy_distance_equals_its_definition(shape):
    """Counted through one-hot matrix products, it must equal comparing pixel by pixel
    against every training sprite and its mirror, the sample's own row left out."""
    rng = np.random.default_rng(1)
    train = rng.integers(0, 5, size=(600, *shape), dtype=np.uint8)
    exclude = rng.integers(0, 600, 530)  # each sample is a noisy copy of this row
    samples = train[exclude]
    samples[rng.random(samples.shape) < 0.03] = 7  # a colour the training set lacks
    both = np.concatenate([train, train[:, :, ::-1]]).reshape(1200, -1)
    differ = (samples.reshape(530, 1, -1) != both[None]).mean(axis=2)
    assert np.array_equal(metrics.nearest_copy_distance(samples, train), differ.min(axis=1))
    differ[np.arange(530), exclude] = differ[np.arange(530), exclude + 600] = np.inf
    got = metrics.nearest_copy_distance(samples, train, exclude)
    assert np.array_equal(got, differ.min(axis=1))


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


def test_isolated_pixels_count_opaque_pixels_without_a_4_neighbour_of_their_colour():
    image = np.zeros((2, 6, 6), dtype=np.int64)
    image[0, 0, 0] = 1  # alone
    image[0, 3:5, 3:5] = 2  # a 2x2 block: none isolated
    image[0, 2, 2] = 2  # touches the block only diagonally: isolated
    image[1, 1, 1:4] = 3  # a line of three: none
    image[1, 1, 2] = 1  # a speck in it splits it: three isolated pixels
    assert metrics.isolated_pixels(image).tolist() == [2, 3]


def test_floating_pixels_are_specks_cut_off_from_the_shape_not_detail_on_it():
    image = np.zeros((3, 8, 8), dtype=np.int64)
    image[:, 2:6, 2:6] = 1  # a block
    image[0, 1, 1] = 2  # on a corner, diagonally, another colour: detail, not floating
    image[0, 3, 3] = 2  # inside the shape: isolated, not floating
    image[1, 0, 7] = 1  # a lone speck in the corner
    image[1, 7, 0:2] = 3  # a two-pixel speck
    image[2, 0, 0:3] = 1  # three pixels make a stroke: not a speck
    assert metrics.floating_pixels(image).tolist() == [0, 3, 0]
    assert metrics.isolated_pixels(image)[0] == 2  # what isolated counts, floating leaves
    assert metrics.floating_pixels(np.zeros((2, 4, 4), dtype=np.int64)).tolist() == [0, 0]


def test_notches_are_one_pixel_bumps_and_dents_not_straight_or_stepped_edges():
    image = np.zeros((5, 8, 8), dtype=np.int64)
    image[:, 2:6, 2:6] = 1  # a block: straight edges, no notch
    image[1, 1, 3] = 1  # a bump on its top edge
    image[2, 2, 4] = 0  # a dent in it, which leaves the corner's last pixel a bump too
    image[3] = np.tril(np.ones((8, 8), dtype=np.int64))  # a staircase edge: no notch
    image[4] = 0
    image[4, 3, 1:6] = 2  # a one-pixel line: its two ends
    assert metrics.notches(image).tolist() == [0, 1, 2, 0, 2]
    assert metrics.notch_mask(image)[2, 2, 4] and metrics.notch_mask(image)[2, 2, 5]
    # a speck alone is isolated, not a notch: no neighbour of its own colour
    speck = np.zeros((1, 5, 5), dtype=np.int64)
    speck[0, 2, 2] = 1
    assert metrics.notches(speck).tolist() == [0] and metrics.isolated_pixels(speck)[0] == 1


def test_colours_and_components_per_sprite():
    image = np.zeros((3, 6, 6), dtype=np.int64)
    image[0, :2, :2] = 1
    image[0, 4:, 4:] = 1  # the same colour again, apart: two regions, one colour
    image[1, 1, :] = 2
    image[1, 1, 3] = 3  # a speck of another colour splits the line: three regions
    # sprite 2 is empty
    assert metrics.opaque_colours(image).tolist() == [1, 2, 0]
    assert metrics.colour_components(image).tolist() == [2, 3, 0]
    # a region never runs from one sprite into the next, whatever the sprite order
    stacked = np.concatenate([image[[2, 1, 0]], image])
    assert metrics.colour_components(stacked).tolist() == [0, 3, 2, 2, 3, 0]


def test_on_palette_shares_are_per_sprite():
    palette = np.array([[0, 0, 0, 0], [255, 0, 0, 255]], dtype=np.uint8)
    raw = np.zeros((2, 1, 2, 4))
    raw[0, 0, 0] = [1, 0, 0, 1]  # exact red
    raw[0, 0, 1] = [0.5, 0, 0, 1]  # half red: off the palette
    raw[1, 0, :] = [0.95, 0.05, 0, 0.97]  # within 0.1 of red, both
    assert metrics.on_palette_shares(raw, palette).tolist() == [0.5, 1.0]


def test_wasserstein_is_in_the_statistics_units():
    assert metrics.wasserstein(np.array([1.0, 1, 1]), np.array([1.0, 1, 1])) == 0
    assert metrics.wasserstein(np.array([1.0, 1]), np.array([2.0, 2])) == pytest.approx(1)
    assert metrics.wasserstein(np.array([0.0, 2]), np.array([2.0, 0])) == 0  # order-free
