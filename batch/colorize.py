"""The colour maths of the batch runtime: model input from a decoded image, and the merge.

    model_input(decoded, S) -> (1, S, S) float32 L, what the ONNX graph eats
    merge(decoded, ab_small, strength) -> HxWx3 uint8/uint16 RGB at the ORIGINAL size

The network only sees an S x S copy; its ab is upsampled (bilinear) and merged
with the lightness of the original full-resolution pixels, so every detail of
the scan is kept. On CPU this path, not the network, tends to dominate at
12 MP, so it is built from lookup tables and OpenCV calls on float32 with as
few full-size temporaries as possible. Accuracy against ``colored.color``
(the reference implementation) is checked in tests/test_batch_colorize.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from batch import area, merge_kernel
from batch.scratch import scratch
from batch.stopwatch import stage
from batch.tables import lightness_lut, linear_lut
from colored.color import XYZ_FROM_RGB

if TYPE_CHECKING:  # batch.images is only needed for the type
    from batch.images import DecodedImage

_Y_WEIGHTS = XYZ_FROM_RGB[1].astype(np.float32)  # luminance row of the sRGB -> XYZ matrix


def _lookup(pixels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return cv2.LUT(pixels, lut)  # threaded, ~4x faster than numpy fancy indexing
    return lut[pixels]


def _bits(pixels: np.ndarray) -> int:
    if pixels.dtype == np.uint8:
        return 8
    if pixels.dtype == np.uint16:
        return 16
    raise TypeError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")


def _grey(pixels: np.ndarray) -> np.ndarray:
    """The one plane of grey pixels, which may be stored as RGB with equal channels."""
    return pixels if pixels.ndim == 2 else np.ascontiguousarray(pixels[..., 0])


def _lightness_table(pixels: np.ndarray, lut: np.ndarray | None) -> np.ndarray:
    """L* per grey code value: the file's ICC table if it has one, else sRGB's."""
    return lightness_lut(_bits(pixels)) if lut is None else lut


def lightness(pixels: np.ndarray, is_color: bool = True, lut: np.ndarray | None = None) -> np.ndarray:
    """CIE L* (float32, HxW) of grey (HxW) or RGB (HxWx3) uint8/uint16 pixels.

    Grey images (or RGB ones whose channels are equal, ``is_color=False``) take a
    table lookup: ``lut`` (L* per code value, from the file's ICC profile, see
    batch.icc) or sRGB's. Colour images go through linear luminance, as
    rgb_to_lightness does.
    """
    bits = _bits(pixels)  # also refuses any other dtype
    if pixels.ndim == 2 or not is_color:
        return _lookup(_grey(pixels), _lightness_table(pixels, lut))
    linear = _lookup(pixels, linear_lut(bits))
    y = cv2.transform(linear, _Y_WEIGHTS[None, :])  # HxW: weighted channel sum, in one pass
    del linear
    # f(Y) of the Lab definition: cube root above (6/29)^3, linear segment below.
    L = np.cbrt(y)
    np.multiply(L, 116.0, out=L)
    np.subtract(L, 16.0, out=L)
    dark = y <= 0.008856
    L[dark] = y[dark] * np.float32(903.3)
    return L


def model_pixels(pixels: np.ndarray, size: int) -> np.ndarray:
    """The whole picture's code values squashed to S x S: area-averaged when both sides are at
    least S, else bilinear. The one resize of the network's input: serving (model_input), the
    training corpus (data/photos.py) and evaluation all take it, so the network sees the same
    kind of picture when it learns and when it runs."""
    h, w = pixels.shape[:2]
    if h >= size and w >= size:
        return area.shrink(pixels, size)
    return cv2.resize(pixels, (size, size), interpolation=cv2.INTER_LINEAR)


def model_input(decoded: "DecodedImage", size: int) -> np.ndarray:
    """The (1, S, S) float32 L plane the network takes: the whole picture, resized to S x S.

    The code values are resized before L is computed (model_pixels), as the training corpus
    is prepared; at full resolution that costs almost nothing.
    """
    with stage("model input"):
        small = model_pixels(decoded.pixels, size)
        return lightness(small, decoded.is_color, decoded.lightness_lut)[None]


def upsample_ab(ab_small: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(2, S, S) ab -> a and b planes (H x W float32 each), bilinear with half-pixel centres
    (as torch's align_corners=False).

    Separate contiguous planes, not an H x W x 2 array: every later step (the clamp of b,
    the merge with L) then reads memory in order, which at 12 MP is worth ~25 % of the merge.
    """
    ab = np.asarray(ab_small, dtype=np.float32)
    return tuple(cv2.resize(np.ascontiguousarray(ab[i]), (width, height), interpolation=cv2.INTER_LINEAR) for i in (0, 1))


def lab_to_rgb_fast(
    L: np.ndarray, a: np.ndarray, b: np.ndarray, bits: int = 8, out: np.ndarray | None = None
) -> np.ndarray:
    """Full-size L, a and b planes (H x W float32) -> sRGB uint8 or uint16 (H x W x 3).

    Matches colored.color.lab_to_rgb, including its clip of negative Z: OpenCV does
    not clip there, so b is limited to what keeps Z >= 0 before the conversion.
    `b` is clamped in place (it is a scratch plane the caller does not keep). With
    `out` (H x W x 3, uint8 for bits=8, else uint16), the result is written there.
    """
    # Z >= 0  <=>  f(Y) - b/200 >= 0  <=>  b <= (L + 16) * 200/116.
    b_max = np.multiply(L, np.float32(200 / 116))
    np.add(b_max, np.float32(16 * 200 / 116), out=b_max)
    np.minimum(b, b_max, out=b)
    del b_max
    lab = cv2.merge([L, a, b])
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB, dst=lab)  # in place: float32 in [0, 1]
    if bits == 8:
        return cv2.convertScaleAbs(rgb, dst=out, alpha=255.0)  # rounds and saturates
    np.multiply(rgb, 65535.0, out=rgb)
    np.add(rgb, 0.5, out=rgb)
    np.clip(rgb, 0, 65535, out=rgb)
    if out is None:
        return rgb.astype(np.uint16)
    np.copyto(out, rgb, casting="unsafe")  # truncation of x + 0.5: rounding
    return out


# Rows per strip of the merge: ~1 MP, so the strip's float temporaries (~20 MB) are
# recycled by malloc instead of being fresh pages each time, and stay warm in cache.
# Whole-image temporaries cost ~30 % more time at 12 MP, mostly in page faults.
STRIP_PIXELS = 1 << 20


def merge(
    decoded: "DecodedImage", ab_small: np.ndarray, strength: float = 1.0, bgr: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Colorized RGB at the original size and bit depth: original L + upsampled ab.

    ``strength`` scales the chroma (a, b) before the merge: 0 gives grey, 1 the model's
    colours (the array is not touched, so the output is exactly that of an unscaled merge),
    2 twice as saturated; out-of-gamut colours are clipped as always. With ``bgr`` the
    channels come out in OpenCV's order, for an OpenCV encoder to take as they are. With
    ``out`` (H x W x 3, the pixels' dtype) the result is written there.
    """
    pixels = decoded.pixels
    h, w = pixels.shape[:2]
    if strength != 1.0:  # on the small plane: bilinear upsampling commutes with the scale
        ab_small = np.asarray(ab_small, dtype=np.float32) * np.float32(strength)
    if merge_kernel.available():
        return _merge_compiled(decoded, ab_small, bgr, out)
    with stage("ab upsample"):
        a, b = upsample_ab(ab_small, h, w)
    out = np.empty((h, w, 3), dtype=pixels.dtype) if out is None else out
    bits = _bits(pixels)
    step = max(1, STRIP_PIXELS // w)
    for y in range(0, h, step):
        rows = slice(y, y + step)
        with stage("L"):
            L = lightness(pixels[rows], decoded.is_color, decoded.lightness_lut)
        with stage("merge"):
            lab_to_rgb_fast(L, a[rows], b[rows], bits, out=out[rows])
    return cv2.cvtColor(out, cv2.COLOR_RGB2BGR, dst=out) if bgr else out


def _merge_compiled(decoded: "DecodedImage", ab_small: np.ndarray, bgr: bool, out: np.ndarray | None) -> np.ndarray:
    """merge() through batch.merge_kernel: strips of rows, no full-size float planes."""
    pixels = decoded.pixels
    h, w = pixels.shape[:2]
    with stage("ab upsample"):  # horizontally only: the kernel interpolates between rows
        ab = np.asarray(ab_small, dtype=np.float32)
        a_rows, b_rows = (cv2.resize(np.ascontiguousarray(ab[i]), (w, ab.shape[-2]), interpolation=cv2.INTER_LINEAR,
                                     dst=scratch(f"ab rows {i}", (ab.shape[-2], w), np.float32))
                          for i in (0, 1))
        y0, y1, wy = merge_kernel.vertical_taps(h, ab.shape[-2])
    out = np.empty((h, w, 3), dtype=pixels.dtype) if out is None else out
    grey = pixels.ndim == 2 or not decoded.is_color
    lut = None
    if grey:  # L* comes from a table of the code values, looked up inside the kernel
        lut = np.ascontiguousarray(_lightness_table(pixels, decoded.lightness_lut), dtype=np.float32)
    step = max(1, STRIP_PIXELS // w)
    for y in range(0, h, step):
        rows = slice(y, y + step)
        if grey:
            source = _grey(pixels[rows])
        else:
            with stage("L"):
                source = lightness(pixels[rows], True)
        with stage("merge"):
            merge_kernel.merge_rows(source, lut, a_rows, b_rows, (y0[rows], y1[rows], wy[rows]), out[rows], bgr)
    return out


def warm_up() -> None:
    """Load the compiled loops for grey 8- and 16-bit pictures now rather than inside the first
    file's time (~0.3 s once per process from numba's disk cache; seconds on a machine's first
    run, when they compile). colored-batch calls it before its progress bar starts."""
    for dtype in (np.uint8, np.uint16):
        for writable in (True, False):  # decoders hand out both; numba compiles each
            pixels = np.zeros((63, 61), dtype)
            pixels.flags.writeable = writable
            d = SimpleNamespace(pixels=pixels, is_color=False, lightness_lut=None)  # what the two read
            merge(d, np.zeros((2, 8, 8), np.float32), bgr=True)
            model_input(d, 8)
