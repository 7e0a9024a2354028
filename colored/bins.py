"""The 313 quantised ab colour bins of Zhang et al. (ECCV 2016), recomputed from first principles.

Rule (as in the paper): the ab plane is quantised on a grid of 10; a grid point is a bin
when its L-infinity distance to the convex hull of the ab values of all 8-bit sRGB colours
is at most 10. The hull is computed here from all 256^3 colours with `colored.color`
(no downloaded table). The L-inf ball of radius 10 around the hull is the Minkowski sum of
the hull with a 20x20 square, i.e. the convex hull of the hull's vertices shifted to the
square's four corners, so membership is a half-plane test. This literal rule gives exactly
313 bins; no grid point lies on the boundary (the closest is ~0.1 away), so strict and
non-strict inequality agree. The result is cached in ``colored/assets/ab_bins.npy``;
`tests/test_bins.py` checks that recomputation matches it.

Also here (numpy only, used to build the classification targets and the class-rebalancing
weights): soft-encoding over the 5 nearest bins with a Gaussian (sigma 5), the smoothed
empirical ab prior of the training data, and the weights w ~ ((1 - l) p + l / Q)^-1 with
l = 0.5, normalised so that E_p[w] = 1.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

GRID = 10.0  # ab quantisation step
GAMUT_MARGIN = 10.0  # L-inf distance from the sRGB ab hull within which a grid point is a bin
NUM_BINS = 313
SOFT_NEIGHBOURS = 5
SOFT_SIGMA = 5.0
PRIOR_SIGMA = 5.0
REBALANCE_LAMBDA = 0.5
ASSET = Path(__file__).with_name("assets") / "ab_bins.npy"

# The prior histogram lives on a 1-unit ab grid covering every value Lab can produce from sRGB.
HIST_MIN = -128
HIST_SIZE = 256


def srgb_ab_hull(chunk_red_levels: int = 16) -> np.ndarray:
    """Vertices (V, 2) of the convex hull of the ab values of all 256^3 8-bit sRGB colours.

    Works in chunks of ``chunk_red_levels`` * 65536 colours so memory stays ~100 MB; the hull of
    the union is the hull of the per-chunk hull vertices.
    """
    from scipy.spatial import ConvexHull

    from colored.color import rgb_to_lab

    levels = np.arange(256, dtype=np.float64) / 255.0
    vertices = []
    for start in range(0, 256, chunk_red_levels):
        rgb = np.stack(np.meshgrid(levels[start : start + chunk_red_levels], levels, levels, indexing="ij"), -1)
        ab = rgb_to_lab(rgb.reshape(-1, 3))[:, 1:]
        vertices.append(ab[ConvexHull(ab).vertices])
    points = np.concatenate(vertices)
    return points[ConvexHull(points).vertices]


def compute_bin_centers(margin: float = GAMUT_MARGIN, grid: float = GRID) -> np.ndarray:
    """Recompute the in-gamut bin centres (Q, 2), sorted by a then b. Takes a few seconds."""
    from scipy.spatial import ConvexHull

    hull = srgb_ab_hull()
    corners = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], dtype=np.float64) * margin
    grown = ConvexHull((hull[:, None, :] + corners[None]).reshape(-1, 2))
    lo = np.floor((hull.min(0) - margin) / grid) * grid
    hi = np.ceil((hull.max(0) + margin) / grid) * grid
    a = np.arange(lo[0], hi[0] + grid / 2, grid)
    b = np.arange(lo[1], hi[1] + grid / 2, grid)
    candidates = np.stack(np.meshgrid(a, b, indexing="ij"), -1).reshape(-1, 2)
    # ConvexHull equations are n.x + c <= 0 inside.
    outside = (candidates @ grown.equations[:, :2].T + grown.equations[:, 2]).max(axis=1)
    return candidates[outside <= 0]


@functools.lru_cache(maxsize=1)
def bin_centers() -> np.ndarray:
    """The (313, 2) ab bin centres in Lab units: from the cached asset, or recomputed if it is missing."""
    centers = np.load(ASSET) if ASSET.is_file() else compute_bin_centers()
    if centers.shape != (NUM_BINS, 2):
        raise RuntimeError(f"{ASSET}: expected ({NUM_BINS}, 2) bin centres, got {centers.shape}; delete it to recompute")
    centers.setflags(write=False)
    return centers


def save_bin_centers(path: str | Path = ASSET) -> np.ndarray:
    """Recompute and write the cache file (run once when the rule changes)."""
    centers = compute_bin_centers()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.save(path, centers)
    return centers


def _pairwise_sq_dist(ab: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return ((ab[:, None, :] - centers[None, :, :]) ** 2).sum(-1)


def nearest_bin(ab: np.ndarray, centers: np.ndarray | None = None) -> np.ndarray:
    """Index of the nearest bin centre for each ab value; ab has shape (..., 2)."""
    centers = bin_centers() if centers is None else centers
    flat = np.asarray(ab, dtype=np.float64).reshape(-1, 2)
    return _pairwise_sq_dist(flat, centers).argmin(1).reshape(np.shape(ab)[:-1])


def soft_encode(
    ab: np.ndarray, centers: np.ndarray | None = None, k: int = SOFT_NEIGHBOURS, sigma: float = SOFT_SIGMA
) -> tuple[np.ndarray, np.ndarray]:
    """Soft targets: (indices, weights), each of shape (..., k), over the k nearest bins.

    Weights are a Gaussian of the distance to each bin centre, normalised to sum to 1;
    indices are ordered nearest first (so ``indices[..., 0]`` is the hard label).
    """
    centers = bin_centers() if centers is None else centers
    flat = np.asarray(ab, dtype=np.float64).reshape(-1, 2)
    d2 = _pairwise_sq_dist(flat, centers)
    idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
    d2k = np.take_along_axis(d2, idx, 1)
    order = np.argsort(d2k, axis=1)
    idx, d2k = np.take_along_axis(idx, order, 1), np.take_along_axis(d2k, order, 1)
    w = np.exp(-(d2k - d2k[:, :1]) / (2 * sigma**2))  # shifted by the nearest for stability
    w /= w.sum(1, keepdims=True)
    shape = np.shape(ab)[:-1] + (k,)
    return idx.reshape(shape), w.reshape(shape)


def ab_histogram(ab: np.ndarray) -> np.ndarray:
    """Counts of ab values (..., 2) on the 1-unit grid [-128, 127]^2; sum histograms over images."""
    flat = np.asarray(ab, dtype=np.float64).reshape(-1, 2)
    ij = np.clip(np.rint(flat) - HIST_MIN, 0, HIST_SIZE - 1).astype(np.int64)
    return np.bincount(ij[:, 0] * HIST_SIZE + ij[:, 1], minlength=HIST_SIZE**2).reshape(HIST_SIZE, HIST_SIZE)


def prior_from_histogram(hist: np.ndarray, centers: np.ndarray | None = None, sigma: float = PRIOR_SIGMA) -> np.ndarray:
    """Smoothed empirical distribution p (Q,) of the ab values, read at the bin centres.

    As in Zhang et al.: the fine ab histogram is smoothed with a Gaussian (sigma 5 ab units),
    sampled at each bin centre, and normalised to sum to 1.
    """
    from scipy.ndimage import gaussian_filter

    centers = bin_centers() if centers is None else centers
    hist = np.asarray(hist, dtype=np.float64)
    if hist.shape != (HIST_SIZE, HIST_SIZE) or hist.sum() <= 0:
        raise ValueError(f"expected a non-empty ({HIST_SIZE}, {HIST_SIZE}) ab histogram, got shape {hist.shape}")
    smooth = gaussian_filter(hist / hist.sum(), sigma=sigma, mode="constant")
    ij = np.clip(np.rint(centers) - HIST_MIN, 0, HIST_SIZE - 1).astype(np.int64)
    p = smooth[ij[:, 0], ij[:, 1]]
    if p.sum() <= 0:
        raise ValueError("the ab histogram has no mass near any bin centre")
    return p / p.sum()


def rebalance_weights(prior: np.ndarray, lam: float = REBALANCE_LAMBDA) -> np.ndarray:
    """Class-rebalancing weights w ~ ((1 - lam) p + lam / Q)^-1, scaled so sum_q p_q w_q = 1."""
    p = np.asarray(prior, dtype=np.float64)
    w = 1.0 / ((1.0 - lam) * p + lam / p.size)
    return w / np.sum(p * w)
