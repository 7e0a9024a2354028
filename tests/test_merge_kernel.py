"""The compiled merge (batch.merge_kernel) against the OpenCV path it replaces and colored.color.

The OpenCV path is what colored-batch wrote before the kernel, and stays the fallback;
outputs must stay within one 8-bit level of it (issue 14).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from skimage import data

from batch import colorize, merge_kernel
from batch.images import DecodedImage
from batch.tables import lightness_lut
from colored.color import lab_to_rgb

pytestmark = pytest.mark.skipif(not merge_kernel.available(), reason="numba is not installed")


def decoded(pixels: np.ndarray, is_color: bool = False, lut: np.ndarray | None = None) -> DecodedImage:
    return DecodedImage(path=None, pixels=pixels, alpha=None, bit_depth=16 if pixels.dtype == np.uint16 else 8,
                        format="PNG", exif=None, icc_profile=None, xmp=None, is_color=is_color, lightness_lut=lut)


def opencv_merge(monkeypatch, *args, **kwargs) -> np.ndarray:
    """colorize.merge as it was before the kernel: the OpenCV path."""
    with monkeypatch.context() as m:
        m.setattr(merge_kernel, "merge_jit", None)
        assert not merge_kernel.available()
        return colorize.merge(*args, **kwargs)


def smooth_ab(size: int, scale: float, seed: int) -> np.ndarray:
    """A network-like ab field: smooth, with strong colours, some out of gamut."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (size, size, 2)).astype(np.float32)
    ab = cv2.GaussianBlur(noise, (0, 0), 2) * scale
    return np.ascontiguousarray(ab.transpose(2, 0, 1))


def test_every_grey_level_and_colour_within_one_level_of_the_reference():
    # Every 8-bit grey code against a grid of a, b covering and exceeding the gamut: one
    # row per code, so the ab plane (one value per column) is constant down the rows.
    codes = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 61 * 61, axis=1)  # 256 x 3721
    grid = np.linspace(-120, 120, 61, dtype=np.float32)
    a, b = np.meshgrid(grid, grid, indexing="ij")
    ab_rows = np.stack([a.ravel(), b.ravel()])[:, None, :].repeat(2, axis=1)  # (2, 2, 3721): S = 2 rows
    out = np.empty((256, codes.shape[1], 3), np.uint8)
    taps = merge_kernel.vertical_taps(256, 2)
    merge_kernel.merge_rows(codes, lightness_lut(8), ab_rows[0], ab_rows[1], taps, out)
    L = lightness_lut(8)[codes]
    lab = np.dstack([L, np.broadcast_to(a.ravel(), L.shape), np.broadcast_to(b.ravel(), L.shape)])
    ref = lab_to_rgb(lab.astype(np.float64)) * 255
    assert np.abs(out - ref).max() <= 1.0
    assert np.abs(out - ref).mean() < 0.26  # rounding only: uniform error on [-0.5, 0.5] averages 0.25


def test_sixteen_bit_within_a_sixteenth_of_an_8bit_level():
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 65536, (40, 300)).astype(np.uint16)
    ab_rows = rng.uniform(-90, 90, (2, 2, 300)).astype(np.float32)
    out = np.empty((40, 300, 3), np.uint16)
    y0, y1, w = merge_kernel.vertical_taps(40, 2)
    merge_kernel.merge_rows(codes, lightness_lut(16), ab_rows[0], ab_rows[1], (y0, y1, w), out)
    a, b = (ab_rows[c, y0] * (1 - w[:, None]) + ab_rows[c, y1] * w[:, None] for c in (0, 1))
    ref = lab_to_rgb(np.dstack([lightness_lut(16)[codes], a, b]).astype(np.float64)) * 65535
    assert np.abs(out - ref).max() <= 65535 / 255 / 16


@pytest.mark.parametrize("kind", ["grey8", "grey16", "colour8", "grey-as-rgb", "icc-lut"])
def test_merge_matches_the_opencv_path_on_photos(monkeypatch, kind):
    photo = data.astronaut() if kind == "colour8" else data.camera()
    lut = None
    if kind == "grey16":
        photo = photo.astype(np.uint16) * 257 + 100
    elif kind == "grey-as-rgb":
        photo = np.dstack([photo] * 3)
    elif kind == "icc-lut":  # a grey profile other than sRGB's: a gamma-1.8 curve's L*
        lut = (116 * np.cbrt((np.arange(256) / 255.0) ** 1.8) - 16).clip(0).astype(np.float32)
    d = decoded(photo, is_color=kind == "colour8", lut=lut)
    ab = smooth_ab(64, 40, seed=5)
    for strength in (1.0, 1.7):
        ours = colorize.merge(d, ab, strength)
        before = opencv_merge(monkeypatch, d, ab, strength)
        assert ours.dtype == before.dtype and ours.shape == before.shape
        diff = np.abs(ours.astype(np.int64) - before)
        if photo.dtype == np.uint16:  # both paths approximate the sRGB curve: a few 16-bit levels
            assert diff.max() <= 65535 / 255 / 16
        else:
            assert diff.max() <= 1 and (diff > 0).mean() < 0.02  # rounding ties, not a shift


def test_bgr_order_is_the_same_pixels_reversed():
    d = decoded(data.camera())
    ab = smooth_ab(32, 50, seed=6)
    rgb = colorize.merge(d, ab)
    bgr = colorize.merge(d, ab, bgr=True)
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])


def test_strips_do_not_show(monkeypatch):
    # A picture taller than one strip: rows on both sides of a strip boundary come out as
    # if the whole picture had been done at once.
    photo = np.tile(data.camera()[:, :200], (12, 1))  # 6144 x 200: several strips
    d = decoded(photo)
    ab = smooth_ab(16, 30, seed=7)
    whole = colorize.merge(d, ab)
    monkeypatch.setattr(colorize, "STRIP_PIXELS", 200 * 7)  # strips of 7 rows
    np.testing.assert_array_equal(colorize.merge(d, ab), whole)


def test_no_jit_environment_variable_falls_back_to_opencv():
    code = "from batch import merge_kernel; print(merge_kernel.available())"
    env = dict(os.environ, COLORED_NO_JIT="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_whole_colour_path_on_the_sample_archive_within_one_level(monkeypatch):
    # decode -> model input (area shrink) -> the default model -> merge, with the compiled
    # loops and with the OpenCV path they replaced: the pixels handed to the encoder.
    from pathlib import Path

    from batch import area
    from batch.jobs import plan_jobs
    from batch.pipeline import prepare
    from batch.render import render_size, resolve
    from batch.session import infer, open_session
    from batch.settings import Settings

    session, contract = open_session(None)
    settings = resolve(Settings(), contract, "the default model")
    size = render_size(settings, contract)
    archive = Path(__file__).resolve().parent.parent / "samples" / "archive"
    jobs = list(plan_jobs(archive, Path("/nonexistent-out"), settings))
    assert len(jobs) >= 5

    def pixels_for_encoder(job) -> np.ndarray:
        p = prepare(job, size, settings)
        ab = infer(session, contract, p.L[None])[0]
        return colorize.merge(p.decoded, ab, settings.strength)

    ours = [pixels_for_encoder(job) for job in jobs]
    monkeypatch.setattr(merge_kernel, "merge_jit", None)
    monkeypatch.setattr(area, "area_jit", None)
    for job, new in zip(jobs, ours):
        before = pixels_for_encoder(job)
        diff = np.abs(new.astype(np.int64) - before)
        if new.dtype == np.uint16:  # both approximate the sRGB curve: a few 16-bit levels
            assert diff.max() <= 65535 / 255 / 16, job.relative
        else:
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01, job.relative
