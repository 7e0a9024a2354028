"""A colored.model.FusionNet (any architecture) -> ONE self-contained .onnx file with the model contract as metadata.

The graph is `FusionNet.predict_ab`: L in [0, 100] (N,1,S,S) -> ab in Lab
units (N,2,S,S), batch axis dynamic, and S dynamic too (any multiple of the
architecture's size step within RENDER_RANGE, recorded in the contract), so a
runtime can choose the render size. A classification head also gets an optional
scalar input "T" (the annealed-mean temperature) whose default is an initializer
of the same name: runtimes that do not feed it get the model's own T. Everything model-specific (grey copy at the
backbone's size, its normalisation, fusion, decoder, tanh*128 or the annealed-mean
decode) is inside, so a runtime needs only decode, resize and colour conversion.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import torch
from torch import nn

from colored.atomic import atomic_path
from colored.checkpoint import config_hash, load_model
from colored.contract import CONFIDENCE_OUTPUT, INPUT_NAME, OUTPUT_NAME, TEMPERATURE_INPUT, ModelContract
from colored.model import FusionNet

DEFAULT_OPSET = 18
MIN_OPSET = 18  # the torch.export-based exporter emits 18; converting down fails on ops whose axes are inputs
EXAMPLE_BATCH = 2  # a batch of 1 would let torch.export specialise the batch axis to a constant
# Render sizes a dynamic export accepts (widened to include the trained size): small sizes give
# DeOldify-like stable, saturated colour, large ones follow detail; beyond 1024 a 256-trained
# network sees objects four times larger than in training.
RENDER_RANGE = (128, 1024)


class _PredictAB(nn.Module):
    """The exported entry point: torch.onnx.export traces `forward`, and ours is the training output."""

    def __init__(self, model: FusionNet, confidence: bool = False) -> None:
        super().__init__()
        self.model = model
        self.confidence = confidence

    def forward(self, L: torch.Tensor, T: torch.Tensor | None = None):  # noqa: N803 - graph input names
        if self.confidence:
            return self.model.predict_ab_confidence(L, T)
        return self.model.predict_ab(L, T)


def has_temperature(model: FusionNet) -> bool:
    """Classification heads decode with an annealed-mean T, which the graph exposes as input "T"."""
    return model.config.head == "classification"


def has_confidence(model: FusionNet, dynamic: bool = True) -> bool:
    """Whether the export gets the optional "confidence" output: classification heads (a distribution
    to measure) of the current contract (dynamic); fixed-size files stay as older runtimes know them."""
    return dynamic and model.config.head == "classification"


def render_sizes(model: FusionNet) -> tuple[int, int, int]:
    """(min, max, step) of the input sizes a dynamic export accepts: multiples of the architecture's step."""
    step, size = model.size_step, model.config.image_size
    lo, hi = min(RENDER_RANGE[0], size), max(RENDER_RANGE[1], size)
    return -(-lo // step) * step, hi // step * step, step


def weights_digest(model: nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes, bytes) in a fixed order: identifies trained weights."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def make_contract(
    model: FusionNet, train_config: dict | None = None, precision: str = "fp32", dynamic: bool = True
) -> ModelContract:
    """The contract for this model: model_id = <backbone>-<head>-<config hash>-<weights sha256[:12]>[-fp16].

    `dynamic`: the graph was exported with a dynamic size (render sizes and T recorded), as to_onnx_proto does.
    """
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
        render_sizes=render_sizes(model) if dynamic else None,
        temperature=float(model.config.temperature) if dynamic and has_temperature(model) else None,
        temperature_input=TEMPERATURE_INPUT if dynamic and has_temperature(model) else None,
        confidence_output=CONFIDENCE_OUTPUT if has_confidence(model, dynamic) else None,
    )


def to_onnx_proto(model: FusionNet, opset: int = DEFAULT_OPSET, dynamic: bool = True) -> onnx.ModelProto:
    """Export `predict_ab` (eval mode) with a dynamic batch axis; the caller's train/eval mode is restored.

    `dynamic` (default): the spatial size is dynamic too (a multiple of the size step, see render_sizes),
    and a classification head gets the optional input "T" and the second output "confidence"
    (has_confidence: per pixel, from the same logits as ab). `dynamic=False` gives the fixed-size graph of
    contract files from before render sizes (the input size is the model's image_size).
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} is not supported: the exporter needs opset >= {MIN_OPSET} (onnxruntime >= 1.14 runs it)")
    size = model.config.image_size
    example = torch.rand(EXAMPLE_BATCH, 1, size, size, generator=torch.Generator().manual_seed(0)) * 100.0
    args, names = (example,), [INPUT_NAME]
    shapes: dict = {INPUT_NAME: {0: torch.export.Dim("batch", min=1)}}
    if dynamic:
        lo, hi, step = render_sizes(model)
        # A multiple of the step by construction: the stride arithmetic (TF "same" padding in timm's
        # Conv2dSame, the U-Net's upsampling to skip sizes) then simplifies instead of pinning S.
        k = torch.export.Dim("k", min=lo // step, max=hi // step)
        shapes[INPUT_NAME].update({2: step * k, 3: step * k})
        if has_temperature(model):
            args, names = (example, torch.tensor(float(model.config.temperature))), [INPUT_NAME, TEMPERATURE_INPUT]
            shapes[TEMPERATURE_INPUT] = {}
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # torch.export's advisory chatter; real failures raise
            confidence = has_confidence(model, dynamic)
            program = torch.onnx.export(
                _PredictAB(model, confidence).eval(),
                args,
                input_names=names,
                output_names=[OUTPUT_NAME, CONFIDENCE_OUTPUT] if confidence else [OUTPUT_NAME],
                dynamic_shapes=shapes,
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
    if len(names) > 1:
        # An initializer with the name of a graph input is that input's default (ONNX IR >= 4):
        # onnxruntime then lists "T" among the overridable initializers, and feeding it is optional.
        default = np.array(model.config.temperature, dtype=np.float32)
        proto.graph.initializer.append(onnx.numpy_helper.from_array(default, TEMPERATURE_INPUT))
    return proto


def write_onnx(proto: onnx.ModelProto, out_path: str | Path) -> Path:
    """Save as one file (weights embedded, no side .data) atomically: temp file in the same dir + rename."""
    with atomic_path(out_path) as tmp:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
    return Path(out_path)


def export_model(
    model: FusionNet,
    out_path: str | Path,
    *,
    train_config: dict | None = None,
    opset: int = DEFAULT_OPSET,
    fp16: bool = False,
    dynamic: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ModelContract:
    """Write `model` as ONE .onnx file (atomically) with its contract in metadata_props; returns the contract.

    The default is the current contract (render sizes, optional "T"); `dynamic=False` writes the
    fixed-size graph older runtimes and tests of the fixed-size path expect. ``progress`` is told
    each step as it starts (the trace alone takes minutes for large models on a CPU).
    """
    step = progress or (lambda what: None)
    step("trace the model and convert it to ONNX")
    proto = to_onnx_proto(model, opset, dynamic)
    precision = "fp32"
    if fp16:
        from export.fp16 import to_fp16

        step("convert the graph to fp16")
        proto = to_fp16(proto)
        precision = "fp16"
    contract = make_contract(model, train_config, precision, dynamic)
    onnx.helper.set_model_props(proto, contract.to_metadata())
    proto.doc_string = f"ColorED colorization model {contract.model_id}: L in [0,100] -> ab (Lab units)"
    step("write the file")
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
