"""colored.colorize / colored.Colorizer: the same pixels colored-batch writes, for every kind of input.

The comparisons with colored-batch run the model shipped in colored/assets (fp16, where the
padding of every network call to colored-batch's batch size matters); the rest runs the committed
15 KB fixture model, for speed. No torch is needed: the CI's torch-free step runs this file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

import batch.api as api
from batch.cli import main
from colored import ColoredError, Colorizer, colorize

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "samples" / "archive"
PICTURES = ["astronaut-portrait.jpg", "dam.tif", "mount-rushmore.png", "travels/igloo.png", "travels/pisa.jpg"]
EIGHT_BIT = [p for p in PICTURES if p != "mount-rushmore.png"]


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory) -> Path:
    """colored-batch's output folder for the sample archive with the default model (PNG)."""
    out = tmp_path_factory.mktemp("batch-out")
    result = CliRunner().invoke(main, [str(ARCHIVE), str(out), "--format", "png", "--no-progress", "--workers", "2"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def written(batch_out) -> dict[str, np.ndarray]:
    """What colored-batch writes for the sample archive with the default model, read back (PNG:
    lossless, 16 bits kept), by input name."""
    out = batch_out
    pixels = {}
    for name in PICTURES:
        bgr = cv2.imread(str(out / Path(name).with_suffix(".png")), cv2.IMREAD_UNCHANGED)
        pixels[name] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return pixels


@pytest.fixture(scope="module")
def colorizer(tiny_fixture) -> Colorizer:
    return Colorizer(tiny_fixture)


def to_8_bits(rgb: np.ndarray) -> np.ndarray:
    return ((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def test_the_sample_archive_has_a_16_bit_picture() -> None:
    """The uint16 tests below mean something only if the sample really is 16-bit."""
    assert np.asarray(Image.open(ARCHIVE / "mount-rushmore.png")).dtype == np.uint16


@pytest.mark.parametrize("name", PICTURES)
def test_a_path_gives_the_pixels_colored_batch_writes(written, name: str) -> None:
    out = colorize(ARCHIVE / name)
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    want = written[name] if name in EIGHT_BIT else to_8_bits(written[name])  # PIL: 8 bits per channel
    assert np.array_equal(np.asarray(out), want)
    assert np.array_equal(np.asarray(colorize(str(ARCHIVE / name))), want)  # str paths too


@pytest.mark.parametrize("name", EIGHT_BIT)
def test_a_pil_image_gives_the_pixels_colored_batch_writes(written, name: str) -> None:
    """Including the EXIF-rotated portrait (turned upright, as colored-batch does) and the JPEG
    with an ICC profile (read through it)."""
    with Image.open(ARCHIVE / name) as im:
        out = colorize(im)
    assert isinstance(out, Image.Image)
    assert np.array_equal(np.asarray(out), written[name])


@pytest.mark.parametrize("name", ["astronaut-portrait.jpg", "dam.tif", "travels/igloo.png"])
def test_a_uint8_array_gives_the_pixels_colored_batch_writes(written, name: str) -> None:
    grey = np.asarray(ImageOps.exif_transpose(Image.open(ARCHIVE / name)))
    assert grey.dtype == np.uint8 and grey.ndim == 2
    out = colorize(grey)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (*grey.shape, 3)
    assert np.array_equal(out, written[name])
    # The same grey stored as RGB reads as grey, as colored-batch reads such a file.
    assert np.array_equal(colorize(np.dstack([grey] * 3)), written[name])


def test_a_uint16_array_gives_the_16_bit_pixels_colored_batch_writes(written) -> None:
    grey = np.asarray(Image.open(ARCHIVE / "mount-rushmore.png"))
    out = colorize(grey)
    assert out.dtype == np.uint16 and out.shape == (*grey.shape, 3)
    assert np.array_equal(out, written["mount-rushmore.png"])
    assert len(np.unique(out)) > 256  # really 16-bit output, not 8 bits widened


def test_strength_zero_gives_grey_and_other_settings_change_the_colours(tiny_fixture) -> None:
    grey = np.asarray(Image.open(ARCHIVE / "dam.tif"))
    plain = colorize(grey, model=tiny_fixture)
    assert (plain.max(axis=2).astype(int) - plain.min(axis=2)).mean() > 5  # the fixture does colour
    flat = colorize(grey, model=tiny_fixture, strength=0.0)
    assert (flat.max(axis=2).astype(int) - flat.min(axis=2)).max() <= 1  # no chroma left (rounding only)
    assert not np.array_equal(colorize(grey, model=tiny_fixture, strength=1.5), plain)
    assert not np.array_equal(colorize(grey, model=tiny_fixture, render_size=128), plain)
    assert np.array_equal(colorize(grey, model=tiny_fixture, render_size=64, strength=1.0), plain)  # its own size


def test_settings_match_colored_batch_with_the_same_options(tmp_path, tiny_fixture) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(ARCHIVE), str(out), "--format", "png", "--no-progress",
                                       "--model", str(tiny_fixture), "--strength", "1.4", "--render-size", "96"])
    assert result.exit_code == 0, result.output
    for name in EIGHT_BIT:
        want = cv2.cvtColor(cv2.imread(str(out / Path(name).with_suffix(".png")), cv2.IMREAD_UNCHANGED),
                            cv2.COLOR_BGR2RGB)
        got = colorize(ARCHIVE / name, model=tiny_fixture, strength=1.4, render_size=96)
        assert np.array_equal(np.asarray(got), want)


def test_one_session_serves_every_call(monkeypatch, tiny_fixture) -> None:
    opened = []
    real = api.open_session

    def counting(*args, **kwargs):
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "open_session", counting)
    monkeypatch.setattr(api, "_shared", {})
    grey = np.asarray(Image.open(ARCHIVE / "dam.tif"))
    c = Colorizer(tiny_fixture)
    c(grey), c(grey), c.colorize_many([grey, grey])
    assert len(opened) == 1
    colorize(grey, model=tiny_fixture), colorize(grey, model=str(tiny_fixture), strength=0.5)
    colorize(ARCHIVE / "dam.tif", model=tiny_fixture)
    assert len(opened) == 2  # colorize() opened the model once, and kept it


def test_colorize_many_equals_one_by_one(colorizer) -> None:
    """Six pictures: one full batch of four and a short one, of mixed kinds and sizes."""
    pictures = [ARCHIVE / "dam.tif", Image.open(ARCHIVE / "travels" / "pisa.jpg"),
                np.asarray(Image.open(ARCHIVE / "mount-rushmore.png")), str(ARCHIVE / "astronaut-portrait.jpg"),
                np.asarray(Image.open(ARCHIVE / "travels" / "igloo.png")), ARCHIVE / "travels" / "igloo.png"]
    together = colorizer.colorize_many(iter(pictures))
    assert len(together) == len(pictures)
    for picture, out in zip(pictures, together):
        one = colorizer(picture)
        assert type(one) is type(out)
        assert np.array_equal(np.asarray(one), np.asarray(out))


def test_alpha_is_kept(colorizer) -> None:
    grey = np.asarray(Image.open(ARCHIVE / "dam.tif"))
    alpha = np.linspace(0, 255, grey.size).astype(np.uint8).reshape(grey.shape)
    out = colorizer(Image.fromarray(np.dstack([grey, alpha]), "LA"))
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], alpha)
    assert np.array_equal(np.asarray(out)[..., :3], colorizer(grey))


def one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(ColoredError) as e:
        call(*args, **kwargs)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_bad_inputs_get_one_line_errors(tmp_path, monkeypatch, tiny_fixture) -> None:
    monkeypatch.setattr(api, "_colorizer_for", lambda model: Colorizer(tiny_fixture))  # any model will do
    missing = tmp_path / "nowhere.png"
    assert one_line_error(colorize, missing).startswith(f"{missing}: cannot read file")
    assert "is a folder" in one_line_error(colorize, tmp_path)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a picture at all")
    assert one_line_error(colorize, junk).startswith(f"{junk}: not a supported image")
    assert "dtype float32 is not supported" in one_line_error(colorize, np.zeros((8, 8), np.float32))
    assert "dtype int64" in one_line_error(colorize, np.zeros((8, 8), np.int64))
    assert "shape (8, 8, 4) is not H x W" in one_line_error(colorize, np.zeros((8, 8, 4), np.uint8))
    assert "shape (0, 8) has no pixels" in one_line_error(colorize, np.zeros((0, 8), np.uint8))
    assert "cannot colorize a list" in one_line_error(colorize, [[0, 1], [2, 3]])
    lab = Image.new("LAB", (8, 8))
    assert one_line_error(colorize, lab).startswith("<PIL image>: cannot take this image")
    assert one_line_error(colorize, np.zeros((8, 8), np.uint8), strength=3.0).startswith("strength 3: must be within")
    assert f"render_size 7: {tiny_fixture}" in one_line_error(colorize, np.zeros((8, 8), np.uint8), render_size=7)


def test_bad_models_get_one_line_errors(tmp_path) -> None:
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"no model here")
    assert one_line_error(Colorizer, fake).startswith(f"{fake}: not a loadable ONNX model")
    assert one_line_error(Colorizer, tmp_path / "none.onnx") == f"{tmp_path / 'none.onnx'}: no such model file"
    assert one_line_error(colorize, np.zeros((8, 8), np.uint8), model=fake).startswith(f"{fake}:")
    assert "device 'gpu': not one of auto, cpu" in one_line_error(Colorizer, device="gpu")


def test_batch_size_is_colored_batchs_default() -> None:
    """The padding that makes the pixels colored-batch's (see batch.api.BATCH_SIZE)."""
    option = next(p for p in main.params if p.name == "batch_size")
    assert api.BATCH_SIZE == option.default


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_base_modules_do_not_import_the_runtime() -> None:
    done = run_python("import sys, colored, colored.color, colored.contract, colored.errors\n"
                      "assert 'onnxruntime' not in sys.modules and 'torch' not in sys.modules, 'imported'\n"
                      "assert 'batch' not in sys.modules, 'batch imported'\n")
    assert done.returncode == 0, done.stderr


def test_the_api_imports_without_torch(tiny_fixture) -> None:
    done = run_python("import sys\nsys.modules['torch'] = None  # as where torch is not installed\n"
                      "from colored import colorize, Colorizer\nimport numpy as np\n"
                      f"out = colorize(np.full((20, 30), 128, np.uint8), model={str(tiny_fixture)!r})\n"
                      "assert out.shape == (20, 30, 3)\n")
    assert done.returncode == 0, done.stderr
    done = run_python("import sys\nfrom colored import colorize\nassert 'torch' not in sys.modules\n")
    assert done.returncode == 0, done.stderr


def test_unknown_names_are_attribute_errors() -> None:
    import colored

    with pytest.raises(AttributeError, match="no attribute 'colourise'"):
        colored.colourise  # noqa: B018
    assert {"colorize", "Colorizer", "ColoredError"} <= set(dir(colored))


def test_colorize_with_confidence_gives_the_figure_colored_batch_records(batch_out, tiny_fixture) -> None:
    """Colorizer.colorize_with_confidence: the picture and the per-picture confidence that
    colored-batch writes in its report for the same input; None for a model without the output."""
    import json

    rows = json.loads((batch_out / "colored-report.json").read_text())
    rows = rows["files"] if isinstance(rows, dict) else rows
    recorded = {r["input"]: r["confidence"] for r in rows}
    c = Colorizer()
    for name in ("dam.tif", "travels/pisa.jpg"):
        picture, figure = c.colorize_with_confidence(ARCHIVE / name)
        assert picture.size == Image.open(ARCHIVE / name).size
        assert 0.0 < figure < 1.0 and figure == pytest.approx(recorded[name], abs=1e-4)
    picture, figure = Colorizer(tiny_fixture).colorize_with_confidence(ARCHIVE / "dam.tif")
    assert figure is None and picture.mode == "RGB"
