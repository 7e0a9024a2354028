"""Open a ColorED ONNX model with onnxruntime: model lookup, provider choice, contract check.

onnxruntime quietly falls back to the CPU when a GPU provider cannot start (missing
CUDA libraries, wrong driver); users then wait hours without a word. So the
providers a session really got are read back with ``get_providers()`` and an
explicit ``device="cuda"``/``"tensorrt"`` that did not come up is an error.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort

from colored.contract import ContractError, ModelContract
from colored.errors import ColoredError

log = logging.getLogger("colored.batch")

DEFAULT_MODEL_RESOURCE = ("colored", "assets/colored-default.onnx")
DEVICES = ("auto", "cpu", "cuda", "tensorrt")
_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_WANTED = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


class SessionError(ColoredError, RuntimeError):
    """The model could not be opened as asked; the message says why and what to do."""


def default_model_path() -> Path | None:
    """The model shipped inside the package, or None when this install has none."""
    package, name = DEFAULT_MODEL_RESOURCE
    try:
        ref = resources.files(package).joinpath(name)
    except ModuleNotFoundError:
        return None
    return Path(str(ref)) if ref.is_file() else None


def choose_providers(device: str, available: list[str] | None = None) -> list[str]:
    """Providers to ask for, best first: TensorRT > CUDA > CPU among those installed."""
    available = list(ort.get_available_providers() if available is None else available)
    if device not in DEVICES:
        raise SessionError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        return [p for p in _PREFERENCE if p in available] or ["CPUExecutionProvider"]
    wanted = _WANTED[device]
    if wanted not in available:
        raise SessionError(
            f"--device {device}: onnxruntime here has no {wanted} (available: {', '.join(available)}). "
            "Install the onnxruntime-gpu package (and only it) for CUDA/TensorRT, or use --device cpu."
        )
    # Keep the CPU as a fallback for the few operators a GPU provider may not cover.
    return [wanted] + (["CPUExecutionProvider"] if wanted != "CPUExecutionProvider" else [])


def cache_dir() -> Path:
    """Where engines built for this machine are kept: $COLORED_CACHE_DIR, else the XDG cache."""
    if os.environ.get("COLORED_CACHE_DIR"):
        return Path(os.environ["COLORED_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colored"


def provider_options(providers: list[str]) -> list[str | tuple[str, dict]]:
    """The providers as onnxruntime takes them, with options where the defaults hurt.

    TensorRT builds an engine for the model before the first batch, which takes minutes;
    without a cache it would do so at every start. The cache is keyed by model and GPU,
    and since every batch is padded to one shape (see infer), one engine serves a whole
    run. fp16 lets TensorRT use the tensor cores (the exported fp16 models are fp16 already).
    """
    out: list[str | tuple[str, dict]] = []
    for name in providers:
        if name == "TensorrtExecutionProvider":
            cache = cache_dir() / "tensorrt"
            cache.mkdir(parents=True, exist_ok=True)
            out.append((name, {
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": True,
                "trt_timing_cache_path": str(cache),  # default: the working directory
                "trt_fp16_enable": True,
            }))
        else:
            out.append(name)
    return out


def open_session(
    model_path: str | Path | None, device: str = "auto", threads: int | None = None
) -> tuple[ort.InferenceSession, ModelContract]:
    """An inference session and the model's contract; raises SessionError with a clear message."""
    path = Path(model_path) if model_path is not None else default_model_path()
    if path is None:
        raise SessionError(
            "no default model in this install (colored/assets/colored-default.onnx is missing): "
            "pass --model MODEL.onnx (export one with `colored-export CHECKPOINT`)"
        )
    if not path.is_file():
        raise SessionError(f"{path}: no such model file")
    providers = choose_providers(device)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1  # the graph is a chain; parallelism is within operators
    # Idle onnxruntime threads spin by default, burning the cores that the decode and
    # encode workers need between batches. Measured on 2 cores: 8 % less CPU per image.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Not onnxruntime's load-time warning that the optional input "T" has a default value (an
    # initializer of the same name, which is how ONNX spells "optional"): it is by design, and
    # the provider that really started is checked below, not left to a warning.
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=provider_options(providers))
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SessionError(f"{path}: not a loadable ONNX model ({first})") from None

    try:
        contract = ModelContract.from_metadata(session.get_modelmeta().custom_metadata_map, source=str(path))
    except ContractError as e:
        raise SessionError(str(e)) from None
    _check_signature(session, contract, path)

    got = session.get_providers()
    if device != "auto" and got[0] != providers[0]:
        raise SessionError(
            f"--device {device}: onnxruntime did not start {providers[0]} (the session runs on {', '.join(got)}); "
            "check the CUDA/cuDNN/TensorRT libraries and driver, or use --device cpu"
        )
    if device == "auto" and got[0] != providers[0]:
        log.warning("%s could not start; running on %s", providers[0], got[0])
    log.info(
        "model %s (id %s, render sizes %s, %s) on %s",
        path.name, contract.model_id, contract.describe_sizes(), contract.precision, ", ".join(got),
    )
    return session, contract


def _check_signature(session: ort.InferenceSession, contract: ModelContract, path: Path) -> None:
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if contract.input_name not in inputs or contract.output_name not in outputs:
        raise SessionError(
            f"{path}: graph does not match its contract (expects input {contract.input_name!r} "
            f"and output {contract.output_name!r}, has {sorted(inputs)} -> {sorted(outputs)})"
        )
    shape = inputs[contract.input_name].shape
    size = contract.input_size
    if len(shape) != 4 or any(isinstance(d, int) and d != want for d, want in zip(shape[1:], (1, size, size))):
        raise SessionError(f"{path}: input {contract.input_name!r} has shape {shape}, contract says (N, 1, {size}, {size})")
    if contract.dynamic_size and any(isinstance(d, int) for d in shape[2:]):
        raise SessionError(f"{path}: input {contract.input_name!r} has the fixed shape {shape}, "
                           f"the contract promises render sizes {contract.describe_sizes()}")
    overridable = {i.name for i in session.get_overridable_initializers()}
    if contract.temperature_input and contract.temperature_input not in overridable | set(inputs):
        raise SessionError(f"{path}: the contract names a temperature input {contract.temperature_input!r}, "
                           "the graph has none")
    # Checked now, not file by file: an input without a default fails every batch, and an output
    # of another shape gives wrong pictures without an error.
    required = sorted(set(inputs) - {contract.input_name})
    if required:
        raise SessionError(f"{path}: the graph requires the input{'s' if len(required) > 1 else ''} "
                           f"{', '.join(map(repr, required))} with no default value; a ColorED model takes only "
                           f"{contract.input_name!r} (others need an initializer of the same name)")
    if contract.confidence_output and contract.confidence_output not in outputs:
        raise SessionError(f"{path}: the contract names a confidence output {contract.confidence_output!r}, "
                           f"the graph has none (outputs {sorted(outputs)})")
    output = next(o for o in session.get_outputs() if o.name == contract.output_name)
    if not _output_fits(output.shape, size, contract.dynamic_size):
        raise SessionError(f"{path}: output {contract.output_name!r} has shape {output.shape}, the contract says "
                           f"(N, 2, S, S) with S the input's size")


def _output_fits(shape, size: int, dynamic: bool) -> bool:
    """Whether a declared output shape can be (N, 2, S, S); symbolic dimensions can."""
    if shape is None:
        return True  # nothing declared: the first batch will tell
    if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 2):
        return False
    fixed = [d for d in shape[2:] if isinstance(d, int)]
    return not (fixed and (dynamic or any(d != size for d in fixed)))


def input_dtype(session: ort.InferenceSession, contract: ModelContract) -> np.dtype:
    """float16 for a graph exported with fp16 inputs, else float32."""
    for i in session.get_inputs():
        if i.name == contract.input_name:
            return np.dtype(np.float16) if i.type == "tensor(float16)" else np.dtype(np.float32)
    return np.dtype(np.float32)


def infer(
    session: ort.InferenceSession, contract: ModelContract, L: np.ndarray, pad_to: int | None = None,
    temperature: float | None = None,
) -> np.ndarray:
    """(N, 1, S, S) L in [0, 100] -> (N, 2, S, S) float32 ab, one onnxruntime call.

    S is the contract's input size or, for a model with render sizes, any size it accepts.
    ``temperature`` feeds the optional input "T" (None: the model's own default, not fed).

    With ``pad_to``, a short batch is padded with zeros to that size and the padding's
    output dropped. onnxruntime picks kernels by input shape, and for some graphs a
    batch of one takes another path (measured: the default fp16 model's ab differs by
    up to 2.5e-5 between N=1 and N>=2, enough to flip output bytes). A fixed shape
    makes a file's output independent of which batch it happened to land in.
    """
    return infer_with_confidence(session, contract, L, pad_to, temperature, confidence=False)[0]


def infer_with_confidence(
    session: ort.InferenceSession, contract: ModelContract, L: np.ndarray, pad_to: int | None = None,
    temperature: float | None = None, confidence: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """infer(), and the model's per-pixel confidence (N, 1, S, S) in [0, 1] from the same call when
    its contract names a confidence output and ``confidence`` (else None). Fetching it costs a
    copy of N x S x S floats: the graph computes it from logits it holds anyway."""
    n = len(L)
    batch = np.ascontiguousarray(L, dtype=input_dtype(session, contract))
    if pad_to is not None and n < pad_to:
        batch = np.concatenate([batch, np.zeros((pad_to - n, *batch.shape[1:]), batch.dtype)])
    feed = {contract.input_name: batch}
    if temperature is not None:
        if not contract.temperature_input:
            raise ValueError("this model has no temperature input")
        feed[contract.temperature_input] = np.array(temperature, dtype=np.float32)
    names = [contract.output_name]
    if confidence and contract.confidence_output:
        names.append(contract.confidence_output)
    got = session.run(names, feed)
    ab = np.asarray(got[0][:n], dtype=np.float32)
    return ab, (np.asarray(got[1][:n], dtype=np.float32) if len(got) > 1 else None)
