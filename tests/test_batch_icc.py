"""Colour management of inputs (batch.icc): profiles read through LittleCMS, outputs tagged sRGB."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms
from skimage import data

from _tiny_model import tiny_model_path
from batch import icc
from batch import metadata as md
from batch.cli import main
from batch.colorize import lightness
from batch.tables import lightness_lut
from batch.images import decode
from colored.color import rgb_to_lab

GAMMA_18 = round(1.8 * 256) / 256  # what an ICC curveType can store of 1.8
GRAY_18 = icc.gray_profile("Gray Gamma 1.8", icc.gamma_curve(1.8))
SGRAY = icc.gray_profile("sGray", icc.SRGB_CURVE)
# D50-adapted primaries (as ICC profiles store them) of sRGB and of Adobe RGB (1998).
SRGB_PRIMARIES = ((0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))
ADOBE_PRIMARIES = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
ADOBE_RGB = icc.rgb_profile("Adobe-like RGB", *ADOBE_PRIMARIES, icc.gamma_curve(563 / 256))
HANDMADE_SRGB = icc.rgb_profile("handmade sRGB", *SRGB_PRIMARIES, icc.SRGB_CURVE)


def lstar(Y: np.ndarray) -> np.ndarray:
    return np.where(Y > 216 / 24389, 116 * np.cbrt(Y) - 16, Y * 24389 / 27)


@pytest.mark.parametrize("bits", [8, 16])
def test_grey_profile_gives_the_exact_lightness_of_its_curve(bits):
    top = (1 << bits) - 1
    pixels = np.arange(top + 1, dtype=np.uint8 if bits == 8 else np.uint16).reshape(-1, 256)
    out, lut, out_icc, notes = icc.apply_profile(pixels, False, GRAY_18)
    assert out is pixels and out_icc == md.srgb_profile()
    assert notes == ["grey tones read through the embedded ICC profile 'Gray Gamma 1.8'; output is sRGB"]
    expected = lstar((np.arange(top + 1) / top) ** GAMMA_18)
    np.testing.assert_allclose(lightness(pixels, False, lut).ravel(), expected, atol=0.03)
    # ...which is far from reading the same codes as sRGB: the test has teeth.
    assert np.abs(lightness_lut(bits) - expected).max() > 7


def test_srgb_like_profiles_are_read_as_srgb_without_a_note():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for profile, carried in ((SGRAY, False), (md.srgb_profile(), True), (HANDMADE_SRGB, True)):
        _, lut, out_icc, notes = icc.apply_profile(grey, False, profile)
        assert notes == []
        np.testing.assert_allclose(lut, lightness_lut(8), atol=0.01)
        # An RGB sRGB profile travels byte for byte; a grey one cannot tag an RGB output.
        assert out_icc == (profile if carried else md.srgb_profile())


def test_colour_pixels_in_another_rgb_space_are_converted_to_srgb():
    rgb = cv2.resize(data.astronaut(), (64, 64), interpolation=cv2.INTER_AREA)
    out, lut, out_icc, notes = icc.apply_profile(rgb, True, ADOBE_RGB)
    assert lut is None and out_icc == md.srgb_profile()
    assert notes == ["converted from the embedded ICC profile 'Adobe-like RGB' to sRGB"]
    src = ImageCms.ImageCmsProfile(io.BytesIO(ADOBE_RGB))
    ref = ImageCms.profileToProfile(Image.fromarray(rgb), src, ImageCms.createProfile("sRGB"),
                                    renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    assert np.abs(out.astype(int) - np.asarray(ref)).max() <= 1
    assert np.abs(out.astype(int) - rgb).max() > 20  # Adobe RGB's wider gamut: colours really moved

    same, _, kept, notes = icc.apply_profile(rgb, True, HANDMADE_SRGB)
    assert same is rgb and kept == HANDMADE_SRGB and notes == []


def test_profiles_that_cannot_apply_are_ignored_with_a_note():
    rgb = cv2.resize(data.astronaut(), (32, 32), interpolation=cv2.INTER_AREA)
    deep = rgb.astype(np.uint16) * 257
    out, lut, out_icc, notes = icc.apply_profile(deep, True, ADOBE_RGB)
    assert out is deep and lut is None and out_icc == md.srgb_profile()
    assert "read as sRGB" in notes[0] and "16-bit" in notes[0]

    out, lut, out_icc, notes = icc.apply_profile(rgb, True, GRAY_18)
    assert out is rgb and lut is None and out_icc is None and "grey ICC profile 'Gray Gamma 1.8' on colour" in notes[0]

    broken = md.srgb_profile()[:128] + b"\xff" * 200  # an RGB header, then garbage
    out, lut, out_icc, notes = icc.apply_profile(rgb, True, broken)
    assert out is rgb and lut is None and out_icc is None and "unreadable" in notes[0]


def test_cmyk_and_missing_profiles_pass_through():
    rgb = np.zeros((4, 4, 3), np.uint8)
    assert icc.apply_profile(rgb, True, None) == (rgb, None, None, [])
    cmyk = md.srgb_profile()[:16] + b"CMYK" + md.srgb_profile()[20:]
    assert icc.apply_profile(rgb, True, cmyk)[2] == cmyk  # the decoder has already dealt with CMYK


@pytest.mark.parametrize("bits", [8, 16])
def test_decode_applies_the_profile(tmp_path, bits):
    top = (1 << bits) - 1
    ramp = np.tile(np.linspace(0, top, 64).round().astype(np.uint8 if bits == 8 else np.uint16), (8, 1))
    path = tmp_path / f"scan{bits}.png"
    Image.fromarray(ramp).save(path, icc_profile=GRAY_18)  # Pillow writes mode L / I;16 with iCCP
    img = decode(path)
    assert img.icc_profile == md.srgb_profile() and "Gray Gamma 1.8" in img.notes[-1]
    np.testing.assert_allclose(lightness(img.pixels, False, img.lightness_lut), lstar((ramp / top) ** GAMMA_18), atol=0.03)


def test_colored_batch_keeps_the_tones_of_a_gamma_18_scan(tmp_path):
    """End to end: what a colour-managed viewer shows of the output has the input's lightness."""
    archive, out = tmp_path / "in", tmp_path / "out"
    archive.mkdir()
    photo = cv2.resize(data.camera(), (128, 128), interpolation=cv2.INTER_AREA)
    Image.fromarray(photo).save(archive / "scan.png", icc_profile=GRAY_18)
    result = CliRunner().invoke(main, [str(archive), str(out), "--model", str(tiny_model_path()), "--no-progress"])
    assert result.exit_code == 0, result.output
    with Image.open(out / "scan.png") as im:
        assert im.info["icc_profile"] == md.srgb_profile()
        colour = np.asarray(im.convert("RGB"))
    L_out = rgb_to_lab(colour / 255.0)[..., 0]
    L_in = lstar((photo / 255.0) ** GAMMA_18)
    mid = (L_in > 15) & (L_in < 85)
    assert np.abs(L_out - L_in)[mid].max() < 0.6
    assert np.abs(lightness_lut(8)[photo] - L_in)[mid].mean() > 4  # read as sRGB, it would be off
    files = json.loads((out / "colored-report.json").read_text())["files"]
    assert any("Gray Gamma 1.8" in n for n in files[0]["notes"])


def test_built_profiles_are_valid_for_littlecms(tmp_path):
    for profile in (GRAY_18, SGRAY, ADOBE_RGB, HANDMADE_SRGB):
        opened = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        assert ImageCms.getProfileDescription(opened).strip()
        assert len(profile) % 4 == 0 and int.from_bytes(profile[:4], "big") == len(profile)
    (tmp_path / "x.icc").write_bytes(GRAY_18)  # and as a file, as users would pass one around
    assert ImageCms.getProfileName(str(tmp_path / "x.icc"))


def test_srgb_profile_bytes_are_the_same_in_every_process():
    """LittleCMS stamps the creation time into the header; outputs must not depend on it."""
    here = hashlib.sha256(md.srgb_profile()).hexdigest()
    # A second later, in another process: a timestamped header would differ by then.
    code = ("import hashlib, time; time.sleep(1.1); from batch import metadata as md; "
            "print(hashlib.sha256(md.srgb_profile()).hexdigest())")
    repo = Path(__file__).resolve().parents[1]
    other = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == here
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(md.srgb_profile()))).strip() == "sRGB built-in"
