"""The compiled area shrink (batch.area) gives OpenCV's INTER_AREA result."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from batch import area, jit


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
@pytest.mark.parametrize("shape", [(3000, 2500), (1001, 777), (4000, 6000), (513, 2049), (512, 512)])
def test_same_pixels_as_opencv_inter_area(shape):
    rng = np.random.default_rng(sum(shape))
    noise = rng.integers(0, 256, shape).astype(np.uint8)
    photo = cv2.resize(data.camera(), shape[::-1], interpolation=cv2.INTER_CUBIC)
    for pixels in (noise, photo):
        ours = area.shrink(pixels, 256).astype(int)
        theirs = cv2.resize(pixels, (256, 256), interpolation=cv2.INTER_AREA)
        diff = np.abs(ours - theirs)
        # the same weights; only cells within float32 rounding of a .5 tie may round the other way
        assert diff.max() <= 1 and (diff > 0).sum() <= 10


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_sixteen_bit_within_one_level():
    pixels = np.random.default_rng(1).integers(0, 65536, (2000, 3000)).astype(np.uint16)
    ours = area.shrink(pixels, 256)
    assert ours.dtype == np.uint16
    assert np.abs(ours.astype(np.int64) - cv2.resize(pixels, (256, 256), interpolation=cv2.INTER_AREA)).max() <= 1


def test_weights_of_each_cell_sum_to_one():
    for source, target in ((2500, 256), (257, 256), (1000, 250)):
        _, dst, weight = area.area_weights(source, target)
        np.testing.assert_allclose(np.bincount(dst, weight), 1.0, atol=1e-9)


def test_colour_goes_through_opencv():
    rgb = data.astronaut()
    np.testing.assert_array_equal(area.shrink(rgb, 64), cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA))
