"""The merge as one compiled pass: lightness + upsampled ab -> sRGB, a strip of rows at a time.

OpenCV's float Lab -> RGB conversion, with the full-size a/b planes and the
interleaved Lab image it needs, costs ~13 CPU ms per megapixel: more than the JPEG
codec itself. The compiled loop (batch.merge_jit, numba) does the same arithmetic
per pixel in one pass that the compiler vectorises, reading the grey code values
(or L* of a colour original), two rows of the horizontally upsampled ab, and
writing the output pixels directly: no full-size float temporaries at all
(~3.5 ms/MP on one core of the same machine).

Two approximations, both far below one 8-bit level (tests/test_merge_kernel.py):
the sRGB curve is a fit in square roots, and a and b are interpolated vertically in
float32 by the kernel (cv2.resize does the horizontal half, with half-pixel centres
as before).

`available()` is False where numba is missing or COLORED_NO_JIT is set;
batch.colorize then takes its OpenCV path, which stays the reference.
"""

from __future__ import annotations

import os

import numpy as np

try:  # numba is a runtime dependency; the OpenCV path covers platforms without it
    if os.environ.get("COLORED_NO_JIT"):
        raise ImportError("COLORED_NO_JIT is set")
    from batch import merge_jit
except ImportError:
    merge_jit = None


def available() -> bool:
    """Whether the compiled merge can run here."""
    return merge_jit is not None


def vertical_taps(height: int, small: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source rows and weight of each output row, as cv2.resize's bilinear (half-pixel centres)."""
    fy = (np.arange(height, dtype=np.float64) + 0.5) * (small / height) - 0.5
    y0 = np.floor(fy).astype(np.int64)
    w = (fy - y0).astype(np.float32)
    w[y0 < 0] = 0
    y0 = np.clip(y0, 0, small - 1)
    w[y0 >= small - 1] = 0
    return y0.astype(np.int32), np.minimum(y0 + 1, small - 1).astype(np.int32), w


def merge_rows(
    src: np.ndarray, lut: np.ndarray | None, a_rows: np.ndarray, b_rows: np.ndarray,
    taps: tuple[np.ndarray, np.ndarray, np.ndarray], out: np.ndarray, bgr: bool = False,
) -> None:
    """Write the sRGB (or BGR) pixels of a strip of rows into `out` (rows x W x 3, uint8 or uint16).

    src: (rows, W) grey code values with `lut` their L* (float32, one entry per code), or
    float32 L* with lut None. a_rows, b_rows: (S, W) float32, the network's ab upsampled
    horizontally only. taps: this strip's slice of vertical_taps().
    """
    merge_jit.merge_rows(src, lut, a_rows, b_rows, *taps, out.reshape(out.shape[0], -1),
                         np.float32(255 if out.dtype == np.uint8 else 65535), bgr)
