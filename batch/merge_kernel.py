"""The merge as one compiled pass: lightness + upsampled ab -> sRGB, a strip of rows at a time.

OpenCV's float Lab -> RGB conversion, with the full-size a/b planes and the
interleaved Lab image it needs, costs ~13 CPU ms per megapixel: more than the JPEG
codec itself. The compiled loop (batch.merge_jit, numba) does the same arithmetic
per pixel in one pass that the compiler vectorises, reading the grey code values
(or L* of a colour original), two rows of the horizontally upsampled ab, and
writing the output pixels directly: no full-size float temporaries at all
(~3.5 ms/MP on one core of the same machine).

The sRGB curve comes from a table of linear values in 1/65535 steps for 8-bit
output (gamma8) and from a polynomial fit for 16-bit output; a and b are
interpolated vertically by the kernel (cv2.resize does the horizontal half, with
half-pixel centres as before). Both stay within one 8-bit level of colored.color
(tests/test_merge_kernel.py).

`available()` is False where numba is missing or COLORED_NO_JIT is set (batch.jit);
batch.colorize then takes its OpenCV path, which stays the reference.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from batch import jit
from colored.color import linear_to_srgb

merge_jit = None
if jit.available():
    from batch import merge_jit


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


@lru_cache(maxsize=1)
def gamma8() -> np.ndarray:
    """The 8-bit sRGB code of every linear value in steps of 1/65535 (64 KB). The sRGB curve's
    steepest slope is 12.92, so a step moves the exact code by at most 0.05 of a level."""
    return np.rint(linear_to_srgb(np.arange(65536, dtype=np.float64) / 65535) * 255).astype(np.uint8)


def merge_rows(
    src: np.ndarray, lut: np.ndarray | None, a_rows: np.ndarray, b_rows: np.ndarray,
    taps: tuple[np.ndarray, np.ndarray, np.ndarray], out: np.ndarray, bgr: bool = False,
) -> None:
    """Write the sRGB (or BGR) pixels of a strip of rows into `out` (rows x W x 3, uint8 or uint16).

    src: (rows, W) grey code values with `lut` their L* (float32, one entry per code), or
    float32 L* with lut None. a_rows, b_rows: (S, W) float32, the network's ab upsampled
    horizontally only. taps: this strip's slice of vertical_taps().
    """
    merge_jit.merge_rows(src, lut, a_rows, b_rows, *taps, out.reshape(out.shape[0], -1), gamma8(), bgr)
