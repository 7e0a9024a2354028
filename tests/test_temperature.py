"""colored.evaluation.temperature: the annealed-mean T chosen on validation photos."""

import numpy as np
import pytest
import torch
from skimage import data as skdata

from colored import bins
from colored.evaluation.evaluate import Photo, to_gray
from colored.architectures import build_model
from colored.model import ModelConfig
from colored.evaluation.temperature import LogitCache, sweep

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model(ModelConfig(image_size=64, arch="unet", backbone="test_efficientnet", backbone_size=64,
                                head="classification"))
    m.set_bins(torch.tensor(bins.bin_centers(), dtype=torch.float32))
    with torch.no_grad():
        m.head.weight.normal_(0, 0.5)  # peaked logits, so T matters
    return m.eval()


@pytest.fixture(scope="module")
def photos():
    out = []
    for name in ("astronaut", "coffee", "chelsea"):
        rgb = getattr(skdata, name)()[::4, ::4].copy()
        out.append(Photo(name=name, truth=rgb, gray=to_gray(rgb)))
    return out


def test_logits_are_computed_once_per_photo_and_t_changes_the_colours(model, photos):
    cache = LogitCache(model, 64)
    calls = []
    forward = model.forward
    model.forward = lambda L: calls.append(1) or forward(L)
    try:
        vivid = cache.colorizer(0.2)(photos[0].gray)
        safe = cache.colorizer(5.0)(photos[0].gray)
    finally:
        del model.forward
    assert len(calls) == 1
    assert vivid.shape == photos[0].truth.shape and vivid.dtype == np.uint8
    chroma = [np.abs(x.astype(int) - x.mean(-1, keepdims=True)).mean() for x in (vivid, safe)]
    assert chroma[0] > chroma[1]  # a high T averages over bins: less saturated


def test_sweep_follows_its_rule(model, photos):
    result = sweep(model, photos, 64, temperatures=(1.0, 0.3), scales=(0.5, 1.0))
    assert [(r["temperature"], r["scale"]) for r in result.rows] == [(0.3, 1.0), (0.3, 0.5), (1.0, 1.0), (1.0, 0.5)]
    for r in result.rows:
        assert r["met"] == sum([r["psnr"] - r["grey_psnr_se"] >= result.gray["psnr"] + 0.5,
                                r["psnr"] - r["tint_psnr_se"] >= r["tint_psnr"] + 0.5,
                                r["auc"] - r["tint_auc_se"] >= r["tint_auc"] + 0.5, r["green_recall"] >= 40,
                                r["blue_recall"] >= 40, r["red_recall"] >= 40, r["colorfulness"] >= 30,
                                r["false_colour"] <= 20])
        assert 0 <= r["false_colour"] <= 100
        assert r["grey_psnr_se"] > 0 and r["tint_psnr_se"] > 0 and r["tint_auc_se"] > 0  # three photos that differ
    best = max(result.rows, key=lambda r: (r["met"], r["colorfulness"]))
    assert (result.temperature, result.scale) == (best["temperature"], best["scale"])
    # halving the colour halves colourfulness roughly, and a tint differs per candidate
    full, half = result.rows[0], result.rows[1]
    assert half["colorfulness"] < full["colorfulness"]
    assert "**chosen**" in result.markdown()


def test_checks_are_the_acceptance_targets():
    from colored.evaluation.temperature import checks

    # issue 19's targets: PSNR 0.5 dB above grey and tint, AuC 0.5 above tint, each recall >= 40 %,
    # colourfulness >= 30, false colour <= 20 %
    row = {"psnr": 22.0, "tint_psnr": 21.6, "auc": 88.6, "tint_auc": 88.0, "green_recall": 41.0, "blue_recall": 39.0,
           "red_recall": 40.0, "colorfulness": 30.0, "false_colour": 20.0}
    assert list(checks(row, gray_psnr=21.5).values()) == [True, False, True, True, False, True, True, True]
    assert list(checks(row, gray_psnr=21.6).values())[0] is False
    assert list(checks({**row, "tint_auc": 88.2}, 21.5).values())[2] is False
    assert list(checks({**row, "false_colour": 20.1}, 21.5).values())[-1] is False
    assert list(checks({**row, "colorfulness": 29.9}, 21.5).values())[-2] is False
    # with standard errors, each comparison must clear its target by one SE
    sure = {**row, "tint_psnr": 21.0, "grey_psnr_se": 0.2, "tint_psnr_se": 0.5, "tint_auc_se": 0.05}
    assert list(checks(sure, gray_psnr=21.3).values())[:3] == [True, True, True]
    assert list(checks(sure, gray_psnr=21.4).values())[0] is False
    assert list(checks({**sure, "tint_psnr_se": 0.6}, 21.3).values())[1] is False
    assert list(checks({**sure, "tint_auc_se": 0.2}, 21.3).values())[2] is False


def test_paired_standard_error():
    from colored.evaluation.temperature import paired_se

    a, b = [3.0, 5.0, 4.0, 8.0], [1.0, 2.0, 2.0, 3.0]  # differences 2, 3, 2, 5: sd 1.414, n 4
    assert paired_se(a, b) == pytest.approx(np.std([2, 3, 2, 5], ddof=1) / 2)
    assert paired_se([1.0, 2.0], [0.0, 1.0]) == 0.0  # a constant difference is certain
    assert paired_se([1.0], [0.0]) == 0.0


def test_scale_multiplies_the_decoded_colour(model, photos):
    from colored.color import rgb_to_lab

    cache = LogitCache(model, 64)
    lab = rgb_to_lab(cache.colorizer(0.5, 1.0)(photos[1].gray) / 255.0)
    full, half = lab[..., 1:], rgb_to_lab(cache.colorizer(0.5, 0.5)(photos[1].gray) / 255.0)[..., 1:]
    # away from the gamut edge, where the merge clips, and from the darkest and brightest
    # pixels, where 8-bit rounding moves a* and b* by several units
    inside = (np.abs(full).max(-1) < 40) & (lab[..., 0] > 25) & (lab[..., 0] < 85)
    np.testing.assert_allclose(half[inside], 0.5 * full[inside], atol=1.5)


def test_regression_models_have_no_temperature(photos):
    m = build_model(ModelConfig(image_size=64, arch="unet", backbone="test_efficientnet", backbone_size=64))
    with pytest.raises(ValueError, match="classification"):
        sweep(m, photos, 64)
