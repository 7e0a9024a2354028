"""The 313 ab bins, soft-encoding, the smoothed prior and the rebalancing weights."""

import numpy as np
import pytest

from colored import bins
from colored.color import rgb_to_lab


@pytest.fixture(scope="module")
def srgb_ab() -> np.ndarray:
    """Distinct ab values (rounded to 0.5) of a 48-level sRGB cube plus its surface at 256 levels,
    where the most saturated colours live."""
    levels = np.linspace(0, 1, 48)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    fine = np.stack(np.meshgrid(np.linspace(0, 1, 256), np.linspace(0, 1, 256), indexing="ij"), -1).reshape(-1, 2)
    faces = [np.insert(fine, axis, value, axis=1) for axis in range(3) for value in (0.0, 1.0)]
    ab = rgb_to_lab(np.concatenate([cube, *faces]))[:, 1:]
    return np.unique(np.round(ab * 2) / 2, axis=0)


def test_recomputation_gives_313_and_matches_the_cached_asset():
    fresh = bins.compute_bin_centers()
    assert fresh.shape == (313, 2)
    assert bins.ASSET.is_file()
    np.testing.assert_array_equal(fresh, np.load(bins.ASSET))
    np.testing.assert_array_equal(bins.bin_centers(), fresh)
    assert np.all(fresh % 10 == 0)
    assert len({tuple(c) for c in fresh}) == 313
    # the range Zhang et al. published for their table
    assert fresh.min(0).tolist() == [-90, -110] and fresh.max(0).tolist() == [100, 100]


def _linf_to_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """L-inf distance from points to a filled polygon: 0 inside, else to densely sampled edges.

    Deliberately a different method from colored.bins (which uses a Minkowski sum)."""
    from matplotlib.path import Path

    t = np.linspace(0, 1, 400, endpoint=False)[:, None]
    edges = np.concatenate([a + t * (b - a) for a, b in zip(polygon, np.roll(polygon, -1, axis=0))])
    inside = Path(polygon).contains_points(points)
    d = np.zeros(len(points))
    d[~inside] = np.abs(points[~inside, None, :] - edges[None]).max(-1).min(1)
    return d


def test_bins_are_the_grid_points_near_the_srgb_hull(srgb_ab):
    from scipy.spatial import ConvexHull

    hull = ConvexHull(bins.srgb_ab_hull())
    polygon = hull.points[hull.vertices]  # counter-clockwise order
    # the hull really encloses the sRGB colours (sampled independently here; 0.36 = rounding slack, 0.25 * sqrt 2)
    assert (srgb_ab @ hull.equations[:, :2].T + hull.equations[:, 2]).max() <= 0.36
    centers = bins.bin_centers()
    assert _linf_to_polygon(centers, polygon).max() <= 10 + 0.05
    grid = np.arange(-130, 140, 10.0)
    allpts = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    members = {tuple(c) for c in centers}
    others = np.array([p for p in allpts if tuple(p) not in members])
    assert _linf_to_polygon(others, polygon).min() > 10
    # every sRGB colour rounds to a bin (its grid cell centre is within L-inf 5 of the gamut)
    assert {tuple(p) for p in np.unique(np.round(srgb_ab / 10) * 10, axis=0)} <= members


def test_soft_encoding_sums_to_one_nearest_first():
    ab = np.random.default_rng(0).uniform(-60, 60, (7, 5, 2))
    idx, w = bins.soft_encode(ab)
    assert idx.shape == w.shape == (7, 5, 5)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)
    assert np.all(np.diff(w, axis=-1) <= 1e-12)  # nearest bin has the largest weight
    np.testing.assert_array_equal(idx[..., 0], bins.nearest_bin(ab))
    # at a bin centre: neighbours are 10 away -> weight ratio exp(-100 / 50)
    c = bins.bin_centers()
    at = c[150][None]
    i, w = bins.soft_encode(at)
    assert i[0, 0] == 150
    assert w[0, 1] / w[0, 0] == pytest.approx(np.exp(-100 / (2 * 5**2)))


def test_prior_and_rebalancing_weights():
    rng = np.random.default_rng(0)
    ab = np.concatenate([rng.normal(0, 3, (20000, 2)), rng.normal([40, 40], 3, (2000, 2))])
    p = bins.prior_from_histogram(bins.ab_histogram(ab))
    assert p.shape == (313,) and p.sum() == pytest.approx(1.0) and np.all(p >= 0)
    centers = bins.bin_centers()
    assert tuple(centers[p.argmax()]) == (0, 0)
    w = bins.rebalance_weights(p)
    assert np.sum(p * w) == pytest.approx(1.0)
    # rare colours weigh more than common ones; weights are bounded by 1/(l/Q) before scaling
    i40 = np.flatnonzero((centers == [40, 40]).all(1))[0]
    assert w[i40] > w[p.argmax()]
    assert w.max() / w.min() <= (0.5 * p.max() + 0.5 / 313) / (0.5 / 313) + 1e-9
    # a uniform prior gives uniform weights of 1
    np.testing.assert_allclose(bins.rebalance_weights(np.full(313, 1 / 313)), 1.0)


def test_histogram_rejects_empty():
    with pytest.raises(ValueError, match="non-empty"):
        bins.prior_from_histogram(np.zeros((256, 256)))
