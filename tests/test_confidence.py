"""The per-picture confidence (issue 21): the exported "confidence" output, its figure per picture,
and where the runtime records it (manifest, JSON/CSV reports); models without it still run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from _tiny_model import tiny_model_path
from batch.cli import main
from batch.confidence import CHROMA_FLOOR, picture_confidence
from batch.manifest import MANIFEST_NAME
from batch.session import SessionError, infer, infer_with_confidence, open_session
from colored.contract import CONFIDENCE_OUTPUT

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def cls_model() -> Path:
    return tiny_model_path(head="classification")


def without_confidence(src: Path, dst: Path, keep_contract_key: bool = False) -> Path:
    """The model as exported before the confidence output: graph output and contract key removed."""
    proto = onnx.load(str(src))
    keep = [o for o in proto.graph.output if o.name != CONFIDENCE_OUTPUT]
    del proto.graph.output[:]
    proto.graph.output.extend(keep)
    if not keep_contract_key:
        props = [p for p in proto.metadata_props if p.key != "colored.confidence_output"]
        del proto.metadata_props[:]
        proto.metadata_props.extend(props)
    onnx.save(proto, str(dst))
    return dst


def test_picture_confidence_weights_by_chroma_with_a_floor():
    conf = np.array([[[[1.0, 0.0]]]], np.float32)  # (1,1,1,2): sure at pixel 0, unsure at pixel 1
    vivid_sure = np.array([[[[60.0, 0.0]], [[0.0, 0.0]]]], np.float32)  # chroma 60 where sure, grey where not
    assert picture_confidence(conf, vivid_sure)[0] == pytest.approx(60 / (60 + CHROMA_FLOOR))
    vivid_unsure = np.array([[[[0.0, 0.0]], [[0.0, 80.0]]]], np.float32)
    assert picture_confidence(conf, vivid_unsure)[0] == pytest.approx(CHROMA_FLOOR / (80 + CHROMA_FLOOR))
    grey = np.zeros((1, 2, 1, 2), np.float32)
    assert picture_confidence(conf, grey)[0] == pytest.approx(0.5)  # no colour anywhere: the plain mean


def test_export_adds_the_confidence_output_in_0_1(cls_model):
    session, contract = open_session(cls_model, device="cpu", threads=1)
    assert contract.confidence_output == CONFIDENCE_OUTPUT
    assert [o.name for o in session.get_outputs()] == ["ab", CONFIDENCE_OUTPUT]
    L = np.random.default_rng(0).uniform(0, 100, (2, 1, 64, 64)).astype(np.float32)
    ab, conf = infer_with_confidence(session, contract, L, pad_to=4)
    assert ab.shape == (2, 2, 64, 64) and conf.shape == (2, 1, 64, 64)
    assert 0.0 <= conf.min() and conf.max() <= 1.0 and conf.std() > 0
    np.testing.assert_array_equal(ab, infer(session, contract, L, pad_to=4))  # ab unchanged by fetching it

    from colored.model import confidence_map

    uniform = torch.zeros(1, 313, 2, 2)
    assert torch.allclose(confidence_map(uniform), torch.zeros(1, 1, 2, 2), atol=1e-6)
    peaked = torch.full((1, 313, 2, 2), -50.0)
    peaked[:, 7] = 50.0
    assert torch.allclose(confidence_map(peaked), torch.ones(1, 1, 2, 2), atol=1e-4)


def test_fp16_export_as_export_default_uses_keeps_the_output(tmp_path):
    """data/default-model/export_default.py calls export_model(..., fp16=True): the output is there."""
    from colored import bins
    from colored.architectures import build_model
    from colored.model import ModelConfig
    from export.onnx_export import export_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(image_size=64, backbone="test_efficientnet", backbone_size=64,
                                    train_backbone=True, head="classification")).eval()
    model.set_bins(torch.tensor(bins.bin_centers(), dtype=torch.float32))
    contract = export_model(model, tmp_path / "half.onnx", fp16=True)
    assert contract.confidence_output == CONFIDENCE_OUTPUT
    from export.verify import verify_onnx

    report = verify_onnx(model, tmp_path / "half.onnx", batch_sizes=(2,), render_sizes=())
    assert report["max_abs_confidence_diff"] is not None and report["max_abs_confidence_diff"] < 0.02
    session, _ = open_session(tmp_path / "half.onnx", device="cpu", threads=1)
    _, conf = infer_with_confidence(session, contract, np.full((1, 1, 64, 64), 50, np.float32))
    assert conf.dtype == np.float32 and 0.0 <= conf.min() <= conf.max() <= 1.0


def _archive(root: Path) -> Path:
    rng = np.random.default_rng(3)
    for i, name in enumerate(("a.png", "sub/b.png", "sub/c.jpg")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48 + 8 * i, 70), dtype=np.uint8)).save(root / name)
    return root


def _run(src: Path, out: Path, model: Path, *extra: str) -> tuple[dict, list[dict], list[dict]]:
    res = CliRunner().invoke(main, [str(src), str(out), "--model", str(model), "--no-progress", "--workers", "1",
                                    *extra])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "colored-report.json").read_text())
    with open(out / "colored-report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    manifest = [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]
    return report, rows, manifest


def test_batch_records_one_figure_per_picture(tmp_path, cls_model):
    src = _archive(tmp_path / "in")
    report, rows, manifest = _run(src, tmp_path / "out", cls_model, "--review")
    figures = {f["input"]: f["confidence"] for f in report["files"]}
    assert sorted(figures) == ["a.png", "sub/b.png", "sub/c.jpg"]
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in figures.values()), figures
    assert {r["input"]: float(r["confidence"]) for r in rows} == pytest.approx(figures, abs=1e-4)
    assert {m["input"]: m["confidence"] for m in manifest} == pytest.approx(figures, abs=1e-4)
    resumed, _, _ = _run(src, tmp_path / "out", cls_model)  # all "already done": the figures stay
    assert {f["input"]: f["confidence"] for f in resumed["files"]} == figures
    assert {f["status"] for f in resumed["files"]} == {"already done"}
    # The same picture gives the same figure whichever batch it lands in.
    again, _, _ = _run(src, tmp_path / "out2", cls_model, "--batch-size", "1")
    assert {f["input"]: f["confidence"] for f in again["files"]} == pytest.approx(figures, abs=1e-4)
    page = (tmp_path / "out/review/index.html").read_text()
    assert '"confidence":true' in page


def test_models_without_the_output_run_with_the_column_empty(tmp_path, cls_model):
    src = _archive(tmp_path / "in")
    old = without_confidence(cls_model, tmp_path / "old.onnx")
    for name, model in (("old", old), ("regression", tiny_model_path())):
        _, contract = open_session(model, device="cpu", threads=1)
        assert contract.confidence_output is None
        report, rows, manifest = _run(src, tmp_path / name, model)
        assert [f["confidence"] for f in report["files"]] == [None] * 3
        assert [r["confidence"] for r in rows] == [""] * 3 and "confidence" in rows[0]
        assert all("confidence" not in m for m in manifest)


def test_a_contract_that_promises_a_missing_output_is_refused(tmp_path, cls_model):
    broken = without_confidence(cls_model, tmp_path / "broken.onnx", keep_contract_key=True)
    with pytest.raises(SessionError, match="confidence output 'confidence', the graph has none"):
        open_session(broken, device="cpu", threads=1)
