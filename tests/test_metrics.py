"""colored.metrics on hand-computable cases."""

import math
import subprocess
import sys

import numpy as np
import pytest

from colored import metrics


@pytest.fixture
def photo() -> np.ndarray:
    from skimage import data

    return data.astronaut()[::4, ::4].copy()  # 128x128x3 uint8


def test_identical_images_are_perfect(photo):
    assert metrics.psnr(photo, photo) == math.inf
    assert metrics.ssim(photo, photo) == pytest.approx(1.0, abs=1e-12)
    ab = np.random.default_rng(0).uniform(-100, 100, (16, 16, 2))
    assert metrics.auc(ab, ab) == pytest.approx(100.0)


def test_psnr_constant_offset():
    true = np.full((8, 8, 3), 100, np.uint8)
    pred = true + 5  # every error is 5 -> MSE 25
    assert metrics.psnr(pred, true) == pytest.approx(20 * math.log10(255 / 5))
    assert metrics.psnr(true, pred) == pytest.approx(metrics.psnr(pred, true))


def test_mean_psnr_averages_per_image():
    true = np.full((4, 4, 3), 100, np.uint8)
    expected = (20 * math.log10(255 / 1) + 20 * math.log10(255 / 10)) / 2
    assert metrics.mean_psnr([true + 1, true + 10], [true, true]) == pytest.approx(expected)


def test_ssim_of_constant_images_is_the_luminance_term():
    x = np.full((32, 32, 3), 100, np.uint8)
    y = np.full((32, 32, 3), 110, np.uint8)
    c1 = (0.01 * 255) ** 2  # zero variance: the contrast/structure term is C2/C2 = 1
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert metrics.ssim(x, y) == pytest.approx(expected, rel=1e-9)


def test_ssim_drops_with_noise(photo):
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 25, photo.shape), 0, 255).astype(np.uint8)
    assert 0.0 < metrics.ssim(noisy, photo) < 0.9


def test_auc_constant_error():
    true = np.zeros((10, 10, 2))
    # error exactly 30 everywhere: CDF 0 for t < 30 and 1 from t = 30; trapezoid area 0.5 + 120
    assert metrics.auc(true + [30.0, 0.0], true) == pytest.approx(120.5 / 150 * 100)
    # 3-4-5 triangle: error 5 -> area 0.5 + 145
    assert metrics.auc(true + [3.0, 4.0], true) == pytest.approx(145.5 / 150 * 100)
    # beyond the largest threshold: 0
    assert metrics.auc(true + [200.0, 0.0], true) == 0.0


def test_auc_channel_first_and_pooling():
    rng = np.random.default_rng(1)
    true = rng.uniform(-80, 80, (3, 12, 12, 2))
    pred = true + rng.normal(0, 20, true.shape)
    nchw = metrics.auc(pred.transpose(0, 3, 1, 2), true.transpose(0, 3, 1, 2), channel_axis=1)
    assert nchw == pytest.approx(metrics.auc(pred, true))
    cdf = metrics.ab_error_cdf(pred, true)
    assert cdf.shape == (151,) and np.all(np.diff(cdf) >= 0)


def test_colorfulness_hand_computed():
    gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2).repeat(4, axis=1)
    assert metrics.colorfulness(gray) == 0.0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: no spread, CF = 0.3 * |(255, 127.5)|
    assert metrics.colorfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))
    half = red.copy()
    half[:2] = 0  # half red, half black: mean = sd = half of each value
    expected = math.hypot(127.5, 63.75) + 0.3 * math.hypot(127.5, 63.75)
    assert metrics.colorfulness(half) == pytest.approx(expected)


def test_delta_colorfulness():
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    gray = np.full((4, 4, 3), 128, np.uint8)
    cf_red = 0.3 * math.hypot(255, 127.5)
    assert metrics.delta_colorfulness([gray, gray], [red, gray]) == pytest.approx(cf_red / 2)
    assert metrics.delta_colorfulness([red], [red]) == 0.0


def test_bad_inputs_raise_clear_errors(photo):
    with pytest.raises(ValueError, match="uint8"):
        metrics.psnr(photo.astype(np.float32), photo)
    with pytest.raises(ValueError, match="shape"):
        metrics.psnr(photo[:10], photo)
    with pytest.raises(ValueError, match="11x11"):
        metrics.ssim(photo[:8, :8], photo[:8, :8])
    with pytest.raises(ValueError, match="ab channels"):
        metrics.auc(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="equally many"):
        metrics.delta_colorfulness([photo], [])


def test_rgb_float_to_u8_rounds_and_clips():
    out = metrics.rgb_float_to_u8(np.array([[[-0.1, 0.5, 1.2]]]))
    assert out.tolist() == [[[0, 128, 255]]]


def test_metrics_do_not_import_torch():
    code = "import sys, colored.metrics; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
