"""colored-batch end to end on real photos and odd files, with a tiny real exported model."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms
from skimage import data

from _cli import run_batch_cli_without, start_batch, wait_for_lines
from _tiny_model import strip_contract
from batch import session as session_mod
from batch.cli import main
from batch.manifest import MANIFEST_NAME
from colored.color import gray_to_lightness, rgb_to_lab

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args] + ["--no-progress", "--workers", "2"])
    return result.exit_code, result.output


def huge_png_header() -> bytes:
    """A PNG that claims 60000 x 60000 pixels: must be refused before any memory is spent on it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def jpeg_bytes(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """Real photos plus every awkward kind of input the runtime has to cope with."""
    root = tmp_path_factory.mktemp("archive") / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    camera = data.camera()  # 512x512 grey
    small = cv2.resize(camera, (160, 120), interpolation=cv2.INTER_AREA)
    colour = cv2.resize(data.astronaut(), (160, 160), interpolation=cv2.INTER_AREA)
    Image.fromarray(camera).save(root / "camera.png")
    Image.fromarray(colour).save(root / "sub" / "astronaut.jpg", quality=90)
    Image.fromarray(small.astype(np.uint16) * 257).save(root / "sub" / "gray16.png")  # I;16
    la = Image.merge("LA", [Image.fromarray(small), Image.fromarray(np.tile(np.arange(160, dtype=np.uint8), (120, 1)))])
    la.save(root / "sub" / "with_alpha.png")
    Image.fromarray(small).convert("P").save(root / "sub" / "palette.gif")
    Image.fromarray(colour).convert("CMYK").save(root / "sub" / "deeper" / "cmyk.jpg", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers rotate it 90 degrees clockwise
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    (root / "rotated.jpg").write_bytes(jpeg_bytes(Image.fromarray(small), exif=exif.tobytes(), icc_profile=icc))
    frames = [Image.fromarray(small), Image.fromarray(255 - small)]
    frames[0].save(root / "sub" / "pages.tif", save_all=True, append_images=frames[1:])
    whole = jpeg_bytes(Image.fromarray(camera))
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    (root / "huge.png").write_bytes(huge_png_header())
    (root / "notes.txt").write_text("not an image")
    return root


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def report_files(out: Path) -> dict[str, dict]:
    return {f["input"]: f for f in json.loads((out / "colored-report.json").read_text())["files"]}


def test_full_run_then_resume(archive, model, tmp_path):
    before = tree_digest(archive)
    out = tmp_path / "out"
    code, text = run_cli(archive, out, "--model", model)
    assert code == 1, text  # three files are broken
    files = report_files(out)
    status = {k: v["status"] for k, v in files.items()}
    broken = {"truncated.jpg", "corrupt.png", "huge.png"}
    assert {k for k, s in status.items() if s == "failed"} == broken
    assert {k for k, s in status.items() if s == "done"} == set(files) - broken and len(files) == 11
    assert "too many pixels" in files["huge.png"]["reason"]
    assert json.loads((out / "colored-report.json").read_text())["counts"]["done"] == 8
    with open(out / "colored-report.csv", newline="") as f:
        assert sorted(r["input"] for r in csv.DictReader(f)) == sorted(files)
    for name in broken:  # the summary names each failure with its reason, one line each
        assert f"{name}: {files[name]['reason']}" in text
    assert tree_digest(archive) == before  # inputs untouched
    assert not [p for p in out.rglob("*.tmp")]  # nothing half-written left behind

    # Full resolution: the 512x512 output keeps the original's lightness pixel by pixel.
    photo = data.camera()
    result = np.asarray(Image.open(out / "camera.png").convert("RGB"))
    assert result.shape == (512, 512, 3)
    lab = rgb_to_lab(result / 255.0)
    L_in = gray_to_lightness(photo / 255.0)
    mid = (L_in > 15) & (L_in < 85)
    assert np.abs(lab[..., 0] - L_in)[mid].max() < 0.6
    assert np.abs(lab[..., 1:]).mean() > 0.5  # and it is not grey any more

    deep = cv2.imread(str(out / "sub" / "gray16.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16 and deep.shape == (120, 160, 3)
    rgba = np.asarray(Image.open(out / "sub" / "with_alpha.png"))
    assert rgba.shape == (120, 160, 4)
    np.testing.assert_array_equal(rgba[..., 3], np.tile(np.arange(160, dtype=np.uint8), (120, 1)))
    assert Image.open(out / "sub" / "palette.png").mode == "RGB"
    assert Image.open(out / "sub" / "deeper" / "cmyk.jpg").mode == "RGB"
    with Image.open(out / "rotated.jpg") as im:
        assert im.size == (120, 160)  # upright: width and height swapped
        assert im.getexif().get(0x0112, 1) == 1
        assert im.info.get("icc_profile") == Image.open(archive / "rotated.jpg").info["icc_profile"]
    assert any("2 frames" in n for n in files["sub/pages.tif"]["notes"])
    assert "2 frames" in text  # surfaced in the summary too

    # Rerun: nothing is redone, outputs stay as they were, failures are remembered.
    outputs = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(("colored-report", "."))
               and ".colored" not in p.relative_to(out).parts]  # not the reports, manifest or lock: rewritten each run
    stamps = {p: p.stat().st_mtime_ns for p in outputs}
    code, text = run_cli(archive, out, "--model", model)
    assert code == 1
    assert {v["status"] for k, v in report_files(out).items() if k not in broken} == {"already done"}
    assert {v["status"] for k, v in report_files(out).items() if k in broken} == {"failed earlier"}
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_skip_color_leaves_colour_inputs_alone(archive, model, tmp_path):
    code, _ = run_cli(archive, tmp_path / "out", "--model", model, "--skip-color", "--format", "jpg")
    files = report_files(tmp_path / "out")
    skipped = {k for k, v in files.items() if v["status"] == "skipped"}
    assert skipped == {"sub/astronaut.jpg", "sub/deeper/cmyk.jpg"}
    assert not (tmp_path / "out" / "sub" / "astronaut.jpg").exists()
    assert (tmp_path / "out" / "camera.jpg").is_file() and code == 1


def test_retry_failed(model, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(data.camera()[::4, ::4]).save(src / "x.png")
    (out / "x.png").mkdir(parents=True)  # the output name is blocked: writing fails
    code, text = run_cli(src, out, "--model", model)
    assert code == 1 and "x.png:" in text
    (out / "x.png").rmdir()
    code, text = run_cli(src, out, "--model", model)
    assert code == 1 and report_files(out)["x.png"]["status"] == "failed earlier" and not (out / "x.png").exists()
    code, text = run_cli(src, out, "--model", model, "--retry-failed")
    assert code == 0 and report_files(out)["x.png"]["status"] == "done" and (out / "x.png").is_file()


def test_start_errors_are_one_clear_line(archive, model, tmp_path, monkeypatch):
    plain = strip_contract(model, tmp_path / "plain.onnx")
    code, text = run_cli(archive, tmp_path / "o1", "--model", plain)
    assert code == 2 and "not a ColorED model" in text and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf")
    code, text = run_cli(archive, tmp_path / "o2", "--model", junk)
    assert code == 2 and "not a loadable ONNX model" in text
    code, text = run_cli(archive, archive / "out", "--model", model)
    assert code == 2 and "inside the input folder" in text and not (archive / "out").exists()
    monkeypatch.setattr(session_mod, "DEFAULT_MODEL_RESOURCE", ("colored", "assets/no-such-model.onnx"))
    code, text = run_cli(archive, tmp_path / "o3")
    assert code == 2 and "--model" in text
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        code, text = run_cli(archive, tmp_path / "o4", "--model", model, "--device", "cuda")
        assert code == 2 and "CUDAExecutionProvider" in text
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 5))


def test_tensorrt_gets_an_engine_cache_and_the_others_plain_names(tmp_path, monkeypatch):
    monkeypatch.setenv("COLORED_CACHE_DIR", str(tmp_path / "cache"))
    trt, cuda, cpu = session_mod.provider_options(
        ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    assert trt[0] == "TensorrtExecutionProvider"
    assert trt[1]["trt_engine_cache_enable"] and trt[1]["trt_engine_cache_path"] == str(tmp_path / "cache" / "tensorrt")
    assert trt[1]["trt_timing_cache_path"] == trt[1]["trt_engine_cache_path"] and (tmp_path / "cache" / "tensorrt").is_dir()
    assert (cuda, cpu) == ("CUDAExecutionProvider", "CPUExecutionProvider")
    monkeypatch.delenv("COLORED_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert session_mod.cache_dir() == tmp_path / "xdg" / "colored"


def test_choose_providers_prefers_tensorrt_then_cuda():
    avail = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert session_mod.choose_providers("auto", avail) == avail[::-1]
    assert session_mod.choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert session_mod.choose_providers("cuda", avail) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(session_mod.SessionError, match="no TensorrtExecutionProvider"):
        session_mod.choose_providers("tensorrt", ["CPUExecutionProvider"])


def test_kill_mid_run_then_resume(model, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    photo = data.camera()
    for i in range(60):  # distinct 384x384 crops: enough work to be interrupted
        y, x = (i * 7) % 128, (i * 13) % 128
        Image.fromarray(photo[y : y + 384, x : x + 384]).save(src / f"p{i:02d}.png")
    proc = start_batch(src, out, model, "-q")
    manifest = out / MANIFEST_NAME
    wait_for_lines(proc, manifest, 5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"

    finished = [json.loads(line)["input"] for line in manifest.read_text().splitlines() if line.strip()]
    assert 5 <= len(finished) < 60
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    for name in visible:  # whatever is there under a final name is a complete image
        with Image.open(out / name) as im:
            im.load()
    assert set(finished) <= set(visible) and len(visible) <= len(finished) + 1  # at most one written, not yet recorded
    stamps = {n: (out / n).stat().st_mtime_ns for n in finished}

    code, text = run_cli(src, out, "--model", model)
    assert code == 0, text
    status = {k: v["status"] for k, v in report_files(out).items()}
    assert sorted(k for k, s in status.items() if s == "already done") == sorted(finished)
    assert sum(s == "done" for s in status.values()) == 60 - len(finished)
    assert {n: (out / n).stat().st_mtime_ns for n in finished} == stamps  # nothing done twice
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"p{i:02d}.png" for i in range(60))


def test_runtime_needs_no_torch(model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(data.camera()[::4, ::4]).save(src / "a.png")
    proc = run_batch_cli_without("torch", [src, tmp_path / "out", "--model", model, "--no-progress"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "a.png").is_file()
