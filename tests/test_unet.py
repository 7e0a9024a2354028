"""colored.unet.FusionUNet: the pretrained-encoder architecture (on timm's tiny test EfficientNet)."""

import numpy as np
import pytest
import torch

from colored import bins
from colored.architectures import build_model, make_net
from colored.checkpoint import load_model, save_checkpoint
from colored.model import ColorizationNet, ModelConfig
from colored.unet import FusionUNet

torch.set_num_threads(1)


def tiny_unet(head: str = "classification", size: int = 64, **kw) -> FusionUNet:
    torch.manual_seed(0)
    config = ModelConfig(image_size=size, arch="unet", backbone="test_efficientnet", backbone_size=size, head=head, **kw)
    model = build_model(config)
    if head == "classification":
        model.set_bins(torch.tensor(bins.bin_centers(), dtype=torch.float32))
    return model


def test_shapes_of_both_heads_and_fusion_of_the_classifier():
    L = torch.rand(2, 1, 64, 64) * 100
    cls = tiny_unet().eval()
    assert isinstance(cls, FusionUNet)
    with torch.no_grad():
        assert cls(L).shape == (2, 313, 16, 16)  # logits at 1/4 size
        assert cls.predict_ab(L).shape == (2, 2, 64, 64)
        skips, bottom, emb = cls.encode(L)
    assert [s.shape[-1] for s in skips] == [16, 8, 4] and bottom.shape[-1] == 2
    assert emb.shape == (2, 1000) and torch.allclose(emb.sum(1), torch.ones(2))
    # the fusion conv sees the stride-32 feature and the 1000-way softmax
    assert cls.fusion[0].in_channels == bottom.shape[1] + 1000
    reg = tiny_unet("regression").eval()
    with torch.no_grad():
        out = reg(L)
    assert out.shape == (2, 2, 64, 64) and out.abs().max() <= 1


def test_classifier_output_changes_the_colours():
    """The fusion branch is wired in: the same picture with another class embedding gets other colours."""
    model = tiny_unet().eval()
    with torch.no_grad():
        model.fusion[0].weight.normal_(0, 1)
    L = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        skips, bottom, _ = model.encode(L)
        cat, car = torch.zeros(1, 1000), torch.zeros(1, 1000)
        cat[0, 281], car[0, 817] = 1.0, 1.0
        model.encode = lambda x: (skips, bottom, cat)
        ab = model.predict_ab(L)
        model.encode = lambda x: (skips, bottom, car)
        other = model.predict_ab(L)
    assert (ab - other).abs().max() > 1e-3


def test_backbone_is_frozen_unless_asked_and_stays_in_eval_mode():
    model = tiny_unet().train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not model.backbone.training and model.up.training
    trainable = tiny_unet(train_backbone=True)
    assert all(p.requires_grad for p in trainable.backbone.parameters())


def test_gradients_reach_decoder_not_backbone():
    model = tiny_unet().train()
    model(torch.rand(2, 1, 64, 64) * 100).sum().backward()
    assert model.head.weight.grad is not None and model.fusion[0].weight.grad is not None
    assert all(p.grad is None for p in model.backbone.parameters())


def test_size_must_be_a_multiple_of_32():
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny_unet(size=48)


def test_a_backbone_without_efficientnet_stages_is_refused():
    with pytest.raises(ValueError, match="EfficientNet"):
        make_net(ModelConfig(image_size=64, arch="unet", backbone="resnet10t", backbone_size=64))


def test_checkpoint_round_trip_rebuilds_the_unet(tmp_path):
    model = tiny_unet().eval()
    save_checkpoint(tmp_path / "m.pt", model)
    loaded, _ = load_model(tmp_path / "m.pt")
    L = torch.rand(1, 1, 64, 64) * 100
    assert isinstance(loaded, FusionUNet)
    with torch.no_grad():
        np.testing.assert_allclose(loaded.predict_ab(L).numpy(), model.predict_ab(L).numpy(), atol=1e-5)


def test_onnx_export_matches_pytorch(tmp_path):
    from export.onnx_export import export_model
    from export.verify import verify_onnx

    model = tiny_unet().eval()
    with torch.no_grad():  # lively logits, so that parity means something
        model.head.weight.normal_(0, 0.3)
    contract = export_model(model, tmp_path / "u.onnx")
    assert contract.model_config["arch"] == "unet"
    report = verify_onnx(model, tmp_path / "u.onnx", batch_sizes=(1, 3))
    assert report["max_abs_ab_diff"] < report["tolerance"]


def test_class_columns_of_the_fusion_can_start_at_zero_and_dropout_only_trains():
    model = tiny_unet(fusion_dropout=0.5)
    bottom_channels = model.fusion[0].in_channels - 1000
    assert model.fusion[0].weight[:, bottom_channels:].abs().max() > 0  # PyTorch's init
    model.zero_class_columns()
    assert model.fusion[0].weight[:, bottom_channels:].abs().max() == 0  # unseen classes add nothing
    assert model.fusion[0].weight[:, :bottom_channels].abs().max() > 0
    with torch.no_grad():
        model.fusion[0].weight.normal_(0, 1)
    L = torch.rand(2, 1, 64, 64) * 100
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(L), model(L))  # no dropout at inference
        model.train()
        torch.manual_seed(1)
        first = model(L)
        torch.manual_seed(2)
        assert not torch.equal(first, model(L))


def test_chroma_scale_scales_the_decoded_colour():
    L = torch.rand(1, 1, 64, 64) * 100
    full = tiny_unet().eval()
    half = tiny_unet(chroma_scale=0.5).eval()
    with torch.no_grad():
        full.head.weight.normal_(0, 0.3)
        half.load_state_dict(full.state_dict())
        np.testing.assert_allclose(half.predict_ab(L).numpy(), 0.5 * full.predict_ab(L).numpy(), atol=1e-4)


def test_the_registry_builds_each_architecture_by_name() -> None:
    from colored.architectures import create_model, list_models, register_model

    assert list_models() == ["seed", "unet"]
    config = ModelConfig(image_size=64, arch="unet", backbone="test_efficientnet", backbone_size=64)
    assert type(create_model(config)) is FusionUNet
    with pytest.raises(ValueError, match="'unet' is already registered"):
        register_model("unet")(ColorizationNet)


def test_both_architectures_run_the_shared_base_constructor(monkeypatch):
    """FusionUNet and ColorizationNet are siblings under FusionNet and both go through its
    __init__ (no nn.Module.__init__ shortcut), so what the base sets up is set up for both."""
    from colored.model import FusionNet

    assert FusionUNet.__mro__[1] is FusionNet and ColorizationNet.__mro__[1] is FusionNet
    built = []
    base_init = FusionNet.__init__

    def counting(self, config, backbone=None):
        built.append(type(self).__name__)
        base_init(self, config, backbone)

    monkeypatch.setattr(FusionNet, "__init__", counting)
    tiny_unet()
    torch.manual_seed(0)
    make_net(ModelConfig(image_size=64, backbone="test_efficientnet", backbone_size=64))
    assert built == ["FusionUNet", "ColorizationNet"]
