"""ColorizationNet -> ONE self-contained .onnx file with the model contract as metadata.

The graph is `ColorizationNet.predict_ab`: L in [0, 100] (N,1,S,S) -> ab in Lab
units (N,2,S,S), batch axis dynamic. Everything model-specific (grey copy at the
backbone's size, its normalisation, fusion, decoder, tanh*128 or the annealed-mean
decode) is inside, so a runtime needs only decode, resize and colour conversion.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from colored.atomic import atomic_path
from colored.checkpoint import config_hash, load_model
from colored.contract import INPUT_NAME, OUTPUT_NAME, ModelContract
from colored.model import ColorizationNet

DEFAULT_OPSET = 18
MIN_OPSET = 18  # the torch.export-based exporter emits 18; converting down fails on ops whose axes are inputs
EXAMPLE_BATCH = 2  # a batch of 1 would let torch.export specialise the batch axis to a constant


class _PredictAB(nn.Module):
    """The exported entry point: torch.onnx.export traces `forward`, and ours is the training output."""

    def __init__(self, model: ColorizationNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, L: torch.Tensor) -> torch.Tensor:  # noqa: N803 - the graph input is named "L"
        return self.model.predict_ab(L)


def weights_digest(model: nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes, bytes) in a fixed order: identifies trained weights."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def make_contract(model: ColorizationNet, train_config: dict | None = None, precision: str = "fp32") -> ModelContract:
    """The contract for this model: model_id = <backbone>-<head>-<config hash>-<weights sha256[:12]>[-fp16]."""
    cfg = model.config.to_dict()
    chash = config_hash(cfg, train_config)
    model_id = f"{model.config.backbone}-{model.config.head}-{chash}-{weights_digest(model)[:12]}"
    if precision != "fp32":
        # Same weights, different numbers out: a runtime keying results on model_id must tell them apart.
        model_id += f"-{precision}"
    return ModelContract(
        input_size=model.config.image_size,
        model_id=model_id,
        config_hash=chash,
        precision=precision,
        model_config=cfg,
        train_config=dict(train_config or {}),
    )


def to_onnx_proto(model: ColorizationNet, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Export `predict_ab` (eval mode) with a dynamic batch axis; the caller's train/eval mode is restored."""
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is not supported: the exporter needs opset >= {MIN_OPSET} (onnxruntime >= 1.14 runs it)")
    size = model.config.image_size
    example = torch.rand(EXAMPLE_BATCH, 1, size, size, generator=torch.Generator().manual_seed(0)) * 100.0
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # torch.export's advisory chatter; real failures raise
            program = torch.onnx.export(
                _PredictAB(model).eval(),
                (example,),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes={"L": {0: torch.export.Dim("batch", min=1)}},
                opset_version=opset,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    finally:
        model.train(was_training)
    proto = program.model_proto
    got = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if got != opset:
        raise ValueError(f"asked for opset {opset}, the exporter produced opset {got}")
    return proto


def write_onnx(proto: onnx.ModelProto, out_path: str | Path) -> Path:
    """Save as one file (weights embedded, no side .data) atomically: temp file in the same dir + rename."""
    with atomic_path(out_path) as tmp:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
    return Path(out_path)


def export_model(
    model: ColorizationNet,
    out_path: str | Path,
    *,
    train_config: dict | None = None,
    opset: int = DEFAULT_OPSET,
    fp16: bool = False,
) -> ModelContract:
    """Write `model` as ONE .onnx file (atomically) with its contract in metadata_props; returns the contract."""
    proto = to_onnx_proto(model, opset)
    precision = "fp32"
    if fp16:
        from export.fp16 import to_fp16

        proto = to_fp16(proto)
        precision = "fp16"
    contract = make_contract(model, train_config, precision)
    onnx.helper.set_model_props(proto, contract.to_metadata())
    proto.doc_string = f"ColorED colorization model {contract.model_id}: L in [0,100] -> ab (Lab units)"
    write_onnx(proto, out_path)
    return contract


def export_checkpoint(
    checkpoint: str | Path, out_path: str | Path | None = None, **kw
) -> tuple[Path, ModelContract]:
    """Export a training checkpoint; `out_path` defaults to the checkpoint's path with a .onnx suffix.

    Raises colored.checkpoint.CheckpointError for a missing, corrupt or incompatible checkpoint.
    Keyword arguments go to `export_model`; the checkpoint's "train_config" is used unless given.
    """
    checkpoint = Path(checkpoint)
    model, ckpt = load_model(checkpoint)
    out = Path(out_path) if out_path is not None else checkpoint.with_suffix(".onnx")
    kw.setdefault("train_config", ckpt.get("train_config"))
    contract = export_model(model, out, **kw)
    return out, contract
