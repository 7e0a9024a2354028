"""colored-eval on two small real photos with a tiny exported model.

The gray baseline's numbers are checked against an independent computation with
scikit-image's Lab conversion, so the metric plumbing (ab from the outputs, per-image
averaging, dCF) is tested, not just that files appear.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

skimage = pytest.importorskip("skimage")
from skimage import color as skcolor  # noqa: E402
from skimage import data as skdata  # noqa: E402

from colored import metrics  # noqa: E402
from colored.eval_cli import main  # noqa: E402

SIZE = 128


@pytest.fixture(scope="module")
def tiny_model():
    from _tiny_model import tiny_model_path

    return tiny_model_path()


@pytest.fixture()
def photos(tmp_path):
    """Two colour photos already smaller than SIZE (so no resize happens) and one grey picture."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    truths = {}
    for name, img in (("cat.png", skdata.chelsea()), ("sub/coffee.png", skdata.coffee())):
        small = Image.fromarray(img).resize((96, 72), Image.Resampling.LANCZOS)
        small.save(folder / name)
        truths[name] = np.asarray(small)
    Image.fromarray(skdata.camera()[::8, ::8]).save(folder / "gray.png")  # not colour: skipped
    return folder, truths


def independent_gray(rgb_u8: np.ndarray) -> np.ndarray:
    """The grey version by skimage: keep L*, set a = b = 0."""
    lab = skcolor.rgb2lab(rgb_u8)
    lab[..., 1:] = 0
    return metrics.rgb_float_to_u8(skcolor.lab2rgb(lab))


def test_colored_eval_writes_table_json_and_sheet(tmp_path, photos, tiny_model):
    folder, truths = photos
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        main,
        [str(tiny_model), str(folder), "--baseline", str(tiny_model), "--out", str(out), "--size", str(SIZE),
         "--thumb", "64"],
    )
    assert result.exit_code == 0, result.output
    assert "gray.png: not a colour picture" in result.output

    report = json.loads((out / "metrics.json").read_text())
    assert report["images"] == ["cat.png", "sub/coffee.png"]
    methods = {m["name"]: m for m in report["methods"]}
    assert list(methods)[0] == "gray (ab=0)" and len(methods) == 3

    gray = methods["gray (ab=0)"]
    ordered = [truths[n] for n in report["images"]]
    truth_cf = np.mean([metrics.colorfulness(t) for t in ordered])
    assert report["truth_colorfulness"] == pytest.approx(truth_cf)
    assert gray["colorfulness"] == 0.0
    assert gray["dcf"] == pytest.approx(truth_cf)
    expected_auc = np.mean([metrics.auc(np.zeros_like(skcolor.rgb2lab(t)[..., 1:]), skcolor.rgb2lab(t)[..., 1:])
                            for t in ordered])
    assert gray["auc"] == pytest.approx(expected_auc, abs=0.05)
    expected_psnr = np.mean([metrics.psnr(independent_gray(t), t) for t in ordered])
    assert gray["psnr"] == pytest.approx(expected_psnr, abs=0.1)
    assert 0.5 < gray["ssim"] < 1.0

    # The same model given twice scores the same; a colorizing model is not grey.
    ours = methods[f"ours ({tiny_model.name})"]
    base = methods[f"MSE baseline ({tiny_model.name})"]
    for key in ("psnr", "ssim", "auc", "colorfulness", "dcf"):
        assert ours[key] == pytest.approx(base[key])
        assert math.isfinite(ours[key])
    assert ours["colorfulness"] > 0
    assert len(ours["per_image"]) == 2
    assert report["models"][f"ours ({tiny_model.name})"]["input_size"] == 64

    table = (out / "metrics.md").read_text()
    assert "| method | PSNR (dB)" in table and "| gray (ab=0) |" in table and table in result.output
    sheet = Image.open(out / "contact-sheet.png")
    assert sheet.size == (4 * (64 + 4) + 4, 22 + 2 * (64 + 4) + 4)  # original | gray | ours | MSE, 2 rows


def test_colored_eval_fails_clearly_without_colour_photos(tmp_path, tiny_model):
    folder = tmp_path / "grey"
    folder.mkdir()
    Image.fromarray(skdata.camera()[::8, ::8]).save(folder / "gray.png")
    result = CliRunner().invoke(main, [str(tiny_model), str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "no colour photos to evaluate" in result.output


def test_colored_eval_rejects_a_non_colored_model(tmp_path, photos, tiny_model):
    from _tiny_model import strip_contract

    folder, _ = photos
    bare = strip_contract(tiny_model, tmp_path / "bare.onnx")
    result = CliRunner().invoke(main, [str(bare), str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "not a ColorED model" in result.output
