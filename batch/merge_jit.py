"""The compiled loop of batch.merge_kernel (imported only where numba is available).

Module-level functions and constants, so numba can cache the machine code on disk.
"""

from __future__ import annotations

import numpy as np

from batch.jit import compiled, inline
from colored.color import RGB_FROM_XYZ, WHITE_D65

F = np.float32
# Linear RGB from Lab's f-values, with the white point folded into the matrix.
_M = (RGB_FROM_XYZ * WHITE_D65[None, :]).astype(np.float32)
M00, M01, M02, M10, M11, M12, M20, M21, M22 = (F(v) for v in _M.ravel())
# For 16-bit output, the sRGB curve above 0.0031308 as a degree-7 polynomial in q = v^(1/4)
# (two square roots, which vectorise where pow() does not), a Chebyshev fit on 400,001
# points converted to powers of q: max error 2.5e-6, 0.16 of a 16-bit level, the same in
# float32. 8-bit output takes a table instead (batch.merge_kernel.gamma8): ~15% faster.
P0, P1, P2, P3, P4, P5, P6, P7 = (F(v) for v in (
    -0.05893402945590881, 0.1301503753271654, 1.4251128504836135, -1.0482738010398944,
    1.0252762698836209, -0.7162431231066115, 0.29751052306194015, -0.0545992626168715))
F_EPS, INV_KAPPA, F16 = F(0.2068966), F(1 / 7.787), F(16 / 116)  # as colored.color's Lab


@inline
def _f_inv(t):
    return t * t * t if t > F_EPS else (t - F16) * INV_KAPPA


@inline
def _srgb(v):
    v = min(max(v, F(0)), F(1))
    q = np.sqrt(np.sqrt(v))
    q2 = q * q
    fit = (P0 + P1 * q) + q2 * (P2 + P3 * q) + q2 * q2 * ((P4 + P5 * q) + q2 * (P6 + P7 * q))  # Estrin: short chains
    return min(fit, F(1)) if v > F(0.0031308) else F(12.92) * v  # 1: no wrap-around past white


@inline
def _linear(L, a, b):
    """Lab -> linear sRGB (unclipped)."""
    fy = (L + F(16)) * F(1 / 116)
    fx = fy + a * F(0.002)
    fz = max(fy - b * F(0.005), F(0))  # Z >= 0, as colored.color clips it
    X = _f_inv(fx)
    Y = _f_inv(fy)
    Z = _f_inv(fz)
    return M00 * X + M01 * Y + M02 * Z, M10 * X + M11 * Y + M12 * Z, M20 * X + M21 * Y + M22 * Z


@inline
def _code16(v):
    # Returns rather than stores: stores inside an inlined helper kept LLVM from vectorising.
    return np.uint16(_srgb(v) * F(65535) + F(0.5))


@inline
def _index(v):
    """A linear value in [0, 1] as an index into the 8-bit table (1/65535 steps)."""
    return np.uint16(min(max(v, F(0)), F(1)) * F(65535) + F(0.5))


@compiled
def merge_rows(src, lut, a_rows, b_rows, y0, y1, wy, out, gamma8, bgr):
    """Output pixels of a strip of rows.

    src: (h, w) grey code values with `lut` their L* (256 or 65536 float32), or float32 L*
    with lut None. a_rows, b_rows: (S, w) float32 ab upsampled horizontally; y0, y1, wy:
    each row's vertical taps; out: (h, 3w) uint8 or uint16; gamma8: the 8-bit sRGB code
    of each linear value in 1/65535 steps (used for uint8 out); bgr: OpenCV's order.
    """
    L = np.empty(src.shape[1], np.float32)
    # One uint16 plane per channel: the 16-bit codes themselves, or for 8-bit output the
    # indices into gamma8 (65536 entries). Planes of uint16 rather than interleaved int32
    # keep a row's indices and the table in the core's cache together: 4.1 -> 3.4 ms/MP.
    r_ = np.empty(src.shape[1], np.uint16)
    g_ = np.empty(src.shape[1], np.uint16)
    b_ = np.empty(src.shape[1], np.uint16)
    first, last = (b_, r_) if bgr else (r_, b_)
    eight = out.itemsize == 1
    for i in range(src.shape[0]):
        w1 = wy[i]
        w0 = F(1) - w1
        a0, a1, b0, b1 = a_rows[y0[i]], a_rows[y1[i]], b_rows[y0[i]], b_rows[y1[i]]
        line, dst = src[i], out[i]
        # Table lookups get loops of their own: a gather inside the arithmetic loop keeps it scalar.
        if lut is None:
            L[:] = line
        else:
            for k in range(L.shape[0]):
                L[k] = lut[line[k]]
        if eight:  # the sRGB curve by table: cheaper than computing it, exact to the 8-bit level
            for k in range(L.shape[0]):
                r, g, b = _linear(L[k], a0[k] * w0 + a1[k] * w1, b0[k] * w0 + b1[k] * w1)
                r_[k] = _index(r)
                g_[k] = _index(g)
                b_[k] = _index(b)
            for k in range(L.shape[0]):
                dst[3 * k] = gamma8[first[k]]
                dst[3 * k + 1] = gamma8[g_[k]]
                dst[3 * k + 2] = gamma8[last[k]]
        else:
            for k in range(L.shape[0]):
                r, g, b = _linear(L[k], a0[k] * w0 + a1[k] * w1, b0[k] * w0 + b1[k] * w1)
                r_[k] = _code16(r)
                g_[k] = _code16(g)
                b_[k] = _code16(b)
            for k in range(L.shape[0]):
                dst[3 * k] = first[k]
                dst[3 * k + 1] = g_[k]
                dst[3 * k + 2] = last[k]
