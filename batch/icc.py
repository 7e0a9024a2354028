"""Colour management of inputs: read pixel values through their embedded ICC profile.

The runtime's colour maths (batch.colorize) reads code values as sRGB. Scans often say
otherwise: Photoshop puts 'Dot Gain 20%' or 'Gray Gamma 2.2' on grey scans, scanners
put Adobe RGB on colour ones. Read as sRGB, their tones shift by several L* units
(a Gray Gamma 1.8 mid-grey code is 7 L* lighter than the same sRGB code), so the colorized output
would be lighter or darker than the original. LittleCMS (through Pillow) does the
conversion:

    grey pixels, GRAY or RGB profile  -> an exact table of L* per code value (16-bit
                                         precision, same cost as the sRGB table)
    8-bit colour pixels, RGB profile   -> converted to sRGB pixels
    16-bit colour pixels, RGB profile  -> read as sRGB, with a note (Pillow's LittleCMS
                                         bindings have no 16-bit RGB mode)

Outputs are sRGB, so they are tagged sRGB, except that an input's own sRGB profile is
carried byte for byte. torch-free.
"""

from __future__ import annotations

import io
import struct
import threading
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms

from batch import metadata as md
from batch.tables import lightness_lut as srgb_lightness_lut

__all__ = ["apply_profile", "gray_profile", "lstar_gray_profile", "rgb_profile"]

_D50 = (0.9642, 1.0, 0.8249)  # the ICC profile connection space's white
NOTE_THRESHOLD = 0.5  # L* units: below this a profile's grey scale counts as sRGB's, and goes without a note


# ------------------------------------------------------------ profiles built here


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _xyz_tag(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    # ICC v2 textDescriptionType: ASCII part, then empty Unicode and ScriptCode parts.
    ascii_ = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_)) + ascii_ + bytes(4 + 4 + 2 + 1 + 67)


def gamma_curve(gamma: float) -> bytes:
    """An ICC curveType tag body: a pure power law."""
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))


def parametric_curve(g: float, a: float, b: float, c: float, d: float) -> bytes:
    """ICC parametricCurveType, function 3: Y = (aX + b)^g for X >= d, else cX."""
    return b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in (g, a, b, c, d))


SRGB_CURVE = parametric_curve(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
# X = L*/100 -> Y: the Lab lightness curve, so a grey profile with it stores L* itself.
LSTAR_CURVE = parametric_curve(3.0, 100 / 116, 16 / 116, 100 / 903.3, 0.08)


def _profile(space: bytes, description: str, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A minimal ICC v2.1 display profile with the given colour space and tags."""
    tags = [(b"desc", _desc_tag(description)), (b"wtpt", _xyz_tag(_D50)), *tags,
            (b"cprt", b"text\0\0\0\0" + b"No copyright, use freely\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body)) + b"lcms" + bytes((2, 0x10, 0, 0)) + b"mntr" + space + b"XYZ "
        + bytes(12) + b"acsp" + b"APPL" + bytes(4 + 4 + 4 + 8) + struct.pack(">I", 0)  # perceptual intent
        + b"".join(_s15(v) for v in _D50) + bytes(4 + 16 + 28)
    )
    return header + struct.pack(">I", len(tags)) + table + body


def gray_profile(description: str, curve: bytes) -> bytes:
    """A grey ICC profile whose code values map to luminance through `curve` (D50 white)."""
    return _profile(b"GRAY", description, [(b"kTRC", curve)])


def rgb_profile(description: str, red_xyz: tuple, green_xyz: tuple, blue_xyz: tuple, curve: bytes) -> bytes:
    """A matrix/shaper RGB ICC profile: D50-adapted primaries and one curve for all channels."""
    return _profile(b"RGB ", description, [
        (b"rXYZ", _xyz_tag(red_xyz)), (b"gXYZ", _xyz_tag(green_xyz)), (b"bXYZ", _xyz_tag(blue_xyz)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ])


@lru_cache(maxsize=1)
def lstar_gray_profile() -> ImageCms.ImageCmsProfile:
    """A grey profile whose 16-bit code is L* * 65535/100: LittleCMS then hands out L* directly."""
    return ImageCms.ImageCmsProfile(io.BytesIO(gray_profile("ColorED L* grey", LSTAR_CURVE)))


@lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


# ------------------------------------------------------------ reading a profile


@lru_cache(maxsize=32)
def _open(icc: bytes) -> tuple[ImageCms.ImageCmsProfile, str]:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    description = (ImageCms.getProfileDescription(profile) or "").strip() or "unnamed"
    return profile, description


# LittleCMS profile handles are not thread-safe while transforms are built from them, and
# the decode workers share the cached handles; applying a finished transform is safe.
_BUILD_LOCK = threading.Lock()


def _transform(src: ImageCms.ImageCmsProfile, dst: ImageCms.ImageCmsProfile, in_mode: str, out_mode: str,
               exact: bool) -> ImageCms.ImageCmsTransform:
    # LittleCMS's default optimisation precomputes 16-bit tables that are off by up to 0.4 L*;
    # the tables below are built once per profile, so they afford the exact, unoptimised path.
    flags = ImageCms.Flags.NOOPTIMIZE if exact else ImageCms.Flags.NONE
    with _BUILD_LOCK:
        return ImageCms.buildTransform(src, dst, in_mode, out_mode,
                                       renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=flags)


@lru_cache(maxsize=32)
def _lightness_lut(icc: bytes, bits: int) -> np.ndarray:
    """L* (float32) of every grey code value of a `bits`-deep image under profile `icc`."""
    profile, _ = _open(icc)
    top = (1 << bits) - 1
    if md.icc_color_space(icc) == "GRAY":
        mode = "L" if bits == 8 else "I;16"
        ramp = np.arange(top + 1, dtype=np.uint8 if bits == 8 else "<u2")  # I;16 is little-endian
        src = Image.frombytes(mode, (top + 1, 1), ramp.tobytes())
        out = ImageCms.applyTransform(src, _transform(profile, lstar_gray_profile(), mode, "I;16", exact=True))
        return np.asarray(out, dtype=np.float32).ravel() * np.float32(100 / 65535)
    # RGB profile on grey pixels: the neutral axis (c, c, c), in 8 bits (the only RGB mode
    # Pillow's bindings have); 16-bit codes are interpolated between its 256 exact points.
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    out = ImageCms.applyTransform(Image.fromarray(ramp, "RGB"),
                                  _transform(profile, lstar_gray_profile(), "RGB", "I;16", exact=True))
    L8 = np.asarray(out, dtype=np.float64).ravel() * (100 / 65535)
    if bits == 8:
        return L8.astype(np.float32)
    return np.interp(np.arange(65536) / 257.0, np.arange(256), L8).astype(np.float32)


@lru_cache(maxsize=32)
def _is_srgb(icc: bytes) -> bool:
    """Whether an RGB profile maps colours as sRGB does (within LittleCMS's 8-bit rounding)."""
    profile, _ = _open(icc)
    levels = np.linspace(0, 255, 9).astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, -1, 3)
    out = ImageCms.applyTransform(Image.fromarray(np.ascontiguousarray(grid), "RGB"),
                                  _transform(profile, _srgb(), "RGB", "RGB", exact=False))
    return int(np.abs(np.asarray(out, dtype=np.int16) - grid).max()) <= 2


# ------------------------------------------------------------ the decode step


def apply_profile(
    pixels: np.ndarray, is_color: bool, icc: bytes | None
) -> tuple[np.ndarray, np.ndarray | None, bytes | None, list[str]]:
    """Interpret decoded pixels through their embedded profile.

    Returns (pixels, lightness_lut, icc for the output, notes). `lightness_lut` is the
    L* of every code value for grey pixels when it is not sRGB's (None: use sRGB's);
    colour pixels come back converted to sRGB where that was needed and possible.
    """
    space = md.icc_color_space(icc) if icc else ""
    if space not in ("GRAY", "RGB"):  # none, or CMYK/Lab/...: handled (or refused) by the decoder
        return pixels, None, icc, []
    try:
        profile, description = _open(icc)
    except (OSError, ImageCms.PyCMSError) as e:
        return pixels, None, None, [f"embedded ICC profile unreadable ({e}): ignored, pixels read as sRGB"]
    # Grey pixels take a table of their profile's neutral axis, whether the profile is GRAY
    # or RGB (grey JPEGs with an RGB profile are common, if out of spec).
    grey = pixels.ndim == 2 or not is_color
    if space == "GRAY" and not grey:
        return pixels, None, None, [f"grey ICC profile '{description}' on colour pixels: ignored, pixels read as sRGB"]
    if space == "RGB" and not grey and _is_srgb(icc):
        return pixels, None, icc, []  # already sRGB: keep the file's own profile bytes
    srgb = md.srgb_profile()
    bits = 16 if pixels.dtype == np.uint16 else 8
    if grey:
        lut = _lightness_lut(icc, bits)
        out_icc = icc if space == "RGB" and _is_srgb(icc) else srgb
        if np.abs(lut - srgb_lightness_lut(bits)).max() < NOTE_THRESHOLD:
            return pixels, lut, out_icc, []
        return pixels, lut, out_icc, [f"grey tones read through the embedded ICC profile '{description}'; output is sRGB"]
    if bits == 16:
        return pixels, None, srgb, [
            f"16-bit colour with ICC profile '{description}' read as sRGB (no 16-bit colour management); output tagged sRGB"
        ]
    converted = ImageCms.applyTransform(Image.fromarray(pixels, "RGB"), _transform(profile, _srgb(), "RGB", "RGB", exact=False))
    return np.asarray(converted), None, srgb, [f"converted from the embedded ICC profile '{description}' to sRGB"]
