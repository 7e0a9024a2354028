"""colored.model and colored.checkpoint on the tiny test backbone."""

import torch
import pytest
from torch import nn

from colored.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from colored.color import lightness_to_gray
from colored.architectures import build_model
from colored.model import BackboneWeightsError, ColorizationNet, ModelConfig, create_backbone

torch.set_num_threads(1)


def tiny(head: str = "regression", **kw) -> ColorizationNet:
    torch.manual_seed(0)
    return build_model(ModelConfig(image_size=64, backbone="test_efficientnet", backbone_size=64, head=head, **kw))


@pytest.fixture(scope="module")
def L() -> torch.Tensor:
    return torch.rand(2, 1, 64, 64) * 100


def _convs(seq: nn.Module) -> list[tuple]:
    """(kind, in, out, kernel, stride) or ('up', factor) for each layer, in order."""
    out = []
    for m in seq.modules():
        if isinstance(m, nn.Conv2d):
            out.append(("conv", m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]))
        elif isinstance(m, nn.Upsample):
            out.append(("up", int(m.scale_factor)))
    return out


def test_encoder_decoder_structure_is_the_reference():
    m = tiny()
    # Conv(64,s2) Conv(128) Conv(128,s2) Conv(256) Conv(256,s2) Conv(512) Conv(512) Conv(256), 3x3
    assert _convs(m.encoder) == [
        ("conv", 1, 64, 3, 2), ("conv", 64, 128, 3, 1), ("conv", 128, 128, 3, 2), ("conv", 128, 256, 3, 1),
        ("conv", 256, 256, 3, 2), ("conv", 256, 512, 3, 1), ("conv", 512, 512, 3, 1), ("conv", 512, 256, 3, 1),
    ]
    assert _convs(m.fusion) == [("conv", 1256, 256, 1, 1)]
    # Conv(128) Up2 Conv(64) Up2 Conv(32) Conv(16), then Conv(2) (+ tanh and Up2 in forward)
    assert _convs(m.decoder) + _convs(m.head) == [
        ("conv", 256, 128, 3, 1), ("up", 2), ("conv", 128, 64, 3, 1), ("up", 2),
        ("conv", 64, 32, 3, 1), ("conv", 32, 16, 3, 1), ("conv", 16, 2, 3, 1),
    ]
    assert sum(isinstance(x, nn.ReLU) for x in m.encoder.modules()) == 8


def test_output_shapes_both_heads(L):
    reg = tiny().eval()
    with torch.no_grad():
        out = reg(L)
        assert out.shape == (2, 2, 64, 64) and out.abs().max() <= 1
        assert reg.predict_ab(L).shape == (2, 2, 64, 64)
    cls = tiny("classification").eval()
    with torch.no_grad():
        assert cls(L).shape == (2, 313, 32, 32)  # half resolution logits
        assert cls.predict_ab(L).shape == (2, 2, 64, 64)


def test_classification_decode_uses_bins(L):
    m = tiny("classification").eval()
    centers = torch.stack([torch.full((313,), 30.0), torch.full((313,), -20.0)], 1)
    m.set_bins(centers)
    with torch.no_grad():
        ab = m.predict_ab(L)  # any distribution over identical centres decodes to that centre
    torch.testing.assert_close(ab, torch.tensor([30.0, -20.0]).view(1, 2, 1, 1).expand_as(ab), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="shape"):
        m.set_bins(torch.zeros(10, 2))


def test_backbone_sees_the_grey_copy_of_the_same_L(L):
    m = tiny().eval()
    x = m.backbone_input(L)
    assert x.shape == (2, 3, 64, 64)
    rgb = x * m.backbone_std + m.backbone_mean  # undo the backbone's per-channel normalisation
    torch.testing.assert_close(rgb[:, 0], rgb[:, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(rgb[:, 1], rgb[:, 2], atol=1e-5, rtol=0)
    torch.testing.assert_close(rgb[:, :1], lightness_to_gray(L), atol=1e-5, rtol=0)
    seen = {}
    m.backbone.register_forward_hook(lambda mod, inp, out: seen.update(x=inp[0]))  # returns None
    with torch.no_grad():
        m(L)
    torch.testing.assert_close(seen["x"], x)


def test_frozen_backbone_has_no_trainable_params_and_stays_in_eval():
    m = tiny(train_backbone=False).train()
    assert not any(p.requires_grad for p in m.backbone.parameters())
    assert not m.backbone.training and m.encoder.training
    assert all(p.requires_grad for p in tiny(train_backbone=True).backbone.parameters())


def test_backbone_weights_errors(tmp_path):
    with pytest.raises(BackboneWeightsError, match="no such file"):
        create_backbone("test_efficientnet", pretrained=True, weights_file=tmp_path / "missing.pth")
    with pytest.raises(BackboneWeightsError, match="unknown timm backbone 'no_such_net'"):
        create_backbone("no_such_net", pretrained=False)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(BackboneWeightsError, match="--no-pretrained"):
        create_backbone("test_efficientnet", pretrained=True, weights_file=bad)


def test_checkpoint_round_trip(tmp_path, L):
    m = tiny("classification").eval()
    m.set_bins(torch.randn(313, 2) * 50)
    path = tmp_path / "m.pt"
    save_checkpoint(path, m, epoch=3, history=[{"epoch": 1, "train_loss": 0.5}])
    loaded, ckpt = load_model(path)
    assert ckpt["epoch"] == 3 and ckpt["history"][0]["train_loss"] == 0.5
    assert loaded.config == m.config
    with torch.no_grad():
        torch.testing.assert_close(loaded.predict_ab(L), m.predict_ab(L))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left behind


def test_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a zip")
    with pytest.raises(CheckpointError, match=r"corrupt.pt: not a ColorED checkpoint \(torch cannot read it"):
        read_checkpoint(corrupt)
    whole = tmp_path / "whole.pt"
    save_checkpoint(whole, tiny("regression"))
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pt: corrupt or truncated checkpoint"):
        read_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a ColorED checkpoint"):
        read_checkpoint(foreign)
    path = tmp_path / "m.pt"
    save_checkpoint(path, tiny())
    ckpt = torch.load(path, weights_only=True)
    ckpt["format_version"] = 99
    torch.save(ckpt, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version 99"):
        read_checkpoint(tmp_path / "future.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        read_checkpoint(truncated)
