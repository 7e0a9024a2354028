"""The compiled loop of batch.area (imported only where numba is available)."""

from __future__ import annotations

import numpy as np

from batch.jit import compiled


@compiled
def area_shrink(src, ys, yd, yw, xs, xd, xw, top, acc, out):
    """Area-average `src` (h, w) into `out` (S, T): the weights of OpenCV's INTER_AREA.

    Rows first: each source row is added, weighted, into the output row(s) it covers, a
    loop over whole rows that vectorises; then the S summed rows (a small fraction of
    the pixels) are reduced across. (ys, yd, yw): source row, output row, weight per
    term; (xs, xd, xw) the same for columns. Rounded half to even and clipped to
    [0, top], as OpenCV's saturate_cast. acc: (S, w) float64 scratch, overwritten.
    """
    acc[:] = 0.0
    for t in range(ys.shape[0]):
        row, into, w = src[ys[t]], acc[yd[t]], yw[t]
        for x in range(row.shape[0]):
            into[x] += row[x] * w
    line = np.empty(out.shape[1], np.float64)
    for i in range(out.shape[0]):
        line[:] = 0.0
        summed = acc[i]
        for t in range(xs.shape[0]):
            line[xd[t]] += summed[xs[t]] * xw[t]
        dst = out[i]
        for j in range(line.shape[0]):
            dst[j] = min(max(np.rint(line[j]), 0.0), top)
