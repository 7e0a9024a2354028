"""The fast colour path of the runtime against the reference implementation in colored.color."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from batch.colorize import lab_to_rgb_fast, lightness, merge, model_input, upsample_ab
from batch.images import DecodedImage
from colored.color import gray_to_lightness, lab_to_rgb, rgb_to_lab, rgb_to_lightness


def decoded(pixels: np.ndarray, is_color: bool = False) -> DecodedImage:
    bits = 16 if pixels.dtype == np.uint16 else 8
    return DecodedImage(
        path=None, pixels=pixels, alpha=None, bit_depth=bits, format="PNG",
        exif=None, icc_profile=None, xmp=None, is_color=is_color,
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lightness_matches_reference_for_grey_and_colour(dtype):
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    rgb = rng.integers(0, top + 1, (64, 80, 3)).astype(dtype)
    np.testing.assert_allclose(lightness(rgb, is_color=True), rgb_to_lightness(rgb / top), atol=2e-3)
    gray = rgb[..., 0]
    expected = gray_to_lightness(gray / top)
    np.testing.assert_allclose(lightness(gray), expected, atol=1e-3)
    # A grey picture stored as RGB takes the grey path and gives the same L.
    np.testing.assert_allclose(lightness(np.dstack([gray] * 3), is_color=False), expected, atol=1e-3)


@pytest.mark.parametrize("bits,tolerance", [(8, 1.0), (16, 0.002 * 65535)])
def test_lab_to_rgb_fast_matches_reference_including_out_of_gamut(bits, tolerance):
    rng = np.random.default_rng(2)
    L = (rng.random((60, 70)) * 100).astype(np.float32)
    ab = ((rng.random((60, 70, 2)) - 0.5) * 250).astype(np.float32)  # many colours out of gamut
    ref = lab_to_rgb(np.dstack([L, ab]).astype(np.float64)) * (2**bits - 1)
    out = lab_to_rgb_fast(L, ab[..., 0].copy(), ab[..., 1].copy(), bits)
    assert out.dtype == (np.uint8 if bits == 8 else np.uint16) and out.shape == (60, 70, 3)
    assert np.abs(out - ref).max() <= tolerance


def test_upsample_ab_is_torch_bilinear():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    small = rng.normal(0, 20, (2, 16, 16)).astype(np.float32)
    ours = upsample_ab(small, 50, 37)
    ref = torch.nn.functional.interpolate(torch.from_numpy(small)[None], size=(50, 37), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(np.stack(ours), ref[0].numpy(), atol=1e-4)


def test_model_input_is_the_lightness_of_the_whole_picture():
    photo = data.camera()  # 512x512 uint8 grey
    L = model_input(decoded(photo), 64)
    assert L.shape == (1, 64, 64) and L.dtype == np.float32
    # Area-resizing averages 8x8 blocks; their mean lightness is close to the L of the mean grey.
    blocks = photo.reshape(64, 8, 64, 8).mean(axis=(1, 3))
    np.testing.assert_allclose(L[0], gray_to_lightness(blocks / 255), atol=0.5)
    colour = data.astronaut()
    Lc = model_input(decoded(colour, is_color=True), 32)
    ref = rgb_to_lightness(colour.reshape(32, 16, 32, 16, 3).mean(axis=(1, 3)) / 255)
    np.testing.assert_allclose(Lc[0], ref, atol=0.5)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_merge_keeps_full_resolution_lightness_and_applies_the_colour(dtype):
    photo = data.camera().astype(dtype) * (257 if dtype == np.uint16 else 1)
    top = np.iinfo(dtype).max
    ab_small = np.empty((2, 64, 64), np.float32)
    ab_small[0], ab_small[1] = 12.0, -18.0  # a modest blue-purple cast, in gamut for mid greys
    out = merge(decoded(photo), ab_small)
    assert out.shape == (512, 512, 3) and out.dtype == dtype
    lab = rgb_to_lab(out / top)
    L_in = gray_to_lightness(photo / top)
    mid = (L_in > 20) & (L_in < 80)  # away from black/white, where the cast is clipped by the gamut
    # Every pixel's lightness survives: the fine detail of the 512x512 original, not a 64x64 blur.
    assert np.abs(lab[..., 0] - L_in)[mid].max() < (0.6 if dtype == np.uint8 else 0.05)
    assert abs(lab[..., 1][mid].mean() - 12.0) < 1.0 and abs(lab[..., 2][mid].mean() + 18.0) < 1.0
