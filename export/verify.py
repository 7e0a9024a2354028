"""Check an exported ONNX file: onnx.checker, the contract, and onnxruntime vs PyTorch on real photos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from PIL import Image

from colored.color import rgb_to_lightness
from colored.contract import ModelContract
from colored.model import FusionNet

# Largest acceptable max |ab| difference vs PyTorch (Lab units). fp32 is the bound;
# fp16 weights lose ~3 decimal digits, which the network can amplify, so it gets a looser one.
TOLERANCE = {"fp32": 0.5, "fp16": 2.0}

# Render sizes checked besides the trained one (those within the contract's range): the
# issue's 128, 256 and 512 span a 4x range of what the network sees.
VERIFY_SIZES = (128, 256, 512)
VERIFY_TEMPERATURE = 1.0  # a second annealed-mean T fed through the optional input "T"

# Bundled with scikit-image (no download): photos with skin, sky, fur, metal, food, people.
SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")


class VerificationError(RuntimeError):
    """The exported file is malformed or disagrees with the PyTorch model."""


def sample_photos() -> list[np.ndarray]:
    import skimage.data

    return [getattr(skimage.data, name)() for name in SAMPLE_PHOTOS]


def lightness_at(image: np.ndarray, size: int) -> np.ndarray:
    """RGB/grey image (uint8 or float in [0,1]) -> L in [0,100], float32 (1, size, size), as a runtime would feed it."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.dtype.kind in "ui":
        img = img.astype(np.float32) / np.iinfo(img.dtype).max
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3:
        L = rgb_to_lightness(img)
    else:  # grey: the value is sRGB-encoded luminance, same as an R=G=B image
        L = rgb_to_lightness(np.repeat(img[..., None], 3, axis=-1))
    L = np.asarray(Image.fromarray(L.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))
    return L.clip(0.0, 100.0)[None].astype(np.float32)


def session(onnx_path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.log_severity_level = 3  # not the warning that the input "T" has a default (an initializer): by design
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def read_contract(onnx_path: str | Path) -> ModelContract:
    meta = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    return ModelContract.from_metadata(meta, source=str(onnx_path))


def verify_onnx(
    model: FusionNet,
    onnx_path: str | Path,
    images: Sequence[np.ndarray] | None = None,
    batch_sizes: Sequence[int] = (1, 2, 3),
    render_sizes: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Full onnx.checker pass, contract check, then ORT vs `model.predict_ab` at each batch size
    (at the trained size), at each render size (batch 2; default VERIFY_SIZES within the contract's
    range) and, when the graph has the temperature input, at T = VERIFY_TEMPERATURE.

    Returns {"checker": "ok", "model_id", "precision", "max_abs_ab_diff", "per_batch": {b: diff},
    "per_size": {S: diff}, "per_temperature": {T: diff}, "tolerance"}.
    Raises VerificationError on a malformed file, a contract that does not match the model, or wrong
    output shapes. Whether the difference is acceptable is the caller's call (see TOLERANCE).
    ``progress`` is told each step as it starts.
    """
    step = progress or (lambda what: None)
    onnx_path = Path(onnx_path)
    step("verify: onnx.checker full check")
    try:
        # The path form lets the checker handle files of any size.
        onnx.checker.check_model(str(onnx_path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise VerificationError(f"{onnx_path}: onnx.checker: {str(e).splitlines()[0]}") from e
    sess = session(onnx_path)
    # The contract from the session's metadata: the file is already parsed once by the checker
    # and once by onnxruntime, a third onnx.load of a 250 MB model buys nothing.
    contract = ModelContract.from_metadata(sess.get_modelmeta().custom_metadata_map, source=str(onnx_path))
    size = model.config.image_size
    if contract.input_size != size:
        raise VerificationError(f"{onnx_path}: contract input size {contract.input_size} != model's {size}")

    photos = list(images) if images is not None else sample_photos()
    if render_sizes is None:
        render_sizes = [n for n in VERIFY_SIZES if n != size and contract.render_size_error(n) is None]
    elif contract.render_sizes is None and any(n != size for n in render_sizes):
        raise VerificationError(f"{onnx_path}: a fixed-size model ({size}) cannot be checked at {list(render_sizes)}")
    was_training = model.training
    model.eval()
    per_batch: dict[int, float] = {}
    per_size: dict[int, float] = {}
    per_temperature: dict[float, float] = {}
    try:
        L_all = np.stack([lightness_at(p, size) for p in photos])
        for b in batch_sizes:
            step(f"verify: onnxruntime vs PyTorch, batch {b} at {size} px")
            # Cycle through the photos so every batch size sees real, different images.
            per_batch[b] = _compare(model, sess, contract, L_all[[(b + i) % len(L_all) for i in range(b)]], onnx_path)
        for n in render_sizes:
            step(f"verify: onnxruntime vs PyTorch, render size {n}")
            L = np.stack([lightness_at(p, n) for p in photos[:2]])
            per_size[n] = _compare(model, sess, contract, L, onnx_path)
        confidence_diff = None
        if contract.confidence_output:
            step("verify: the confidence output against PyTorch")
            confidence_diff = _compare_confidence(model, sess, contract, L_all[:2], onnx_path)
        if contract.temperature_input:
            t = VERIFY_TEMPERATURE
            step(f"verify: onnxruntime vs PyTorch, T = {t:g}")
            per_temperature[t] = _compare(model, sess, contract, L_all[:2], onnx_path, temperature=t)
    finally:
        model.train(was_training)
    return {
        "checker": "ok",
        "model_id": contract.model_id,
        "precision": contract.precision,
        "max_abs_ab_diff": max([*per_batch.values(), *per_size.values(), *per_temperature.values()]),
        "per_batch": per_batch,
        "per_size": per_size,
        "per_temperature": per_temperature,
        "max_abs_confidence_diff": confidence_diff,
        "tolerance": TOLERANCE.get(contract.precision, TOLERANCE["fp32"]),
    }


CONFIDENCE_TOLERANCE = 0.02  # per-pixel confidence is in [0, 1]; fp16 logits move it by ~1e-3


def _compare_confidence(model: FusionNet, sess: ort.InferenceSession, contract: ModelContract,
                        L: np.ndarray, onnx_path: Path) -> float:
    """max |confidence| of onnxruntime vs PyTorch; VerificationError when out of [0, 1] or too far off."""
    (got,) = sess.run([contract.confidence_output], {contract.input_name: L})
    b, _, h, w = L.shape
    if got.shape != (b, 1, h, w) or not np.isfinite(got).all() or got.min() < 0 or got.max() > 1:
        raise VerificationError(f"{onnx_path}: confidence output {got.dtype}{got.shape} is not (N, 1, S, S) in [0, 1]")
    with torch.no_grad():
        ref = model.predict_ab_confidence(torch.from_numpy(L))[1].numpy()
    diff = float(np.abs(got - ref).max())
    if diff > CONFIDENCE_TOLERANCE:
        raise VerificationError(f"{onnx_path}: confidence differs from PyTorch by {diff:.4f} "
                                f"(tolerance {CONFIDENCE_TOLERANCE})")
    return diff


def _compare(model: FusionNet, sess: ort.InferenceSession, contract: ModelContract, L: np.ndarray,
             onnx_path: Path, temperature: float | None = None) -> float:
    """max |ab| of onnxruntime vs PyTorch on one batch; VerificationError for a wrong shape or NaN."""
    feed = {contract.input_name: L}
    if temperature is not None:
        feed[contract.temperature_input] = np.array(temperature, dtype=np.float32)
    (got,) = sess.run([contract.output_name], feed)
    b, _, h, w = L.shape
    where = f"{onnx_path}: batch {b} at {h}x{w}" + ("" if temperature is None else f", T={temperature:g}")
    if got.shape != (b, 2, h, w) or got.dtype != np.float32:
        raise VerificationError(f"{where}: output {got.dtype}{got.shape}, expected float32{(b, 2, h, w)}")
    if not np.isfinite(got).all():
        raise VerificationError(f"{where}: non-finite ab values")
    with torch.no_grad():
        ref = model.predict_ab(torch.from_numpy(L), temperature).numpy()
    return float(np.abs(got - ref).max())
