"""ColorED from Python: ``colored.colorize(image)`` for one picture, ``colored.Colorizer`` for many.

Both run the batch runtime's own steps, not a copy of them: the picture is read as colored-batch
reads its file (batch.images: decode, or from_pixels / from_pil for pixels already in memory),
the network input is built by batch.colorize.model_input, the network runs through
batch.session.infer padded to colored-batch's batch size, and the colours are merged with the
full-resolution original by batch.colorize.merge at the settings batch.render.resolve checked.
So a picture colorized here has exactly the pixels colored-batch writes for its file
(tests/test_api.py compares them on the sample archive), and there is one colour pipeline to
keep right. The output is not written anywhere: the caller gets pixels back, of the kind it gave.

Reached through ``colored.__getattr__``, so ``import colored`` (and every base module under it)
stays free of onnxruntime, and nothing here needs torch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from batch import images, options
from batch.colorize import merge, model_input
from batch.render import render_size, resolve
from batch.confidence import picture_confidence
from batch.session import DEVICES, infer_with_confidence, open_session
from batch.settings import Settings
from colored.errors import ColoredError

__all__ = ["BATCH_SIZE", "Colorizer", "ColoredError", "ImageInput", "colorize"]

# colored-batch's --batch-size default. Every network call is padded to this many pictures
# (batch.session.infer: onnxruntime may pick other kernels for another batch shape, which can
# change output bytes), so a picture gets the same colours here as in a colored-batch run.
BATCH_SIZE = options.BATCH_SIZE
MAX_PIXELS = Settings().max_pixels  # colored-batch's --max-pixels default

ImageInput = Union[Image.Image, np.ndarray, str, os.PathLike]

_ARRAY = "image array"  # what an array is called in errors (it has no file name)


class Colorizer:
    """One opened model for many pictures: the onnxruntime session is created once (about a
    second for the default model) and reused by every call.

    ``model``: an exported ColorED ONNX file, or None for the model shipped with the package.
    ``device``: auto | cpu | cuda | tensorrt, as colored-batch's --device. ``render_size``,
    ``strength`` and ``temperature`` are colored-batch's --render-size, --strength and
    --temperature (None: the model's own), checked against the model here, once.
    ``batch_size``: pictures per network call (keep colored-batch's default for its exact pixels);
    ``threads``: onnxruntime's intra-op threads (None: all cores); ``max_pixels``: larger files
    are refused, as colored-batch refuses them.

    Raises ColoredError (one line naming the model and the reason) if the model cannot be opened
    or a setting is one it cannot run.
    """

    def __init__(
        self, model: str | os.PathLike | None = None, device: str = "auto", *, render_size: int | None = None,
        strength: float = 1.0, temperature: float | None = None, batch_size: int = BATCH_SIZE,
        threads: int | None = None, max_pixels: int = MAX_PIXELS,
    ) -> None:
        if device not in DEVICES:
            raise ColoredError(f"device {device!r}: not one of {', '.join(DEVICES)}")
        if model is not None and Path(model).is_dir():
            raise ColoredError(f"{model}: is a folder, not an ONNX model file")
        if batch_size < 1:
            raise ColoredError(f"batch_size {batch_size}: must be at least 1")
        self.session, self.contract = open_session(model, device, threads)  # SessionError is a ColoredError
        self.model = str(model) if model is not None else "the default model"
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.settings = self._settings(render_size, strength, temperature)

    def __call__(self, image: ImageInput) -> Image.Image | np.ndarray:
        """The colorized picture, of the kind given (see colored.colorize)."""
        return next(self._run([image], self.settings))

    def colorize_many(self, images: Iterable[ImageInput]) -> list[Image.Image | np.ndarray]:
        """Each picture colorized, in order, ``batch_size`` of them per network call; the same
        pixels as calling this Colorizer on each one. Pictures are read a batch at a time, so
        only the outputs accumulate."""
        return list(self._run(images, self.settings))

    def colorize_with_confidence(self, image: ImageInput) -> tuple[Image.Image | np.ndarray, float | None]:
        """The colorized picture and how sure the model was of its colours: the figure
        colored-batch records for it (0..1, higher is surer; see docs/batch.md), or None for a
        model without a confidence output."""
        return next(self._run([image], self.settings, with_confidence=True))

    def _settings(self, render_size: int | None, strength: float, temperature: float | None) -> Settings:
        """colored-batch's Settings for these render choices, resolved against the model (so that
        asking for the model's own values is the same as not asking, as in a batch run)."""
        try:
            wanted = Settings(render_size=render_size, strength=strength, temperature=temperature)
            return resolve(wanted, self.contract, self.model)
        except ValueError as e:
            raise ColoredError(_parameter_words(str(e))) from None

    def _run(self, pictures: Iterable[ImageInput], settings: Settings, with_confidence: bool = False) -> Iterator:
        """Read -> network input -> batched network call -> merge, ``batch_size`` pictures at a time;
        with_confidence: (picture, figure or None) pairs."""
        size = render_size(settings, self.contract)
        chunk: list[tuple[images.DecodedImage, str]] = []
        for picture in pictures:
            chunk.append(_take(picture, self.max_pixels))
            if len(chunk) == self.batch_size:
                yield from self._colorize_chunk(chunk, size, settings, with_confidence)
                chunk = []
        if chunk:
            yield from self._colorize_chunk(chunk, size, settings, with_confidence)

    def _colorize_chunk(self, chunk: list[tuple[images.DecodedImage, str]], size: int,
                        settings: Settings, with_confidence: bool = False) -> Iterator:
        L = np.stack([model_input(decoded, size) for decoded, _ in chunk])
        try:
            ab, conf = infer_with_confidence(self.session, self.contract, L, pad_to=self.batch_size,
                                             temperature=settings.temperature, confidence=with_confidence)
        except Exception as e:  # onnxruntime's own error types: one line naming the model
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ColoredError(f"{self.model}: the network failed ({first})") from e
        figures = [None] * len(chunk) if conf is None else [float(f) for f in picture_confidence(conf, ab)]
        for (decoded, kind), one, figure in zip(chunk, ab, figures):
            out = _give(merge(decoded, one, settings.strength), decoded, kind)
            yield (out, figure) if with_confidence else out


_shared: dict[str | None, Colorizer] = {}
_shared_lock = threading.Lock()


def _colorizer_for(model: str | os.PathLike | None) -> Colorizer:
    """The process's Colorizer for ``model``, opened at first use: colorize() called in a loop
    must not reload the network each time."""
    key = None if model is None else str(Path(model).resolve())
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Colorizer(model)
        return _shared[key]


def colorize(
    image: ImageInput, *, model: str | os.PathLike | None = None, render_size: int | None = None,
    strength: float = 1.0, temperature: float | None = None,
) -> Image.Image | np.ndarray:
    """One black-and-white picture colorized at full resolution: the pixels colored-batch writes
    for it.

    ``image``: a PIL image (returned: a PIL image, RGB or RGBA), a numpy array H x W (grey) or
    H x W x 3 (RGB) of uint8 or uint16 (returned: an H x W x 3 RGB array of the same dtype), or
    the path of an image file (returned: a PIL image). A PIL image or file with an EXIF
    orientation is turned upright first, as colored-batch does. Pillow has no 16-bit RGB mode,
    so a 16-bit file or PIL image comes back with 8 bits per channel; pass a uint16 array to
    keep 16 bits.
    ``model``: an exported ColorED ONNX file, None for the model shipped with the package; it is
    opened once per process and kept. ``render_size``, ``strength`` (0 grey .. 2) and
    ``temperature``: as colored-batch's options (None: the model's own).

    Raises ColoredError, one line naming the file (or "image array") and the reason, for a file
    that cannot be read, an array of another dtype or shape, or a setting the model cannot run.
    """
    c = _colorizer_for(model)
    return next(c._run([image], c._settings(render_size, strength, temperature)))


def _take(image: ImageInput, max_pixels: int) -> tuple[images.DecodedImage, str]:
    """The picture as colored-batch would read it, and the kind to give back ("pil", "array", "path")."""
    if isinstance(image, Image.Image):
        return images.from_pil(image), "pil"
    if isinstance(image, np.ndarray):
        return images.from_pixels(_ARRAY, _checked_array(image), format="array"), "array"
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if path.is_dir():
            raise ColoredError(f"{path}: is a folder, not an image file (colored-batch colorizes folders)")
        return images.decode(path, max_pixels=max_pixels), "path"  # ImageError: '<path>: <reason>'
    raise ColoredError(f"cannot colorize a {type(image).__name__}: pass a PIL image, a numpy array or a path")


def _checked_array(pixels: np.ndarray) -> np.ndarray:
    """The array if it is pixels the runtime reads (contiguous), else a ColoredError saying what it is."""
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ColoredError(f"{_ARRAY}: dtype {pixels.dtype} is not supported; pass uint8 (0..255) or "
                           "uint16 (0..65535) pixels")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ColoredError(f"{_ARRAY}: shape {pixels.shape} is not H x W (grey) or H x W x 3 (RGB)")
    if pixels.size == 0:
        raise ColoredError(f"{_ARRAY}: shape {pixels.shape} has no pixels")
    return np.ascontiguousarray(pixels)


def _give(rgb: np.ndarray, decoded: images.DecodedImage, kind: str) -> Image.Image | np.ndarray:
    """The merged RGB as the kind the caller gave: the array itself, or a PIL image (8 bits per
    channel, with the alpha and the ICC profile the output of colored-batch would carry)."""
    if kind == "array":
        return rgb
    pixels = rgb if decoded.alpha is None else np.dstack((rgb, decoded.alpha))
    if pixels.dtype == np.uint16:  # Pillow holds no 16-bit RGB: nearest 8-bit value
        pixels = ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    out = Image.fromarray(pixels, "RGB" if decoded.alpha is None else "RGBA")
    if decoded.icc_profile:
        out.info["icc_profile"] = decoded.icc_profile
    return out


def _parameter_words(message: str) -> str:
    """A Settings/resolve message in the words of this API ('strength 3: ...', not '--strength 3: ...')."""
    for option in ("render-size", "strength", "temperature"):
        message = message.replace(f"--{option} ", f"{option.replace('-', '_')} ")
    return message
