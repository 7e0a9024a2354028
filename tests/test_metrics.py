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


def half_green() -> tuple[np.ndarray, np.ndarray]:
    """4x4 truth ab: top half green (a* = -30), bottom half neutral; the output gets exactly a
    quarter of the green (2 of 8 pixels at a* = -20), the rest it leaves neutral."""
    true = np.zeros((4, 4, 2))
    true[:2, :, 0] = -30.0
    pred = np.zeros((4, 4, 2))
    pred[0, :2, 0] = -20.0
    return pred, true


def test_green_recall_of_a_quarter():
    pred, true = half_green()
    counts = metrics.hue_counts(pred, true)
    assert counts.recall("green") == pytest.approx(25.0)
    assert (counts.hits[0], counts.eligible[0]) == (2, 8)
    # no truth pixel is blue or red: no verdict, not 0 or 100
    assert math.isnan(counts.recall("blue")) and math.isnan(counts.recall("red"))


def test_chroma_auc_uses_only_chromatic_truth_pixels():
    pred, true = half_green()
    counts = metrics.hue_counts(pred, true)
    assert counts.chroma_pixels == 8  # the neutral half (chroma 0) is left out
    # errors: 2 pixels of 10, 6 of 30 -> CDF 0 below 10, 1/4 from 10, 1 from 30; trapezoid
    # area 0.125 (9..10) + 19 * 0.25 + 0.625 (29..30) + 120 = 125.5
    assert counts.chroma_auc() == pytest.approx(125.5 / 150 * 100)
    mask = np.hypot(true[..., 0], true[..., 1]) > 20
    assert counts.chroma_auc() == pytest.approx(metrics.auc(pred[mask], true[mask]))
    # the neutral pixels the output got right would raise the plain AuC, not this one
    assert metrics.auc(pred, true) > counts.chroma_auc()


def test_recall_limits_are_strict_and_sided():
    true = np.array([[[-10.0, 0.0], [-10.01, -10.01], [20.5, 0.0], [21.0, 0.0]]])
    pred = np.array([[[-30.0, 0.0], [-5.0, -5.01], [11.0, 0.0], [10.0, 0.0]]])
    counts = metrics.hue_counts(pred, true)
    # green: only the second pixel is eligible (-10 is not < -10); -5 is not < -5
    assert (counts.hits[0], counts.eligible[0]) == (0, 1)
    # blue: second pixel, -5.01 < -5
    assert (counts.hits[1], counts.eligible[1]) == (1, 1)
    # red: last two pixels eligible; 11 > 10 hits, 10 does not
    assert (counts.hits[2], counts.eligible[2]) == (1, 2)


def test_a_constant_tint_cannot_pass_opposite_hues():
    true = np.zeros((2, 2, 2))
    true[0, :, 0] = -40.0  # green row
    true[1, :, 0] = 40.0  # red row
    tint = np.zeros_like(true)
    tint[..., 0] = -20.0  # everything greenish
    counts = metrics.hue_counts(tint, true)
    assert counts.recall("green") == 100.0 and counts.recall("red") == 0.0


def test_hue_counts_pool_pixels_not_images():
    pred, true = half_green()
    small_true = np.full((1, 2, 2), [-30.0, 0.0])
    small_pred = small_true.copy()  # 2 of 2 green pixels right
    set_counts = metrics.pooled([metrics.hue_counts(pred, true), metrics.hue_counts(small_pred, small_true)])
    assert set_counts.recall("green") == pytest.approx(100 * 4 / 10)  # not the mean of 25 and 100
    assert set_counts.chroma_pixels == 10
    expected = metrics.auc(np.concatenate([pred[:2].reshape(-1, 2), small_pred.reshape(-1, 2)]),
                           np.concatenate([true[:2].reshape(-1, 2), small_true.reshape(-1, 2)]))
    assert set_counts.chroma_auc() == pytest.approx(expected)
    assert math.isnan(metrics.pooled([]).chroma_auc())


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
    with pytest.raises(ValueError, match="ab arrays"):
        metrics.hue_counts(np.zeros((4, 4, 2)), np.zeros((4, 3, 2)))


def test_rgb_float_to_u8_rounds_and_clips():
    out = metrics.rgb_float_to_u8(np.array([[[-0.1, 0.5, 1.2]]]))
    assert out.tolist() == [[[0, 128, 255]]]


def test_metrics_do_not_import_torch():
    code = "import sys, colored.metrics; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_false_colour_counts_neutral_pixels_painted_coloured():
    true = np.zeros((4, 4, 2))
    true[0] = (30.0, 10.0)  # a coloured row: not neutral, never counted
    true[1] = (3.0, -3.0)  # chroma 4.2 < 5: neutral
    pred = np.zeros((4, 4, 2))
    pred[1, :2] = (12.0, 9.0)  # chroma 15: a blotch on the neutral row
    pred[2, :1] = (10.0, 0.0)  # chroma 10: a faint cast, not false colour
    pred[0] = (-40.0, 0.0)  # wrong colour on a coloured pixel: recall's business, not this one's
    counts = metrics.hue_counts(pred, true)
    assert (counts.neutral_pixels, counts.false_colour_pixels) == (12, 2)
    assert counts.false_colour() == pytest.approx(100 * 2 / 12)
    pooled = metrics.pooled([counts, metrics.hue_counts(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))])
    assert pooled.false_colour() == pytest.approx(100 * 2 / 16)
    assert math.isnan(metrics.hue_counts(pred[:1], true[:1]).false_colour())  # no neutral pixel: no verdict
