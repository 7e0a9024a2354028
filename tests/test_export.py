"""ONNX export: one self-contained file, parity with PyTorch, dynamic batch, contract metadata, fp16, CLI."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from colored.checkpoint import save_checkpoint
from colored.contract import ContractError
from colored.architectures import build_model
from colored.model import ColorizationNet, ModelConfig
from export import export_checkpoint, export_model, verify_onnx
from export.cli import main as cli_main
from export.onnx_export import make_contract
from export.verify import TOLERANCE, lightness_at, read_contract, sample_photos, session

torch.set_num_threads(2)
SIZE = 64


def small_model(head: str = "regression", seed: int = 0) -> ColorizationNet:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(image_size=SIZE, backbone="test_efficientnet", backbone_size=SIZE, head=head))
    if head == "classification":
        model.set_bins(torch.randn(313, 2) * 40)
    return liven(model)


def liven(model: ColorizationNet) -> ColorizationNet:
    """Random init gives an almost input-independent output (signals fade through the default-init
    convs, the backbone's softmax is near-uniform). Re-initialise so that ab spans tens of Lab units
    and depends on both the image and the backbone's 1000-way vector: otherwise a graph that mixed
    up batch rows or dropped the fusion branch could still pass a 0.5-Lab parity check."""
    with torch.no_grad():
        for part in (model.encoder, model.fusion, model.decoder):
            for mod in part.modules():
                if isinstance(mod, nn.Conv2d):
                    nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
                    nn.init.zeros_(mod.bias)
        nn.init.kaiming_normal_(model.head.weight)
        model.head.weight.mul_(0.3 if model.config.head == "regression" else 3.0)
        # The backbone's pooled features are ~1e-3 at random init: large classifier weights make
        # its softmax peaked and image-dependent; the fusion conv then has to listen to it.
        nn.init.normal_(model.backbone.get_classifier().weight, std=100.0)
        model.fusion[0].weight[:, 256:].mul_(100.0)
    return model.eval()


def torch_ab(model: ColorizationNet, L: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval().predict_ab(torch.from_numpy(L)).numpy()


@pytest.fixture(scope="module")
def photos_L() -> np.ndarray:
    return np.stack([lightness_at(p, SIZE) for p in sample_photos()])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(model, path, contract) of one small regression export shared by the read-only tests."""
    model = small_model().train()  # exported from train mode: the graph must still be the eval-mode model
    path = tmp_path_factory.mktemp("small") / "small.onnx"
    contract = export_model(model, path, train_config={"lr": 1e-3, "epochs": 3})
    assert model.training  # the caller's mode is restored
    return model.eval(), path, contract


def test_liven_makes_output_depend_on_image_and_backbone(photos_L):
    # Precondition of the parity tests below: they are only meaningful if this holds.
    model = small_model()
    ab = torch_ab(model, photos_L)
    assert np.abs(ab[0] - ab[1]).mean() > 5.0
    with torch.no_grad():
        L = torch.from_numpy(photos_L)
        x = model.encoder(L / 50.0 - 1.0)
        emb = model.embed(L)
        tile = lambda e: e[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # noqa: E731
        out = lambda e: model.head(model.decoder(model.fusion(torch.cat([x, tile(e)], 1))))  # noqa: E731
        assert (out(emb) - out(emb.flip(0))).abs().max() > 0.5


def test_export_is_one_self_contained_file(small):
    _, path, _ = small
    assert sorted(p.name for p in path.parent.iterdir()) == ["small.onnx"]  # no .data, no temp left over
    proto = onnx.load(str(path), load_external_data=False)
    assert not any(onnx.external_data_helper.uses_external_data(t) for t in proto.graph.initializer)
    names = [t.name for t in proto.graph.initializer]
    assert any("backbone" in n for n in names) and any("encoder" in n for n in names)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("L", "ab")
    in_dims = inp.type.tensor_type.shape.dim
    out_dims = out.type.tensor_type.shape.dim
    assert in_dims[0].dim_param and out_dims[0].dim_param  # dynamic batch axis
    assert in_dims[1].dim_value == 1 and out_dims[1].dim_value == 2
    # dynamic square size (render sizes): one symbol for height and width, in and out
    assert in_dims[2].dim_param and in_dims[2].dim_param == in_dims[3].dim_param
    assert [d.dim_param for d in out_dims[2:]] == [in_dims[2].dim_param] * 2
    assert inp.type.tensor_type.elem_type == out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_parity_with_pytorch_at_several_batch_sizes(small):
    model, path, contract = small
    report = verify_onnx(model, path, batch_sizes=(1, 2, 3, 5))
    assert report["checker"] == "ok"
    assert report["model_id"] == contract.model_id
    assert set(report["per_batch"]) == {1, 2, 3, 5}
    assert report["max_abs_ab_diff"] == max([*report["per_batch"].values(), *report["per_size"].values()])
    assert set(report["per_size"]) == {128, 256, 512}
    assert report["max_abs_ab_diff"] < TOLERANCE["fp32"] == report["tolerance"]


def test_dynamic_batch_keeps_rows_independent(small, photos_L):
    # The backbone's 1000-way vector is tiled over the bottleneck per sample: a batch of 5 must
    # give each image exactly what it gets alone, and different images must differ.
    model, path, _ = small
    sess = session(path)
    batch = sess.run(["ab"], {"L": photos_L})[0]
    alone = np.concatenate([sess.run(["ab"], {"L": photos_L[i : i + 1]})[0] for i in range(len(photos_L))])
    assert batch.shape == (5, 2, SIZE, SIZE)
    assert np.abs(batch - alone).max() < 1e-3
    assert np.abs(batch - torch_ab(model, photos_L)).max() < TOLERANCE["fp32"]


def test_verify_catches_a_model_that_differs(small):
    model, path, _ = small
    other = small_model(seed=1)  # same architecture, other weights: the file no longer matches it
    assert verify_onnx(other, path, batch_sizes=(2,))["max_abs_ab_diff"] > 5.0


def test_metadata_round_trip(small):
    model, path, contract = small
    read = read_contract(path)
    assert read == contract
    assert read.input_size == SIZE and read.precision == "fp32"
    assert (read.input_name, read.output_name, read.input_range) == ("L", "ab", (0.0, 100.0))
    assert read.train_config == {"lr": 1e-3, "epochs": 3}
    assert ModelConfig.from_dict(read.model_config) == model.config
    backbone, head, chash, wsha = read.model_id.split("-")
    assert (backbone, head, chash) == ("test_efficientnet", "regression", read.config_hash)
    assert len(wsha) == 12


def test_model_without_contract_is_rejected(small, tmp_path):
    _, path, _ = small
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ContractError, match="not a ColorED model"):
        read_contract(bare)


def test_model_id_is_stable_and_tracks_weights_and_config():
    model = small_model()
    a = make_contract(model, {"lr": 1e-3})
    assert make_contract(small_model(), {"lr": 1e-3}).model_id == a.model_id  # same weights, same id
    b = make_contract(model, {"lr": 1e-4})
    assert b.config_hash != a.config_hash and b.model_id != a.model_id
    with torch.no_grad():
        model.head.bias.add_(1e-3)
    c = make_contract(model, {"lr": 1e-3})
    assert c.config_hash == a.config_hash and c.model_id != a.model_id


def test_classification_head_annealed_mean_is_in_the_graph(tmp_path, photos_L):
    model = small_model("classification")
    path = tmp_path / "cls.onnx"
    export_model(model, path)
    got = session(path).run(["ab"], {"L": photos_L[:3]})[0]
    ref = torch_ab(model, photos_L[:3])
    assert np.abs(got - ref).max() < TOLERANCE["fp32"]
    # Without the temperature the decode would be a plain mean: a different, duller answer.
    with torch.no_grad():
        model.config = dataclasses.replace(model.config, temperature=1.0)
        plain = torch_ab(model, photos_L[:3])
    assert np.abs(got - plain).max() > 5.0


def test_fp16_is_half_size_float32_io_and_close(small, tmp_path, photos_L):
    model, fp32_path, contract32 = small
    path = tmp_path / "m16.onnx"
    contract = export_model(model, path, train_config={"lr": 1e-3, "epochs": 3}, fp16=True)
    assert contract.precision == "fp16" == read_contract(path).precision
    assert contract.model_id == contract32.model_id + "-fp16"
    ratio = path.stat().st_size / fp32_path.stat().st_size
    assert 0.45 < ratio < 0.55
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    big = [t for t in proto.graph.initializer if np.prod(t.dims) > 1000]
    assert big and all(t.data_type == onnx.TensorProto.FLOAT16 for t in big)
    report = verify_onnx(model, path, batch_sizes=(1, 3))  # runs on CPU onnxruntime
    assert report["precision"] == "fp16"
    assert 0 < report["max_abs_ab_diff"] < TOLERANCE["fp16"]


def test_opset_too_old_is_rejected(small, tmp_path):
    model, _, _ = small
    with pytest.raises(ValueError, match="opset 17"):
        export_model(model, tmp_path / "o17.onnx", opset=17)
    assert list(tmp_path.iterdir()) == []


def test_export_checkpoint_defaults_next_to_checkpoint_and_passes_options(tmp_path):
    model = small_model()
    ckpt = tmp_path / "run" / "best.pt"
    save_checkpoint(ckpt, model, train_config={"batch_size": 16})
    out, contract = export_checkpoint(ckpt, opset=20)
    assert out == tmp_path / "run" / "best.onnx" and out.is_file()
    proto = onnx.load(str(out), load_external_data=False)
    assert [o.version for o in proto.opset_import if o.domain == ""] == [20]
    assert read_contract(out).train_config == {"batch_size": 16}
    assert contract.model_id == make_contract(model, {"batch_size": 16}).model_id


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(path, small_model(), train_config={"lr": 1e-3})
    return path


def test_cli_exports_verifies_and_summarises(checkpoint):
    out = checkpoint.with_name("cli.onnx")
    result = CliRunner().invoke(cli_main, [str(checkpoint), "-o", str(out), "--batch-sizes", "1,3"])
    assert result.exit_code == 0, result.output
    contract = read_contract(out)
    assert str(out) in result.output and contract.model_id in result.output
    assert "onnx.checker ok" in result.output and "batch 3:" in result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["cli.onnx", "model.pt"]


def test_cli_prints_each_step_as_it_starts(checkpoint):
    """Issue 22 row 8b: an export that takes minutes says what it is doing (trace, verify, fp16)."""
    out = checkpoint.with_name("steps.onnx")
    result = CliRunner().invoke(cli_main, [str(checkpoint), "-o", str(out), "--batch-sizes", "1", "--fp16"])
    assert result.exit_code == 0, result.output
    steps = [line.split("] ", 1)[1] for line in result.stdout.splitlines() if line.lstrip().startswith("[")]
    assert steps[:4] == [f"load {checkpoint}", "trace the model and convert it to ONNX", "convert the graph to fp16",
                         "write the file"], steps
    assert "verify: onnx.checker full check" in steps and "verify: onnxruntime vs PyTorch, batch 1 at 64 px" in steps
    assert steps[-1] == "done" and result.stderr == ""


def test_cli_refuses_an_unwritable_output_before_exporting(checkpoint, tmp_path):
    """Issue 22 row 4 (export too): a read-only -o folder is one line at once, not after the export."""
    from _readonly import read_only_folder

    with read_only_folder(tmp_path / "ro") as ro:
        result = CliRunner().invoke(cli_main, [str(checkpoint), "-o", str(ro / "m.onnx")])
    line = _one_line_error(result, ro / "m.onnx")
    assert "read-only file system" in line or "permission denied" in line
    assert "trace" not in result.stdout


def test_cli_writes_nothing_when_verification_fails(checkpoint, monkeypatch):
    monkeypatch.setitem(TOLERANCE, "fp32", 0.0)  # no export can be that exact: verification must fail
    out = checkpoint.with_name("rejected.onnx")
    result = CliRunner().invoke(cli_main, [str(checkpoint), "-o", str(out), "--batch-sizes", "1"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {out}: verification failed: max |ab| difference")
    assert not out.exists() and not list(out.parent.glob(".rejected*"))


def _one_line_error(result, path, code: int = 2) -> str:
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_cli_missing_checkpoint(tmp_path):
    missing = tmp_path / "nope.pt"
    line = _one_line_error(CliRunner().invoke(cli_main, [str(missing)]), missing)
    assert "no such checkpoint" in line
    assert list(tmp_path.iterdir()) == []


def test_cli_corrupt_checkpoint(tmp_path, checkpoint):
    bad = tmp_path / "bad.pt"
    data = checkpoint.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # an interrupted copy
    _one_line_error(CliRunner().invoke(cli_main, [str(bad)]), bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


def test_cli_checkpoint_from_incompatible_version(tmp_path, checkpoint):
    payload = torch.load(checkpoint, weights_only=True)
    payload["format_version"] = 99
    future = tmp_path / "future.pt"
    torch.save(payload, future)
    line = _one_line_error(CliRunner().invoke(cli_main, [str(future)]), future)
    assert "format version 99" in line


def test_cli_rejects_old_opset(checkpoint):
    result = CliRunner().invoke(cli_main, [str(checkpoint), "--opset", "17"])
    assert result.exit_code == 2 and "--opset" in result.output


# --- the full configuration ------------------------------------------------------------------


@pytest.mark.slow
def test_full_inception_resnet_v2_export(tmp_path):
    """The default configuration: 256 px input, InceptionResNetV2 at 299 (random weights)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig())
    assert model.config.backbone == "inception_resnet_v2" and model.config.backbone_size == 299
    liven(model)
    path = tmp_path / "full.onnx"
    t0 = time.perf_counter()
    contract = export_model(model, path)
    export_s = time.perf_counter() - t0
    assert list(tmp_path.iterdir()) == [path]
    assert path.stat().st_size > 200e6  # InceptionResNetV2's ~56M parameters are inside
    assert contract.input_size == 256 and contract.model_id.startswith("inception_resnet_v2-regression-")
    report = verify_onnx(model, path, batch_sizes=(1, 2, 3))
    assert report["max_abs_ab_diff"] < TOLERANCE["fp32"]
    print(f"full export {export_s:.1f} s, {path.stat().st_size / 1e6:.0f} MB, parity {report['per_batch']}")
