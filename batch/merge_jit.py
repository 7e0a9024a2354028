"""The compiled loops of batch.merge_kernel (imported only where numba is installed).

Module-level functions with module-level constants, so numba can cache the machine
code on disk (beside this file, or in the user's cache directory): a new process
loads it in ~0.1 s instead of compiling for ~1 s.
"""

from __future__ import annotations

import numba
import numpy as np

from colored.color import RGB_FROM_XYZ, WHITE_D65

F = np.float32
# Linear RGB from Lab's f-values, with the white point folded into the matrix.
_M = (RGB_FROM_XYZ * WHITE_D65[None, :]).astype(np.float32)
M00, M01, M02, M10, M11, M12, M20, M21, M22 = (F(v) for v in _M.ravel())
# sRGB curve above 0.0031308 as a degree-7 polynomial in q = v^(1/4) (two square roots),
# a Chebyshev fit on 400,001 points converted to powers of q: max error 2.5e-6, 0.0006 of
# an 8-bit level (0.16 of a 16-bit one), the same in float32. The power function does not
# vectorise; square roots do, and they are the loop's main cost.
P0, P1, P2, P3, P4, P5, P6, P7 = (F(v) for v in (
    -0.05893402945590881, 0.1301503753271654, 1.4251128504836135, -1.0482738010398944,
    1.0252762698836209, -0.7162431231066115, 0.29751052306194015, -0.0545992626168715))
F_EPS, INV_KAPPA, F16 = F(0.2068966), F(1 / 7.787), F(16 / 116)  # as colored.color's Lab


# No reassociation and no fused multiply-add contraction: the RGB and BGR loops (and any
# two compilations) then round every pixel identically, so outputs do not depend on
# which encoder a file goes to. Neither is needed for this loop to vectorise.
_FAST = {"nnan", "ninf", "nsz", "arcp", "afn"}


def _jit(fn):
    opts = dict(nogil=True, fastmath=_FAST, error_model="numpy", boundscheck=False)
    try:
        return numba.njit(cache=True, **opts)(fn)
    except RuntimeError:  # no writable cache directory anywhere: compile in each process
        return numba.njit(**opts)(fn)


@numba.njit(inline="always", fastmath=_FAST)
def _f_inv(t):
    return t * t * t if t > F_EPS else (t - F16) * INV_KAPPA


@numba.njit(inline="always", fastmath=_FAST)
def _srgb(v):
    v = min(max(v, F(0)), F(1))
    q = np.sqrt(np.sqrt(v))
    q2 = q * q
    fit = (P0 + P1 * q) + q2 * (P2 + P3 * q) + q2 * q2 * ((P4 + P5 * q) + q2 * (P6 + P7 * q))  # Estrin: short chains
    return min(fit, F(1)) if v > F(0.0031308) else F(12.92) * v  # 1: no wrap-around past white


@numba.njit(inline="always", fastmath=_FAST)
def _pixel(L, a, b, scale):
    # Returns the three values rather than storing them: stores inside an inlined helper
    # kept LLVM from vectorising the loop (4-5x slower).
    fy = (L + F(16)) * F(1 / 116)
    fx = fy + a * F(0.002)
    fz = max(fy - b * F(0.005), F(0))  # Z >= 0, as colored.color clips it
    X = _f_inv(fx)
    Y = _f_inv(fy)
    Z = _f_inv(fz)
    return (np.int32(_srgb(M00 * X + M01 * Y + M02 * Z) * scale + F(0.5)),
            np.int32(_srgb(M10 * X + M11 * Y + M12 * Z) * scale + F(0.5)),
            np.int32(_srgb(M20 * X + M21 * Y + M22 * Z) * scale + F(0.5)))


@_jit
def merge_rows(src, lut, a_rows, b_rows, y0, y1, wy, out, scale, bgr):
    """Output pixels of a strip of rows.

    src: (h, w) grey code values with `lut` their L* (256 or 65536 float32), or float32 L*
    with lut None. a_rows, b_rows: (S, w) float32 ab upsampled horizontally; y0, y1, wy:
    each row's vertical taps; out: (h, 3w) uint8/uint16; bgr: OpenCV's channel order.
    """
    L = np.empty(src.shape[1], np.float32)
    for i in range(src.shape[0]):
        w1 = wy[i]
        w0 = F(1) - w1
        a0, a1, b0, b1 = a_rows[y0[i]], a_rows[y1[i]], b_rows[y0[i]], b_rows[y1[i]]
        line, dst = src[i], out[i]
        # The table lookup in a loop of its own: a gather inside the main loop keeps it scalar.
        if lut is None:
            L[:] = line
        else:
            for k in range(L.shape[0]):
                L[k] = lut[line[k]]
        # Channel order as two loops: an offset known only at run time keeps a loop scalar.
        if bgr:
            for k in range(L.shape[0]):
                r, g, b = _pixel(L[k], a0[k] * w0 + a1[k] * w1, b0[k] * w0 + b1[k] * w1, scale)
                dst[3 * k] = b
                dst[3 * k + 1] = g
                dst[3 * k + 2] = r
        else:
            for k in range(L.shape[0]):
                r, g, b = _pixel(L[k], a0[k] * w0 + a1[k] * w1, b0[k] * w0 + b1[k] * w1, scale)
                dst[3 * k] = r
                dst[3 * k + 1] = g
                dst[3 * k + 2] = b
