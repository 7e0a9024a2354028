"""Decode and encode the runtime's image files, keeping bit depth, alpha and metadata.

Pillow parses every container and its metadata (lazily: the header is read
before any pixel is). Pixels come from OpenCV where Pillow cannot hold them
(16-bit RGB/RGBA, 16-bit gray+alpha) and for plain JPEGs, where cv2 decodes the
same bytes about 25 % faster; everything else is decoded by Pillow.
Outputs are written atomically (see `write_atomically`). torch-free.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from batch import file_notes
from batch import icc as icc_mod
from batch import metadata as md
from batch.out_of_space import OutputFull, out_of_space_error
from batch.stopwatch import stage
from colored.atomic import atomic_path
from colored.errors import ColoredError

# Truncated files are failures, never silently grey-bottomed pictures.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Pillow's bomb warning only ever precedes our own --max-pixels refusal (its limit is raised
# to ours, never lowered): as an error it becomes that file's failure instead of a stderr line.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".tif", ".tiff", ".webp", ".bmp", ".dib", ".gif",
     ".pbm", ".pgm", ".ppm", ".pnm"}
)
WRITABLE_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP")
ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")
WIDE_FORMATS = ("PNG", "TIFF")  # formats we write with 16 bits per channel
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}
_KEEP_AS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "WEBP": "WEBP", "BMP": "BMP"}

# is_color: a sampled pixel is chromatic when max(R,G,B) - min(R,G,B) exceeds
# this many 8-bit levels (JPEG chroma noise on a grey picture stays below ~6);
# the image is colour when more than COLOR_FRACTION of the samples are chromatic.
COLOR_TOLERANCE = 12
COLOR_FRACTION = 0.01
_COLOR_SAMPLES = 256 * 256

# PNG: zlib level 3 with the Up filter on every row. libpng's default tries all five
# filters per row; measured here on colorized photos (8 and 16 bit), Up alone was 30 %
# faster for files 1-5 % larger. Level 6 took 2.5x as long for ~7 % smaller files.
PNG_PARAMS = (cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP)
WEBP_MAX_SIDE = 16383
JPEG_MAX_SIDE = 65535


class ImageError(ColoredError):
    """A file that cannot be decoded or written; str() is '<path>: <reason>'."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass
class DecodedImage:
    path: Path
    pixels: np.ndarray  # HxW or HxWx3 (RGB), uint8/uint16, upright; may be read-only
    alpha: np.ndarray | None  # HxW, dtype of pixels
    bit_depth: int  # 8 or 16
    format: str  # Pillow's name of the source format
    exif: bytes | None  # 'Exif\0\0' + TIFF structure, Orientation reset to 1
    icc_profile: bytes | None
    xmp: bytes | None
    is_color: bool
    notes: list[str] = field(default_factory=list)
    frames: int = 1  # frames/pages in the source; only the first is decoded
    # L* of each grey code value under the file's ICC profile; None: sRGB's (batch.icc)
    lightness_lut: np.ndarray | None = None


# ---------------------------------------------------------------- decode


def decode(path: str | Path, max_pixels: int = 250_000_000) -> DecodedImage:
    """Read one image upright with its metadata, or raise ImageError saying why not.

    The pixel count is checked from the header before any pixel is decoded.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(path, "empty file (0 bytes)")
    except OSError as e:
        raise ImageError(path, f"cannot read file: {e.strerror or e}") from e
    _let_pillow_allow(max_pixels)
    notes: list[str] = []
    try:
        # a library's warnings while reading: this file's notes
        with stage("read + header"), file_notes.collecting(notes), Image.open(path) as im:
            return _decode_opened(path, im, max_pixels, notes)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(path, f"too many pixels: {e} {MAX_PIXELS_HINT}") from e
    except UnidentifiedImageError as e:
        raise ImageError(path, "not a supported image (unknown format or corrupt header)") from e
    except MemoryError as e:
        raise ImageError(path, "out of memory while decoding") from e
    except PermissionError as e:
        raise ImageError(path, "permission denied: file not readable") from e
    except (OSError, SyntaxError, EOFError) as e:
        raise ImageError(path, f"truncated or corrupt image data ({e})") from e
    except Exception as e:  # noqa: BLE001 - one bad file must never kill a run
        raise ImageError(path, f"cannot decode ({type(e).__name__}: {e})") from e


# What a user can do about a picture over the limit (colored-batch and colored-watch take the option).
MAX_PIXELS_HINT = "(raise --max-pixels to colorize it; memory grows with it)"


def _let_pillow_allow(max_pixels: int) -> None:
    """Make Pillow's own bomb check no stricter than ours (it is process-wide; only ever raised)."""
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _decode_opened(path: Path, im: Image.Image, max_pixels: int, notes: list[str]) -> DecodedImage:
    width, height = im.size
    if width * height > max_pixels:
        raise ImageError(
            path, f"too many pixels: {width}x{height} is {width * height / 1e6:.1f} MP, over the limit of "
                  f"{max_pixels / 1e6:.1f} MP {MAX_PIXELS_HINT}"
        )
    fmt = im.format or "UNKNOWN"
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        notes.append(f"first of {frames} frames used")

    wide = _needs_wide_decode(im, fmt)  # before getexif(): for PNG that decodes the pixels
    icc = im.info.get("icc_profile") or None
    if wide and fmt == "PNG":
        # eXIf/iTXt may follow IDAT; read them from the bytes instead of letting
        # Pillow decode (and squeeze to 8 bits) the whole picture to reach them.
        data = path.read_bytes()
        exif, xmp = md.png_exif_and_xmp(data)
        orientation = md.exif_orientation(exif) if exif else 1
    else:
        exif_obj = im.getexif()  # also folds an XMP-only orientation in
        orientation = exif_obj.get(md.ORIENTATION_TAG, 1)
        xmp = im.info.get("xmp") or None
        if fmt == "TIFF":
            exif = md.exif_from_tiff_directory(exif_obj)
        else:
            raw = im.info.get("exif")
            exif = md.with_exif_header(raw) if raw else None
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")

    with stage("decode"):
        if wide:
            pixels, alpha = _decode_with_cv2(path, im.mode, data if fmt == "PNG" else None)
            if fmt == "TIFF":
                orientation = 1  # OpenCV's TIFF reader already applied the Orientation tag
        elif fmt in ("JPEG", "MPO") and im.mode in ("L", "RGB"):
            pixels, alpha = _decode_with_cv2(path, im.mode)
        else:
            pixels, alpha, icc = _decode_with_pillow(path, im, icc, notes)
        if pixels.shape[:2] != (height, width) and orientation == 1:
            raise ImageError(path, f"decoder returned {pixels.shape[:2]}, header says {(height, width)}")

        if orientation not in (1, None):
            pixels = _orient(pixels, orientation)
            alpha = None if alpha is None else _orient(alpha, orientation)
            notes.append(f"EXIF orientation {orientation} applied")
    if exif:
        exif = md.reset_exif_orientation(exif)
    if xmp:
        xmp = md.reset_xmp_orientation(xmp)
    return from_pixels(path, pixels, alpha, format=fmt, exif=exif, icc_profile=icc, xmp=xmp, notes=notes,
                       frames=frames)


def from_pixels(
    path: str | Path, pixels: np.ndarray, alpha: np.ndarray | None = None, *, format: str = "array",
    exif: bytes | None = None, icc_profile: bytes | None = None, xmp: bytes | None = None,
    notes: list[str] | None = None, frames: int = 1,
) -> DecodedImage:
    """The DecodedImage of upright uint8/uint16 pixels (HxW grey or HxWx3 RGB) with their metadata:
    the last step of decode(), and the way pixels that did not come from a file (colored.colorize
    on an array or a PIL image) enter the same pipeline. The colour test and the ICC profile are
    applied here, so both routes read the same pixels the same way."""
    notes = [] if notes is None else notes
    with stage("colour management"):
        colour = is_color(pixels)
        pixels, lut, icc, icc_notes = icc_mod.apply_profile(pixels, colour, icc_profile)
    notes += icc_notes
    return DecodedImage(
        path=Path(path),
        pixels=pixels,
        alpha=alpha,
        bit_depth=16 if pixels.dtype == np.uint16 else 8,
        format=format,
        exif=exif,
        icc_profile=icc,
        xmp=xmp,
        is_color=colour,
        notes=notes,
        frames=frames,
        lightness_lut=lut,
    )


def from_pil(im: Image.Image, name: str = "<PIL image>") -> DecodedImage:
    """A PIL image as decode() would have read its file: turned upright by its EXIF orientation,
    any mode expanded to grey or RGB (+ alpha) by the same code, and its ICC profile applied.
    `name` stands for the file in notes and errors."""
    notes: list[str] = []
    try:
        if im.getexif().get(md.ORIENTATION_TAG, 1) not in (1, None):
            im = ImageOps.exif_transpose(im)
            notes.append("EXIF orientation applied")
        pixels, alpha, icc = _decode_with_pillow(Path(name), im, im.info.get("icc_profile") or None, notes)
    except ImageError:
        raise
    except Exception as e:  # noqa: BLE001 - e.g. a CIELAB image: one line, not a traceback
        raise ImageError(name, f"cannot take this image ({type(e).__name__}: {e})") from e
    return from_pixels(name, pixels, alpha, format=im.format or "PIL", icc_profile=icc, notes=notes)


def _needs_wide_decode(im: Image.Image, fmt: str) -> bool:
    """True where Pillow would squeeze >8-bit colour (or gray+alpha) samples into 8 bits."""
    if fmt not in ("PNG", "TIFF") or im.mode not in ("RGB", "RGBA", "LA"):
        return False
    if fmt == "TIFF":
        bits = im.tag_v2.get(258, (8,))  # type: ignore[attr-defined]
        return max(bits if isinstance(bits, tuple) else (bits,)) > 8
    rawmode = im.tile[0].args if im.tile else ""
    rawmode = rawmode[0] if isinstance(rawmode, tuple) else rawmode
    return ";16" in str(rawmode)


def _decode_with_cv2(
    path: Path, mode: str, data: bytes | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels as stored (any depth), RGB order, alpha split off. Reads the first page only."""
    buf = np.fromfile(path, dtype=np.uint8) if data is None else np.frombuffer(data, np.uint8)
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    del buf
    if arr is None or arr.size == 0:
        raise ImageError(path, "truncated or corrupt image data (OpenCV could not decode it)")
    if arr.dtype not in (np.uint8, np.uint16):
        return _narrow_samples(path, arr), None
    if arr.ndim == 2:
        return arr, None
    channels = arr.shape[2]
    if mode == "LA" or channels == 2:  # gray + alpha (OpenCV may expand it to BGRA)
        return np.ascontiguousarray(arr[..., 0]), np.ascontiguousarray(arr[..., -1])
    if channels == 4:
        alpha = np.ascontiguousarray(arr[..., 3])
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB), alpha
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB, dst=arr), None


def _decode_with_pillow(
    path: Path, im: Image.Image, icc: bytes | None, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """Pixels of any Pillow mode as uint8/uint16 gray or RGB (+alpha). Returns the ICC to keep."""
    mode = im.mode
    if mode == "1":
        im = im.convert("L")
        notes.append("1-bit image expanded to 8-bit gray")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        notes.append("palette expanded to RGB" + ("A (transparency kept as alpha)" if has_alpha else ""))
    elif mode == "CMYK":
        if icc and md.icc_color_space(icc) == "CMYK":
            im = md.cmyk_to_srgb(im, icc)
            icc = md.srgb_profile()
            notes.append("CMYK converted to sRGB through the embedded ICC profile")
        else:
            im = im.convert("RGB")
            icc = None
            notes.append("CMYK converted to RGB (no CMYK ICC profile: approximate colours)")
    elif mode in ("La", "RGBa"):
        im = im.convert(mode.upper())
    elif mode in ("RGBX", "YCbCr", "HSV"):
        im = im.convert("RGB")
        notes.append(f"{mode} converted to RGB")
    elif mode == "LAB":
        raise ValueError("CIELAB-encoded files are not supported; convert to RGB first")

    if im.mode in ("LA", "RGBA"):
        arr = np.asarray(im)
        return np.ascontiguousarray(arr[..., :-1].squeeze(-1) if im.mode == "LA" else arr[..., :3]), \
            np.ascontiguousarray(arr[..., -1]), icc
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        return arr.astype(np.uint16, copy=False), None, icc  # native byte order
    if im.mode in ("I", "F"):
        notes.append(f"32-bit {'float' if im.mode == 'F' else 'integer'} samples stored as 16-bit")
        return _narrow_samples(path, arr), None, icc
    return arr, None, icc


def _narrow_samples(path: Path, arr: np.ndarray) -> np.ndarray:
    """32-bit int/float samples as uint16: ints that fit 0..65535 as-is, floats in [0, 1] scaled.

    Anything else has no unambiguous meaning as an image intensity, so it is refused.
    """
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ImageError(path, "floating-point samples contain NaN or infinity")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(path, f"floating-point samples span [{lo:g}, {hi:g}]; only [0, 1] is supported")
        return np.rint(arr * 65535.0).astype(np.uint16)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > 65535:
        raise ImageError(path, f"32-bit integer samples span [{lo}, {hi}]; only 0..65535 is supported")
    return arr.astype(np.uint16)


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (same convention as PIL.ImageOps.exif_transpose)."""
    if orientation == 2:
        return cv2.flip(arr, 1)
    if orientation == 3:
        return cv2.rotate(arr, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(arr, 0)
    if orientation == 5:
        return cv2.transpose(arr)
    if orientation == 6:
        return cv2.rotate(arr, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(arr), -1)
    if orientation == 8:
        return cv2.rotate(arr, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return arr  # 1 or an invalid value: leave the pixels as stored


def is_color(pixels: np.ndarray) -> bool:
    """Whether an RGB array holds real colour rather than grey stored as RGB.

    Looks at a strided sample of about 65k pixels, so its cost does not grow
    with the image. Toned prints (sepia, cyanotype) count as colour when their
    tint exceeds COLOR_TOLERANCE.
    """
    if pixels.ndim != 3:
        return False
    step = max(1, int(np.sqrt(pixels.shape[0] * pixels.shape[1] / _COLOR_SAMPLES)))
    sample = pixels[::step, ::step]
    if sample.dtype == np.uint16:
        sample = sample >> 8
    sample = sample.astype(np.int16)
    spread = sample.max(axis=2) - sample.min(axis=2)
    return bool((spread > COLOR_TOLERANCE).mean() > COLOR_FRACTION)


# ---------------------------------------------------------------- encode


def output_format_for(source_format: str, requested: str) -> tuple[str, str]:
    """(Pillow format, extension) for an output; 'keep' falls back to PNG for formats we don't write."""
    req = requested.lower().lstrip(".")
    if req == "keep":
        fmt = _KEEP_AS.get(source_format.upper(), "PNG")
    else:
        fmt = _FORMAT_ALIASES.get(req.upper(), req.upper())
        if fmt not in WRITABLE_FORMATS:
            raise ValueError(f"unknown output format {requested!r}; use keep, jpg, png, tiff or webp")
    return fmt, _EXTENSIONS[fmt]


def encode(
    path: str | Path,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    xmp: bytes | None = None,
    format: str = "JPEG",
    quality: int = 95,
    bgr: bool = False,
) -> list[str]:
    """Write an RGB(A) image atomically with its metadata; returns notes on what was adapted.

    uint16 is kept for PNG and TIFF and reduced to 8 bits for the others. ``bgr``: the
    pixels are in OpenCV's channel order (see takes_bgr), which saves the OpenCV
    encoders a full-size conversion.
    """
    path = Path(path)
    fmt = _FORMAT_ALIASES.get(format.upper(), format.upper())
    if fmt not in WRITABLE_FORMATS:
        raise ImageError(path, f"cannot write format {format!r} (writable: {', '.join(WRITABLE_FORMATS)})")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype not in (np.uint8, np.uint16):
        raise ImageError(path, f"expected HxWx3 uint8/uint16 pixels, got {rgb.shape} {rgb.dtype}")
    if alpha is not None and alpha.shape != rgb.shape[:2]:
        raise ImageError(path, f"alpha shape {alpha.shape} does not match pixels {rgb.shape[:2]}")
    max_side = {"WEBP": WEBP_MAX_SIDE, "JPEG": JPEG_MAX_SIDE}.get(fmt)
    if max_side and max(rgb.shape[:2]) > max_side:
        raise ImageError(path, f"{fmt} cannot store an image wider or taller than {max_side} pixels")

    notes: list[str] = []
    if alpha is not None and fmt not in ALPHA_FORMATS:
        notes.append(f"alpha dropped: {fmt} has no alpha channel")
        alpha = None
    if rgb.dtype == np.uint16 and fmt not in WIDE_FORMATS:
        notes.append(f"16-bit reduced to 8-bit: {fmt} stores 8 bits per channel")
        rgb = _to_8bit(rgb)
    if alpha is not None and alpha.dtype != rgb.dtype:
        alpha = _to_8bit(alpha) if rgb.dtype == np.uint8 else alpha.astype(np.uint16) * 257
    if icc_profile and md.icc_color_space(icc_profile) != "RGB":
        notes.append(f"{md.icc_color_space(icc_profile) or 'unknown'} ICC profile replaced by sRGB for the RGB output")
        icc_profile = md.srgb_profile()
    if fmt == "BMP" and (exif or icc_profile or xmp):
        notes.append("metadata dropped: BMP cannot hold EXIF, ICC or XMP")
        exif = icc_profile = xmp = None
    if fmt == "JPEG":
        exif, xmp = _fit_jpeg_segments(exif, xmp, notes)

    try:
        with stage("write"), file_notes.collecting(notes):  # a library's warnings: this file's notes
            write_atomically(path, _writer(fmt, rgb, alpha, exif, icc_profile, xmp, quality, notes, bgr))
    except ImageError:
        raise
    except Exception as e:  # noqa: BLE001 - report the file, keep the run going
        if out_of_space_error(e):  # the disk's fault, not the file's: the run stops or pauses
            raise OutputFull(e, str(path)) from e
        raise ImageError(path, f"cannot write {fmt} ({type(e).__name__}: {e})") from e
    return notes


def _writer(
    fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, exif: bytes | None, icc: bytes | None,
    xmp: bytes | None, quality: int, notes: list[str], bgr: bool,
) -> Callable[[BinaryIO], object]:
    """What writes the file's bytes to an open file, for write_atomically. `rgb` is in BGR
    order when `bgr`."""
    if takes_bgr(fmt, alpha is not None):
        pixels = rgb if bgr else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        parts = _png_parts(pixels, exif, icc, xmp) if fmt == "PNG" else _jpeg_parts(pixels, exif, icc, xmp, quality)
        return lambda f: f.writelines(parts)
    if bgr:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB)
    if fmt == "PNG":  # with alpha
        parts = _png_parts(cv2.merge((rgb[..., 2], rgb[..., 1], rgb[..., 0], alpha)), exif, icc, xmp)
        return lambda f: f.writelines(parts)
    if fmt == "TIFF" and rgb.dtype == np.uint16:
        return lambda f: _write_tiff16(f, rgb, alpha, exif, icc, xmp, notes)
    return lambda f: _save_pillow(f, fmt, rgb, alpha, exif, icc, xmp, quality)


def _to_8bit(arr: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 with rounding (x / 257), in one pass without a float copy."""
    return cv2.convertScaleAbs(arr, alpha=1.0 / 257.0)


def _fit_jpeg_segments(exif: bytes | None, xmp: bytes | None, notes: list[str]) -> tuple[bytes | None, bytes | None]:
    """JPEG keeps EXIF and XMP in one 64 KB APP1 segment each; drop (with a note) what cannot fit."""
    if exif and len(md.with_exif_header(exif)) > 65533:
        notes.append("EXIF dropped: larger than a JPEG APP1 segment (64 KB)")
        exif = None
    if xmp and len(xmp) > 65504:
        notes.append("XMP dropped: larger than a JPEG APP1 segment (64 KB); extended XMP is not written")
        xmp = None
    return exif, xmp


def _save_pillow(
    f: BinaryIO, fmt: str, rgb: np.ndarray, alpha: np.ndarray | None,
    exif: bytes | None, icc: bytes | None, xmp: bytes | None, quality: int,
) -> None:
    im = Image.fromarray(rgb if alpha is None else np.dstack((rgb, alpha)))
    kwargs: dict[str, object] = {}
    if icc:
        kwargs["icc_profile"] = icc
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
        if exif:
            kwargs["exif"] = md.with_exif_header(exif)
        if xmp:
            kwargs["xmp"] = xmp
    elif fmt == "TIFF":  # uncompressed: libtiff's compressed writer cannot hold the Exif sub-IFD
        if exif or xmp:
            info = Image.Exif()
            if exif:
                info.load(md.with_exif_header(exif))
            if xmp:
                info[700] = xmp
            kwargs["tiffinfo"] = info
    with stage("encode"):
        im.save(f, format=fmt, **kwargs)


def takes_bgr(format: str, has_alpha: bool) -> bool:
    """Whether `encode` writes this output through OpenCV, which takes pixels in BGR order
    (JPEG, and PNG without alpha: OpenCV's encoders are the fastest here, see bench/README.md)."""
    fmt = _FORMAT_ALIASES.get(format.upper(), format.upper())
    return fmt == "JPEG" or (fmt == "PNG" and not has_alpha)


def _opencv_parts(ext: str, bgr: np.ndarray, params: list[int], offset: Callable, metadata: bytes) -> list:
    """`bgr` encoded by OpenCV (faster than Pillow) with `metadata` spliced in at `offset(data)`,
    as the pieces of the file in order (the encoder's buffer is not copied to splice them in)."""
    with stage("encode"):
        ok, buf = cv2.imencode(ext, bgr, params)
    if not ok:
        raise ValueError(f"OpenCV {ext} encoder failed")
    with stage("metadata out"):
        data = memoryview(buf).cast("B")
        at = offset(data)
        return [data[:at], metadata, data[at:]]


def _png_parts(bgr: np.ndarray, exif: bytes | None, icc: bytes | None, xmp: bytes | None) -> list:
    """PNG (8 or 16 bit, BGR or BGRA) with its metadata chunks after IHDR."""
    return _opencv_parts(".png", bgr, list(PNG_PARAMS), md.png_chunk_offset, md.png_metadata_chunks(exif, icc, xmp))


def _jpeg_parts(bgr: np.ndarray, exif: bytes | None, icc: bytes | None, xmp: bytes | None, quality: int) -> list:
    """JPEG by OpenCV's libjpeg-turbo with its EXIF/XMP/ICC segments after JFIF. Same encoder
    settings as Pillow's (4:2:0, integer DCT, no optimisation): the same pixels, for less CPU
    than going through a Pillow image."""
    return _opencv_parts(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality], md.jpeg_segment_offset,
                         md.jpeg_metadata_segments(exif, icc, xmp))


def _write_tiff16(
    f: BinaryIO, rgb: np.ndarray, alpha: np.ndarray | None,
    exif: bytes | None, icc: bytes | None, xmp: bytes | None, notes: list[str],
) -> None:
    """16-bit TIFF via tifffile; EXIF travels as its plain-text IFD0 tags (Make, Model, DateTime...)."""
    extratags: list[tuple[int, str, int, object, bool]] = []
    text = md.exif_ascii_tags(exif) if exif else {}
    # Description and Software go through tifffile's own arguments (as extratags it refuses
    # them with a warning); a description that is tifffile's JSON of the *input's* shape
    # would contradict the RGB output, so it is dropped.
    description, software = text.pop(270, None), text.pop(305, None)
    if description is not None and md.is_shape_description(description):
        notes.append("TIFF description of the input's array shape dropped (the output is RGB)")
        description = None
    if exif:
        extratags += [(tag, "s", 0, value, True) for tag, value in text.items()]
        notes.append("16-bit TIFF: only EXIF text tags (make, model, dates, artist...) carried")
    if xmp:
        extratags.append((700, "B", len(xmp), xmp, True))
    data = rgb if alpha is None else np.dstack((rgb, alpha))
    # Anything tifffile still logs becomes a note of this file (encode() collects them: batch.file_notes).
    tifffile.imwrite(
        f, data, photometric="rgb", iccprofile=icc,
        extrasamples=(2,) if alpha is not None else None,  # 2 = unassociated alpha
        extratags=extratags, metadata=None, description=description, software=software,
    )


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Run `write` on a hidden temp file beside `path` ('.<name>.<random>.tmp'), then move it
    into place (colored.atomic): a crash or error leaves the old file or nothing, never a partial one."""
    with atomic_path(path, keep_suffix=False) as tmp, open(tmp, "wb") as f:
        write(f)
