"""Image I/O of the runtime: decode of every supported layout, metadata round trips, failures."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps
from skimage import data as skdata

from batch import metadata as md
from batch.images import (
    SUPPORTED_EXTENSIONS,
    ImageError,
    decode,
    encode,
    output_format_for,
    write_atomically,
)

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
    b' tiff:Orientation="1"><dc:creator>Archive 7</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>'
)


@pytest.fixture(scope="module")
def gray() -> np.ndarray:
    return cv2.resize(skdata.camera(), (48, 32), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return cv2.resize(skdata.astronaut(), (48, 32), interpolation=cv2.INTER_AREA)


def make_exif(orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[271] = "ScanCo"
    exif[272] = "FB-9000"
    exif[306] = "2024:05:01 10:00:00"
    exif[md.EXIF_IFD_TAG] = {0x9003: "1931:07:14 12:00:00"}  # DateTimeOriginal
    if orientation is not None:
        exif[md.ORIENTATION_TAG] = orientation
    return exif.tobytes()


def exif_of(blob: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(md.with_exif_header(blob))
    return exif


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize("fmt,ext", [("JPEG", ".jpg"), ("PNG", ".png"), ("TIFF", ".tif"), ("BMP", ".bmp")])
def test_8bit_gray_formats(tmp_path, gray, fmt, ext):
    path = tmp_path / f"g{ext}"
    Image.fromarray(gray).save(path, format=fmt)
    img = decode(path)
    assert img.format == fmt and img.bit_depth == 8 and not img.is_color
    assert img.pixels.shape == gray.shape and img.pixels.dtype == np.uint8 and img.alpha is None
    with Image.open(path) as im:  # JPEG is lossy: the reference is Pillow's decode of the same bytes
        assert np.array_equal(img.pixels, gray if fmt != "JPEG" else np.asarray(im))


def test_gray_webp_comes_back_as_neutral_rgb(tmp_path, gray):
    # WebP has no gray layout: the file holds YUV, decoded as RGB that must not count as colour.
    path = tmp_path / "g.webp"
    Image.fromarray(gray).save(path, quality=80)
    img = decode(path)
    assert img.format == "WEBP" and img.pixels.shape == (*gray.shape, 3) and not img.is_color


def test_rgb_and_rgba(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "c.png")
    img = decode(tmp_path / "c.png")
    assert np.array_equal(img.pixels, rgb) and img.alpha is None and img.is_color
    alpha = np.linspace(0, 255, rgb.shape[0] * rgb.shape[1]).astype(np.uint8).reshape(rgb.shape[:2])
    Image.fromarray(np.dstack((rgb, alpha))).save(tmp_path / "ca.png")
    img = decode(tmp_path / "ca.png")
    assert np.array_equal(img.pixels, rgb) and np.array_equal(img.alpha, alpha)


def test_gray_plus_alpha(tmp_path, gray):
    alpha = np.full(gray.shape, 128, np.uint8)
    Image.fromarray(np.dstack((gray, alpha)), mode="LA").save(tmp_path / "la.png")
    img = decode(tmp_path / "la.png")
    assert np.array_equal(img.pixels, gray) and np.array_equal(img.alpha, alpha)


def test_palette_with_and_without_transparency(tmp_path, rgb):
    pal = Image.fromarray(rgb).quantize(16)
    pal.save(tmp_path / "p.png")
    expected = np.asarray(pal.convert("RGB"))
    img = decode(tmp_path / "p.png")
    assert np.array_equal(img.pixels, expected) and img.alpha is None and "palette" in img.notes[0]
    pal.save(tmp_path / "pt.png", transparency=0)
    img = decode(tmp_path / "pt.png")
    assert img.alpha is not None
    assert np.array_equal(img.alpha == 0, np.asarray(pal) == 0)
    pal.save(tmp_path / "p.gif")
    assert decode(tmp_path / "p.gif").format == "GIF"


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_converted_with_note(tmp_path, rgb, fmt):
    path = tmp_path / f"k.{fmt.lower()}"
    Image.fromarray(rgb).convert("CMYK").save(path, format=fmt, quality=95)
    img = decode(path)
    assert img.pixels.shape == rgb.shape and any("CMYK" in n for n in img.notes)
    assert np.abs(img.pixels.astype(int) - rgb).mean() < 6  # naive CMYK round trip, JPEG noise


def test_16bit_gray_png_and_tiff_both_byte_orders(tmp_path):
    g16 = (np.arange(32 * 48, dtype=np.uint32) * 41 % 65536).astype(np.uint16).reshape(32, 48)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    tifffile.imwrite(tmp_path / "g16le.tif", g16, byteorder="<")
    tifffile.imwrite(tmp_path / "g16be.tif", g16, byteorder=">")
    for name in ("g16.png", "g16le.tif", "g16be.tif"):
        img = decode(tmp_path / name)
        assert img.bit_depth == 16 and img.pixels.dtype == np.uint16, name
        assert np.array_equal(img.pixels, g16), name


def test_16bit_rgb_and_rgba_png_and_tiff(tmp_path):
    rng = np.random.default_rng(1)
    c16 = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    a16 = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), c16[..., ::-1])
    tifffile.imwrite(tmp_path / "c16.tif", c16, photometric="rgb")
    tifffile.imwrite(tmp_path / "ca16.tif", np.dstack((c16, a16)), photometric="rgb", extrasamples=(2,))
    for name in ("c16.png", "c16.tif", "ca16.tif"):
        img = decode(tmp_path / name)
        assert img.bit_depth == 16 and np.array_equal(img.pixels, c16) and img.is_color, name
    assert np.array_equal(decode(tmp_path / "ca16.tif").alpha, a16)


def test_32bit_int_and_float_samples(tmp_path):
    ints = np.arange(600, dtype=np.int32).reshape(20, 30) * 100
    tifffile.imwrite(tmp_path / "i.tif", ints)
    img = decode(tmp_path / "i.tif")
    assert img.pixels.dtype == np.uint16 and np.array_equal(img.pixels, ints)
    tifffile.imwrite(tmp_path / "ibad.tif", ints * 1000)
    with pytest.raises(ImageError, match="0..65535"):
        decode(tmp_path / "ibad.tif")
    floats = np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)
    tifffile.imwrite(tmp_path / "f.tif", floats)
    img = decode(tmp_path / "f.tif")
    assert img.bit_depth == 16 and np.abs(img.pixels / 65535.0 - floats).max() < 1e-4
    tifffile.imwrite(tmp_path / "fbad.tif", floats * 4 - 1)
    with pytest.raises(ImageError, match=r"only \[0, 1\]"):
        decode(tmp_path / "fbad.tif")


def test_1bit(tmp_path, gray):
    Image.fromarray(gray).convert("1").save(tmp_path / "b.png")
    img = decode(tmp_path / "b.png")
    assert img.pixels.dtype == np.uint8 and set(np.unique(img.pixels)) <= {0, 255}


def test_first_frame_of_multi_frame_files(tmp_path, rgb):
    pages = np.stack([rgb, rgb[::-1], rgb[:, ::-1]])
    tifffile.imwrite(tmp_path / "pages.tif", pages, photometric="rgb")
    img = decode(tmp_path / "pages.tif")
    assert np.array_equal(img.pixels, rgb) and "first of 3 frames used" in img.notes and img.frames == 3
    frames = [Image.fromarray(p) for p in pages]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    for name in ("anim.gif", "anim.webp"):
        img = decode(tmp_path / name)
        assert "first of 3 frames used" in img.notes, name
    assert np.array_equal(decode(tmp_path / "anim.webp").pixels, rgb)


# ---------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_8bit_png_matches_pillow(tmp_path, rgb, orientation):
    path = tmp_path / "o.png"
    Image.fromarray(rgb).save(path, exif=make_exif(orientation))
    img = decode(path)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    assert np.array_equal(img.pixels, expected)
    assert exif_of(img.exif)[md.ORIENTATION_TAG] == 1


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_jpeg_and_16bit(tmp_path, rgb, orientation):
    jpg = tmp_path / "o.jpg"
    Image.fromarray(rgb).save(jpg, exif=make_exif(orientation), xmp=XMP.replace(b'"1"', f'"{orientation}"'.encode()))
    img = decode(jpg)
    with Image.open(jpg) as im:
        assert np.array_equal(img.pixels, np.asarray(ImageOps.exif_transpose(im)))
    assert exif_of(img.exif)[md.ORIENTATION_TAG] == 1 and b'tiff:Orientation="1"' in img.xmp

    c16 = rgb.astype(np.uint16) * 257
    upright = np.rot90(c16, -1 if orientation == 6 else 1)  # 6: turn clockwise, 8: counter-clockwise
    tifffile.imwrite(tmp_path / "o.tif", c16, photometric="rgb", extratags=[(274, "H", 1, orientation, True)])
    ok, buf = cv2.imencode(".png", c16[..., ::-1])
    (tmp_path / "o.png").write_bytes(md.insert_png_chunks(buf.tobytes(), md.png_metadata_chunks(exif=make_exif(orientation))))
    for name in ("o.tif", "o.png"):
        img = decode(tmp_path / name)
        assert img.bit_depth == 16 and np.array_equal(img.pixels, upright), name
        assert exif_of(img.exif)[md.ORIENTATION_TAG] == 1, name


# ---------------------------------------------------------------- metadata round trips


@pytest.mark.parametrize("fmt,depth", [("JPEG", 8), ("PNG", 8), ("TIFF", 8), ("WEBP", 8), ("PNG", 16), ("TIFF", 16)])
def test_metadata_round_trip(tmp_path, rgb, fmt, depth):
    icc = md.srgb_profile()
    exif = make_exif()
    pixels = rgb if depth == 8 else rgb.astype(np.uint16) * 257
    out = tmp_path / f"out.{fmt.lower()}"
    encode(out, pixels, exif=exif, icc_profile=icc, xmp=XMP, format=fmt)
    assert not list(tmp_path.glob(".*.tmp"))
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == icc
        xmp = im.info.get("xmp")
        assert (xmp.encode() if isinstance(xmp, str) else xmp) == XMP
        back = im.getexif()
        assert back[271] == "ScanCo" and back[272] == "FB-9000" and back[306] == "2024:05:01 10:00:00"
        if not (fmt == "TIFF" and depth == 16):  # 16-bit TIFF carries the text tags only (documented)
            assert back.get_ifd(md.EXIF_IFD_TAG)[0x9003] == "1931:07:14 12:00:00"
    if fmt in ("JPEG", "PNG", "WEBP"):
        assert md.with_exif_header(decode(out).exif) == md.with_exif_header(exif)
    img = decode(out)
    assert img.bit_depth == depth and img.icc_profile == icc
    if fmt != "JPEG" and fmt != "WEBP":
        assert np.array_equal(img.pixels, pixels)


def test_jpeg_is_written_as_pillow_would_write_it(tmp_path):
    # The JPEG encoder moved from Pillow to OpenCV (issue 14): same libjpeg-turbo settings,
    # so the same pixels come back, and the metadata segments are where readers look.
    photo = skdata.astronaut()
    encode(tmp_path / "ours.jpg", photo, exif=make_exif(), icc_profile=md.srgb_profile(), xmp=XMP, quality=90)
    Image.fromarray(photo).save(tmp_path / "pillow.jpg", quality=90)
    with Image.open(tmp_path / "ours.jpg") as ours, Image.open(tmp_path / "pillow.jpg") as theirs:
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
        assert ours.info["jfif"] and ours.getexif()[271] == "ScanCo"
    data = (tmp_path / "ours.jpg").read_bytes()
    assert data.index(b"JFIF") < data.index(b"Exif") < data.index(b"http://ns.adobe.com/xap") < data.index(b"ICC_PROFILE")


def test_jpeg_icc_profile_over_one_segment_is_split_and_joined(tmp_path, rgb):
    icc = md.srgb_profile()
    big = icc + bytes(150_000)  # padded past two APP2 segments; readers join the chunks back
    encode(tmp_path / "o.jpg", rgb, icc_profile=big)
    with Image.open(tmp_path / "o.jpg") as im:
        assert im.info["icc_profile"] == big
    assert (tmp_path / "o.jpg").read_bytes().count(b"ICC_PROFILE\x00") == 3


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_bgr_pixels_give_the_same_file(tmp_path, rgb, fmt):
    encode(tmp_path / "rgb", rgb, format=fmt)
    encode(tmp_path / "bgr", np.ascontiguousarray(rgb[..., ::-1]), format=fmt, bgr=True)
    assert (tmp_path / "rgb").read_bytes() == (tmp_path / "bgr").read_bytes()


def test_tiff_source_exif_keeps_descriptive_tags_only(tmp_path, rgb):
    path = tmp_path / "s.tif"
    Image.fromarray(rgb).save(path, exif=make_exif())
    img = decode(path)
    exif = exif_of(img.exif)
    assert exif[271] == "ScanCo" and exif.get_ifd(md.EXIF_IFD_TAG)[0x9003] == "1931:07:14 12:00:00"
    assert not {256, 257, 259, 273, 279} & set(exif)  # no storage tags of the source


def test_gray_icc_profile_replaced_by_srgb(tmp_path, rgb):
    srgb = md.srgb_profile()
    gray_profile = srgb[:16] + b"GRAY" + srgb[20:]  # header says GRAY: that is all the rule looks at
    notes = encode(tmp_path / "o.jpg", rgb, icc_profile=gray_profile)
    assert any("GRAY ICC profile replaced by sRGB" in n for n in notes)
    assert decode(tmp_path / "o.jpg").icc_profile == srgb


# ---------------------------------------------------------------- alpha and depth on output


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP"])
def test_alpha_passed_through(tmp_path, rgb, fmt):
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1))
    out = tmp_path / f"a.{fmt.lower()}"
    assert encode(out, rgb, alpha=alpha, format=fmt) == []
    assert np.array_equal(decode(out).alpha, alpha)


def test_jpeg_output_drops_alpha_and_reduces_16bit_with_notes(tmp_path, rgb):
    c16 = rgb.astype(np.uint16) * 257 + 100  # x / 257 rounds back to rgb
    notes = encode(tmp_path / "o.jpg", c16, alpha=np.zeros(rgb.shape[:2], np.uint16), format="JPEG")
    assert "alpha dropped: JPEG has no alpha channel" in notes
    assert any("16-bit reduced to 8-bit" in n for n in notes)
    encode(tmp_path / "ref.jpg", rgb, format="JPEG")
    img = decode(tmp_path / "o.jpg")
    assert img.bit_depth == 8 and np.array_equal(img.pixels, decode(tmp_path / "ref.jpg").pixels)


# ---------------------------------------------------------------- failures


def test_broken_files_raise_image_error_naming_the_file(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "ok.jpg")
    Image.fromarray(rgb).save(tmp_path / "ok.png")
    cases = {
        "empty.jpg": (b"", "empty file"),
        "text.jpg": (b"this is not a picture\n" * 10, "not a supported image"),
        "half.jpg": ((tmp_path / "ok.jpg").read_bytes()[:600], "truncated or corrupt"),
        "half.png": ((tmp_path / "ok.png").read_bytes()[:1500], "truncated or corrupt"),
        "garbage.png": ((tmp_path / "ok.png").read_bytes()[:60] + os.urandom(3000), ""),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ImageError) as err:
            decode(tmp_path / name)
        assert str(err.value).startswith(f"{tmp_path / name}: ") and reason in err.value.reason, name
        assert err.value.path == tmp_path / name
    with pytest.raises(ImageError, match="cannot read file"):
        decode(tmp_path / "missing.png")


def test_too_many_pixels_rejected_from_the_header(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "ok.png")
    with pytest.raises(ImageError, match="over the limit of"):
        decode(tmp_path / "ok.png", max_pixels=1000)
    # A PNG whose header claims 100000 x 100000 pixels: rejected before any pixel is read.
    png = (tmp_path / "ok.png").read_bytes()
    ihdr = b"IHDR" + (100_000).to_bytes(4, "big") * 2 + png[24:29]
    import zlib

    bomb = png[:12] + ihdr + zlib.crc32(ihdr).to_bytes(4, "big") + png[33:]
    (tmp_path / "bomb.png").write_bytes(bomb)
    with pytest.raises(ImageError, match="over the limit|too many pixels"):
        decode(tmp_path / "bomb.png")


def test_originals_untouched_and_failed_writes_leave_nothing(tmp_path, rgb):
    src = tmp_path / "src.jpg"
    Image.fromarray(rgb).save(src, exif=make_exif(6))
    before = sha(src)
    img = decode(src)
    encode(tmp_path / "dst.jpg", img.pixels, exif=img.exif)
    assert sha(src) == before

    (tmp_path / "old.png").write_bytes(b"previous output")

    def half_then_fail(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "old.png", half_then_fail)
    with pytest.raises(ImageError, match="wider or taller"):
        encode(tmp_path / "old.png", np.zeros((1, 20000, 3), np.uint8), format="WEBP")
    assert (tmp_path / "old.png").read_bytes() == b"previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.jpg", "old.png", "src.jpg"]


def test_encode_rejects_bad_arrays(tmp_path, gray):
    with pytest.raises(ImageError, match="HxWx3"):
        encode(tmp_path / "x.png", gray, format="PNG")
    with pytest.raises(ImageError, match="cannot write format"):
        encode(tmp_path / "x.gif", np.zeros((4, 4, 3), np.uint8), format="GIF")


# ---------------------------------------------------------------- colour detection and formats


def test_is_color_ignores_jpeg_chroma_noise_of_gray(tmp_path, gray):
    big = cv2.resize(skdata.camera(), (256, 256))
    Image.fromarray(np.dstack([big] * 3)).save(tmp_path / "g.jpg", quality=60)
    assert not decode(tmp_path / "g.jpg").is_color
    Image.fromarray(cv2.resize(skdata.coffee(), (256, 171))).save(tmp_path / "c.jpg", quality=60)
    assert decode(tmp_path / "c.jpg").is_color


def test_output_format_for():
    assert output_format_for("JPEG", "keep") == ("JPEG", ".jpg")
    assert output_format_for("TIFF", "keep") == ("TIFF", ".tif")
    assert output_format_for("GIF", "keep") == ("PNG", ".png")
    assert output_format_for("PPM", "keep") == ("PNG", ".png")
    assert output_format_for("PNG", "jpg") == ("JPEG", ".jpg")
    assert output_format_for("JPEG", "tiff") == ("TIFF", ".tif")
    assert output_format_for("JPEG", "webp") == ("WEBP", ".webp")
    with pytest.raises(ValueError, match="unknown output format"):
        output_format_for("JPEG", "heic")
    assert {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"} <= SUPPORTED_EXTENSIONS


def test_runtime_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import batch.images; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
