"""colored.color: skimage parity (numpy and torch), round trips, NCHW layout."""

import warnings

import numpy as np
import pytest
import torch
from skimage import color as skcolor
from skimage import data

from colored import color


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    """A real photo plus the sRGB cube's corners and a grey ramp (float64 in [0, 1])."""
    photo = data.astronaut()[::8, ::8].reshape(-1, 3) / 255.0
    corners = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=np.float64)
    ramp = np.repeat(np.linspace(0, 1, 33)[:, None], 3, axis=1)
    return np.concatenate([photo, corners, ramp])[None]  # (1, P, 3)


def test_rgb_to_lab_matches_skimage_numpy_and_torch(rgb):
    ref = skcolor.rgb2lab(rgb)
    np.testing.assert_allclose(color.rgb_to_lab(rgb), ref, atol=1e-3)
    np.testing.assert_allclose(color.rgb_to_lab(torch.from_numpy(rgb)).numpy(), ref, atol=1e-3)
    np.testing.assert_allclose(color.rgb_to_lab(torch.from_numpy(rgb).float()).numpy(), ref, atol=1e-3)


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    rng = np.random.default_rng(0)
    lab = np.stack([rng.uniform(0, 100, 500), rng.uniform(-110, 110, 500), rng.uniform(-110, 110, 500)], -1)[None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about the negative Z it clips (as we do)
        ref = skcolor.lab2rgb(lab)
    np.testing.assert_allclose(color.lab_to_rgb(lab), ref, atol=1e-3)
    np.testing.assert_allclose(color.lab_to_rgb(torch.from_numpy(lab)).numpy(), ref, atol=1e-3)


def test_round_trip(rgb):
    np.testing.assert_allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-6)
    t = torch.from_numpy(rgb).float()
    torch.testing.assert_close(color.lab_to_rgb(color.rgb_to_lab(t)), t, atol=1e-4, rtol=0)


def test_nchw_equals_nhwc(rgb):
    img = torch.from_numpy(rgb.reshape(1, -1, 3)[:, :64].reshape(1, 8, 8, 3)).float().repeat(2, 1, 1, 1)
    nchw = color.rgb_to_lab(img.permute(0, 3, 1, 2), channel_axis=1)
    assert nchw.shape == (2, 3, 8, 8)
    torch.testing.assert_close(nchw.permute(0, 2, 3, 1), color.rgb_to_lab(img))
    back = color.lab_to_rgb(nchw, channel_axis=1)
    torch.testing.assert_close(back, img.permute(0, 3, 1, 2), atol=1e-4, rtol=0)


def test_lightness_helpers(rgb):
    np.testing.assert_allclose(color.rgb_to_lightness(rgb), skcolor.rgb2lab(rgb)[..., 0], atol=1e-9)
    L = np.linspace(0, 100, 101)
    gray = color.lightness_to_gray(L)
    # 1e-4: skimage's rounded constants (0.008856, 7.787) leave a tiny seam at L = 8, kept for parity
    np.testing.assert_allclose(color.gray_to_lightness(gray), L, atol=1e-4)
    lab = np.stack([L, np.zeros_like(L), np.zeros_like(L)], -1)
    # skimage's a=b=0 is neutral only to ~4e-5 (its matrix is not exactly white-balanced)
    np.testing.assert_allclose(np.repeat(gray[:, None], 3, 1), skcolor.lab2rgb(lab[None])[0], atol=1e-4)
    assert color.luminance(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0, abs=1e-6)


def test_integer_input_rejected():
    with pytest.raises(TypeError, match="floats"):
        color.rgb_to_lab(np.zeros((2, 2, 3), np.uint8))
