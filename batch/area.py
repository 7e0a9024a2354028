"""Shrinking a full-size picture to the network's input size by area averaging.

OpenCV's INTER_AREA spends ~1.3-1.9 CPU ms per megapixel on a non-integer shrink
of a 12 MP scan to 256 x 256, as much as a fifth of the JPEG codec. The compiled
loop (batch.area_jit) computes the same weighted sums rows-first, which vectorises:
~0.5 ms/MP. OpenCV sums columns first in float32; summing in another order in
float64 rounds a handful of near-tie cells (a few in 65,536) the other way, by one
level (tests/test_area.py). Grey uint8/uint16 pictures only; colour ones, whole-number
ratios, or any where numba is unavailable, go through OpenCV.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from batch import jit
from batch.scratch import scratch

area_jit = None
if jit.available():
    from batch import area_jit


@lru_cache(maxsize=64)
def area_weights(source: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source index, target index, weight) of every term of an area shrink along one axis,
    as OpenCV's computeResizeAreaTab: each target cell covers source/target pixels, the
    partly covered ones at its edges by their covered fraction. Terms are ordered by target,
    then source (the order the kernel adds them in)."""
    scale = source / target
    d = np.arange(target)
    start, end = d * scale, (d + 1) * scale
    cell = np.minimum(scale, source - start)
    last = np.minimum(np.floor(end).astype(np.int64), source - 1)
    first = np.minimum(np.minimum(np.ceil(start).astype(np.int64), source - 1), last)
    lead, trail = first - start > 1e-3, end - last > 1e-3
    count = last - first  # whole pixels inside each cell
    whole = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)  # 0, 1, ... within each cell
    src = np.concatenate([first[lead] - 1, np.repeat(first, count) + whole, last[trail]])
    dst = np.concatenate([d[lead], np.repeat(d, count), d[trail]])
    weight = np.concatenate([(first - start)[lead] / cell[lead], np.repeat(1 / cell, count),
                             np.minimum(np.minimum(end - last, 1.0), cell)[trail] / cell[trail]])
    order = np.lexsort((src, dst))
    return src[order], dst[order], weight[order]


def shrink(pixels: np.ndarray, size: int) -> np.ndarray:
    """`pixels` area-averaged to size x size (both sides must be at least `size`)."""
    h, w = pixels.shape[:2]
    small = h * w < 4 * size * size  # a few rows per cell: OpenCV's own loop is as quick
    whole = h % size == 0 and w % size == 0  # OpenCV's integer fast path: quick, and rounds its own way
    if area_jit is None or small or whole or pixels.ndim != 2 or pixels.dtype not in (np.uint8, np.uint16):
        return cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA)
    out = np.empty((size, size), pixels.dtype)
    area_jit.area_shrink(pixels, *area_weights(h, size), *area_weights(w, size),
                         float(np.iinfo(pixels.dtype).max), scratch("area sums", (size, w), np.float64), out)
    return out

