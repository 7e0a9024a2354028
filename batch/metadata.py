"""Byte-level metadata helpers: EXIF orientation, ICC colour spaces, PNG chunks.

Kept apart from pixel decode/encode so the rules for carrying EXIF, ICC and XMP
from a source file to its output live in one place. Everything here works on
raw bytes and Pillow's container parsers only; no pixels, no torch.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from functools import cache

from PIL import Image, ImageCms

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
EXIF_IFD_TAG = 0x8769
GPS_IFD_TAG = 0x8825

# IFD0 tags of a TIFF file that describe the picture rather than its storage.
# A TIFF's own directory doubles as its EXIF; everything else there (strip
# offsets, compression, bits per sample...) must not leak into another file.
DESCRIPTIVE_TIFF_TAGS = (
    270,  # ImageDescription
    271,  # Make
    272,  # Model
    ORIENTATION_TAG,
    282,  # XResolution
    283,  # YResolution
    296,  # ResolutionUnit
    305,  # Software
    306,  # DateTime
    315,  # Artist
    316,  # HostComputer
    33432,  # Copyright
)
# Of those, the ones tifffile can write as plain ASCII tags in a 16-bit TIFF.
ASCII_TIFF_TAGS = (270, 271, 272, 305, 306, 315, 316, 33432)

_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation(?:="|>))([0-9])')


def with_exif_header(blob: bytes) -> bytes:
    """EXIF as Pillow's JPEG reader hands it out: 'Exif\\0\\0' + TIFF structure."""
    return blob if blob.startswith(EXIF_HEADER) else EXIF_HEADER + blob


def without_exif_header(blob: bytes) -> bytes:
    """Bare TIFF structure, as PNG's eXIf chunk stores it."""
    return blob[len(EXIF_HEADER) :] if blob.startswith(EXIF_HEADER) else blob


def reset_exif_orientation(blob: bytes) -> bytes:
    """Set IFD0's Orientation to 1 by patching its two value bytes in place.

    Patching (rather than re-serialising through Pillow) keeps every other byte
    of the blob, including maker notes whose internal offsets a rewrite breaks.
    A blob without the tag, or one we cannot parse, is returned unchanged.
    """
    tiff = without_exif_header(blob)
    base = len(blob) - len(tiff)
    if tiff[:2] not in (b"II", b"MM") or len(tiff) < 8:
        return blob
    end = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(end + "I", tiff, 4)
        (count,) = struct.unpack_from(end + "H", tiff, ifd)
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, typ = struct.unpack_from(end + "HH", tiff, entry)
            if tag == ORIENTATION_TAG and typ == 3:  # SHORT, value inline
                out = bytearray(blob)
                struct.pack_into(end + "H", out, base + entry + 8, 1)
                return bytes(out)
    except struct.error:
        pass
    return blob


def reset_xmp_orientation(xmp: bytes) -> bytes:
    """Set tiff:Orientation in an XMP packet to 1 (viewers may honour either)."""
    return _XMP_ORIENTATION.sub(rb"\g<1>1", xmp)


def exif_orientation(blob: bytes) -> int:
    """IFD0 Orientation of an EXIF blob (1 when absent or unreadable)."""
    exif = Image.Exif()
    try:
        exif.load(with_exif_header(blob))
    except Exception:  # noqa: BLE001 - an unreadable blob carries no usable orientation
        return 1
    return int(exif.get(ORIENTATION_TAG, 1))


def png_exif_and_xmp(png: bytes) -> tuple[bytes | None, bytes | None]:
    """EXIF (with 'Exif\\0\\0' header) and XMP of a PNG file, found by walking its chunks."""
    exif = xmp = None
    pos = 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        body = png[pos + 8 : pos + 8 + length] if kind in (b"eXIf", b"iTXt") else b""
        if kind == b"eXIf":
            exif = with_exif_header(body)
        elif body.startswith(b"XML:com.adobe.xmp\x00"):
            compressed = body[18] == 1
            text = body[20:].split(b"\x00", 2)[-1]  # skip language tag and translated keyword
            xmp = zlib.decompress(text) if compressed else text
        elif kind == b"IEND":
            break
        pos += 12 + length
    return exif, xmp


def exif_from_tiff_directory(exif: Image.Exif) -> bytes | None:
    """EXIF blob holding only the descriptive tags of a TIFF's first directory.

    Includes the Exif and GPS sub-directories (exposure data, capture date, ...).
    """
    out = Image.Exif()
    for tag in DESCRIPTIVE_TIFF_TAGS:
        if tag in exif:
            out[tag] = exif[tag]
    for tag in (EXIF_IFD_TAG, GPS_IFD_TAG):
        if tag in exif:
            sub = exif.get_ifd(tag)
            if sub:
                out[tag] = sub
    return out.tobytes() if len(out) else None


def exif_ascii_tags(blob: bytes) -> dict[int, str]:
    """The plain-text IFD0 tags of an EXIF blob (Make, Model, DateTime, ...)."""
    exif = Image.Exif()
    try:
        exif.load(with_exif_header(blob))
    except Exception:  # noqa: BLE001 - unreadable EXIF is simply not carried
        return {}
    return {t: v for t in ASCII_TIFF_TAGS if isinstance(v := exif.get(t), str) and v}


def is_shape_description(text: str) -> bool:
    """Whether a TIFF ImageDescription is tifffile's JSON shape record ('{"shape": [512, 512]}'), not a caption."""
    if not text.lstrip().startswith("{"):
        return False
    try:
        return "shape" in json.loads(text)
    except (ValueError, TypeError):
        return False


def icc_color_space(profile: bytes) -> str:
    """Data colour space signature of an ICC profile: 'RGB', 'GRAY', 'CMYK', ...

    Read straight from the 128-byte header (bytes 16-19) rather than through
    LittleCMS, which is all we need and cannot fail on an odd profile.
    """
    return profile[16:20].decode("latin-1").strip() if len(profile) >= 128 else ""


# Creation time written into the sRGB profile's header. LittleCMS stamps the current time,
# which made every process write different bytes: outputs were not reproducible, and
# the Ray and local engines disagreed byte for byte on files that get this profile.
SRGB_PROFILE_DATE = struct.pack(">6H", 2026, 1, 1, 0, 0, 0)


@cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS built-in), the same bytes in every process."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    data[24:36] = SRGB_PROFILE_DATE  # header dateTimeNumber
    data[84:100] = bytes(16)  # profile ID: zero means "not computed", valid with any header
    return bytes(data)


def cmyk_to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    """Colour-manage a CMYK image to sRGB through its embedded profile."""
    src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    dst = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
    assert out is not None  # profileToProfile returns None only with inPlace=True
    return out


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_metadata_chunks(
    exif: bytes | None = None, icc_profile: bytes | None = None, xmp: bytes | None = None
) -> bytes:
    """iCCP, eXIf and iTXt(XMP) chunks, ready to sit between IHDR and IDAT."""
    out = b""
    if icc_profile:
        out += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))
    if exif:
        out += _png_chunk(b"eXIf", without_exif_header(exif))
    if xmp:
        # keyword, NUL, compression flag 0, method 0, empty language, NUL, empty translated keyword, NUL
        out += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)
    return out


def png_chunk_offset(png: bytes | memoryview) -> int:
    """Where metadata chunks go in an encoded PNG: right after IHDR (before PLTE and IDAT, as the
    spec asks)."""
    if bytes(png[:8]) != b"\x89PNG\r\n\x1a\n" or bytes(png[12:16]) != b"IHDR":
        raise ValueError("encoder did not produce a PNG starting with IHDR")
    return 8 + 12 + struct.unpack_from(">I", png, 8)[0]


def insert_png_chunks(png: bytes, chunks: bytes) -> bytes:
    """Insert ready-made chunks right after IHDR."""
    at = png_chunk_offset(png)
    return png[:at] + chunks + png[at:]


XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_APP2_HEADER = b"ICC_PROFILE\x00"
_ICC_CHUNK = 65519  # 65535 - 2 (length) - 12 (header) - 2 (sequence, count)


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > 65533:
        raise ValueError(f"JPEG APP segment payload of {len(payload)} bytes is over 65533")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_metadata_segments(
    exif: bytes | None = None, icc_profile: bytes | None = None, xmp: bytes | None = None
) -> bytes:
    """APP1 (EXIF), APP1 (XMP) and APP2 (ICC, split into numbered chunks) segments, as Pillow
    writes them. EXIF and XMP must each fit one segment (see images._fit_jpeg_segments)."""
    out = b""
    if exif:
        out += _jpeg_segment(0xE1, with_exif_header(exif))
    if xmp:
        out += _jpeg_segment(0xE1, XMP_APP1_HEADER + xmp)
    if icc_profile:
        chunks = [icc_profile[i : i + _ICC_CHUNK] for i in range(0, len(icc_profile), _ICC_CHUNK)]
        if len(chunks) > 255:
            raise ValueError("ICC profile too large for a JPEG (over 255 APP2 chunks)")
        for n, chunk in enumerate(chunks, 1):
            out += _jpeg_segment(0xE2, ICC_APP2_HEADER + bytes((n, len(chunks))) + chunk)
    return out


def jpeg_segment_offset(jpeg: bytes | memoryview) -> int:
    """Where APPn segments go in an encoded JPEG: after SOI and the encoder's JFIF APP0 (which
    its spec wants first), before any table."""
    if bytes(jpeg[:2]) != b"\xff\xd8":
        raise ValueError("encoder did not produce a JPEG starting with SOI")
    if bytes(jpeg[2:4]) == b"\xff\xe0":
        return 4 + struct.unpack_from(">H", jpeg, 4)[0]
    return 2
