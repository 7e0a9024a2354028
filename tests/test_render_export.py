"""Render sizes and the temperature input in the exported file: dynamic size, contract, parity at 128/256/512."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from colored import bins
from colored.contract import ContractError, ModelContract
from colored.architectures import build_model
from colored.model import ModelConfig
from export import export_model, verify_onnx
from export.onnx_export import render_sizes
from export.verify import TOLERANCE, lightness_at, read_contract, sample_photos, session
from test_export import small_model

torch.set_num_threads(2)


def lively_unet(backbone: str = "test_efficientnet", size: int = 64):
    """A unet classification model whose colours depend on the picture (random init gives a near-constant ab)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_size=size, arch="unet", backbone=backbone, backbone_size=size,
                                    head="classification"))
    model.set_bins(torch.tensor(bins.bin_centers(), dtype=torch.float32))
    with torch.no_grad():
        for mod in [*model.fusion.modules(), *model.up.modules(), model.head]:
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
        model.head.weight.mul_(3.0)
    return model.eval()


def parity(model, path, sizes=(128, 256, 512)) -> dict[int, float]:
    """max |ab| ONNX vs PyTorch at each size on two real photos, checking the output follows the input."""
    sess = session(path, threads=2)
    out = {}
    for n in sizes:
        L = np.stack([lightness_at(p, n) for p in sample_photos()[:2]])
        (got,) = sess.run(["ab"], {"L": L})
        assert got.shape == (2, 2, n, n)
        with torch.no_grad():
            ref = model.predict_ab(torch.from_numpy(L)).numpy()
        assert np.abs(ref[0] - ref[1]).mean() > 1.0  # the check means something: ab depends on the photo
        out[n] = float(np.abs(got - ref).max())
    return out


def test_contract_round_trip_and_old_models_without_render_fields():
    c = ModelContract(input_size=256, model_id="m", config_hash="h", render_sizes=(128, 1024, 32),
                      temperature=0.38, temperature_input="T")
    back = ModelContract.from_metadata(c.to_metadata())
    assert back.render_sizes == (128, 1024, 32) and back.temperature == 0.38 and back.temperature_input == "T"
    assert back.render_size_error(512) is None and back.render_size_error(256) is None
    assert "multiples of 32 from 128 to 1024" in back.render_size_error(500)
    assert back.render_size_error(1056) is not None and back.render_size_error(96) is not None

    old_meta = {k: v for k, v in c.to_metadata().items() if "render_size" not in k and "temperature" not in k}
    old = ModelContract.from_metadata(old_meta)
    assert old.render_sizes is None and old.temperature is None and not old.dynamic_size
    assert old.render_size_error(256) is None
    assert "fixed size 256" in old.render_size_error(512)

    broken = dict(c.to_metadata(), **{"colored.render_size_step": "x"})
    with pytest.raises(ContractError, match="malformed"):
        ModelContract.from_metadata(broken, source="m.onnx")


@pytest.mark.parametrize("arch", ["seed", "unet"])
def test_export_runs_at_128_256_512_within_tolerance(arch, tmp_path):
    model = small_model("classification") if arch == "seed" else lively_unet()
    path = tmp_path / f"{arch}.onnx"
    contract = export_model(model, path)
    assert contract.render_sizes == render_sizes(model) == (64, 1024, model.size_step)
    assert model.size_step == (8 if arch == "seed" else 32)
    assert read_contract(path).render_sizes == contract.render_sizes
    diffs = parity(model, path)
    assert max(diffs.values()) < TOLERANCE["fp32"], diffs
    report = verify_onnx(model, path, batch_sizes=(1, 2))
    assert sorted(report["per_size"]) == [128, 256, 512] and report["max_abs_ab_diff"] < TOLERANCE["fp32"]
    assert list(report["per_temperature"]) == [1.0]


def test_temperature_is_an_optional_input_with_the_models_default(tmp_path):
    model = small_model("classification")
    path = tmp_path / "t.onnx"
    contract = export_model(model, path, fp16=True)  # the fp16 converter must keep "T" float32 and optional
    assert contract.temperature == pytest.approx(model.config.temperature) and contract.temperature_input == "T"
    sess = session(path, threads=2)
    assert [i.name for i in sess.get_inputs()] == ["L"]  # a plain runtime needs to feed nothing else
    assert [i.name for i in sess.get_overridable_initializers()] == ["T"]
    L = np.stack([lightness_at(p, 64) for p in sample_photos()[:2]])
    default = sess.run(["ab"], {"L": L})[0]
    same = sess.run(["ab"], {"L": L, "T": np.array(model.config.temperature, np.float32)})[0]
    hot = sess.run(["ab"], {"L": L, "T": np.array(1.0, np.float32)})[0]
    np.testing.assert_array_equal(default, same)
    with torch.no_grad():
        ref_hot = model.predict_ab(torch.from_numpy(L), 1.0).numpy()
    assert np.abs(hot - default).max() > 1.0  # T really changes the decode
    assert np.abs(hot - ref_hot).max() < TOLERANCE["fp16"]


def test_regression_models_and_fixed_exports_have_no_extras(tmp_path):
    model = small_model("regression")
    contract = export_model(model, tmp_path / "r.onnx")
    assert contract.render_sizes is not None and contract.temperature_input is None
    fixed = export_model(model, tmp_path / "f.onnx", dynamic=False)
    assert fixed.render_sizes is None
    shape = session(tmp_path / "f.onnx").get_inputs()[0].shape
    assert shape[1:] == [1, 64, 64]  # the graph really is fixed: what old runtimes and files have


@pytest.mark.slow
def test_efficientnet_lite0_unet_is_not_pinned_to_one_size_by_same_padding(tmp_path):
    """timm's Conv2dSame computes TF "same" padding from the input size at run time; the export must
    keep it symbolic (the new default model's architecture, random weights, at its 256 training size)."""
    model = lively_unet("tf_efficientnet_lite0", size=256)
    path = tmp_path / "lite0.onnx"
    contract = export_model(model, path)
    assert contract.render_sizes == (128, 1024, 32)
    diffs = parity(model, path)
    assert max(diffs.values()) < TOLERANCE["fp32"], diffs
