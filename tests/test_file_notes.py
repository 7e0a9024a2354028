"""A library's warnings about a file end up in that file's notes, not on stderr (batch.file_notes)."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _tiny_model import tiny_model_path
from batch import file_notes, images

REPO = Path(__file__).resolve().parents[1]
# What the installed Pillow says about the files below (checked by the tests, not assumed).
APNG_WARNING = "UserWarning: Invalid APNG, will use default PNG image if possible"


def exif_warning(tag: int) -> str:
    return f"UserWarning: Tag data larger than file. Skipping tag {tag}"


def jpeg_with_bad_exif(tag: int, seed: int = 0) -> bytes:
    """A grey JPEG whose EXIF has one ASCII tag pointing past its end: Pillow warns while reading it."""
    entry = struct.pack("<HHII", tag, 2, 40, 4000)  # type ASCII, 40 bytes at offset 4000 (there is none)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + struct.pack("<I", 0)
    buf = io.BytesIO()
    grey = (np.add.outer(np.arange(48), np.arange(48)) * 2 + seed).astype(np.uint8)
    Image.fromarray(grey).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def png_with_bad_apng_chunk() -> bytes:
    """A grey PNG with an acTL chunk claiming 0 frames: Pillow warns while opening it."""
    buf = io.BytesIO()
    Image.fromarray(np.tile(np.arange(48, dtype=np.uint8) * 5, (48, 1))).save(buf, "PNG")
    data = buf.getvalue()
    body = b"acTL" + struct.pack(">II", 0, 0)
    chunk = struct.pack(">I", 8) + body + struct.pack(">I", zlib.crc32(body))
    return data[:33] + chunk + data[33:]  # right after IHDR (8-byte signature + 25-byte chunk)


@pytest.fixture
def warned(tmp_path) -> Path:
    """Two files with the same warning (Python would show it once), one with another, one clean."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jpg").write_bytes(jpeg_with_bad_exif(271, 1))
    (src / "b.jpg").write_bytes(jpeg_with_bad_exif(271, 2))
    (src / "c.png").write_bytes(png_with_bad_apng_chunk())
    (src / "d.jpg").write_bytes(jpeg_with_bad_exif(305, 3))
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(src / "clean.png")
    return src


EXPECTED = {"a.jpg": [exif_warning(271)], "b.jpg": [exif_warning(271)], "c.png": [APNG_WARNING],
            "d.jpg": [exif_warning(305)], "clean.png": []}


def test_library_warnings_go_to_each_files_notes_not_stderr(warned, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(  # a process of its own: pytest would record the warnings itself
        [sys.executable, "-m", "batch.cli", str(warned), str(out), "--model", str(tiny_model_path()),
         "--no-progress", "--workers", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    files = json.loads((out / "colored-report.json").read_text())["files"]
    assert {f["input"]: f["notes"] for f in files} == EXPECTED
    assert f"{exif_warning(271)} (2 files)" in proc.stdout  # the summary's notes count both


def test_two_threads_decoding_get_only_their_own_warnings(tmp_path):
    file_notes.route_library_warnings()
    paths = {}
    for tag in (271, 272):
        paths[tag] = tmp_path / f"{tag}.jpg"
        paths[tag].write_bytes(jpeg_with_bad_exif(tag))
    start = threading.Barrier(2)
    got: dict[int, list[list[str]]] = {271: [], 272: []}

    def decode_many(tag: int) -> None:
        start.wait()
        for _ in range(60):
            got[tag].append(images.decode(paths[tag]).notes)

    threads = [threading.Thread(target=decode_many, args=(tag,)) for tag in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for tag, notes in got.items():
        assert notes == [[exif_warning(tag)]] * 60  # every time, and never the other thread's


def test_interleaved_files_keep_their_own_warnings():
    """A deterministic interleaving: A is inside its file while B's file warns, then A warns."""
    file_notes.route_library_warnings()
    b_warned, a_done = threading.Event(), threading.Event()
    notes_a: list[str] = []
    notes_b: list[str] = []

    def a() -> None:
        with file_notes.collecting(notes_a):
            b_warned.wait(10)
            warnings.warn("from A")
        a_done.set()

    def b() -> None:
        with file_notes.collecting(notes_b):
            warnings.warn("from B")
            b_warned.set()
            a_done.wait(10)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert (notes_a, notes_b) == (["UserWarning: from A"], ["UserWarning: from B"])


def test_warnings_outside_a_file_are_shown_as_before_once():
    with warnings.catch_warnings(record=True) as shown:  # stands for stderr
        file_notes.route_library_warnings()
        for _ in range(3):
            warnings.warn("not about a file")  # one place, one text: shown once, as Python does
        notes: list[str] = []
        with file_notes.collecting(notes):
            warnings.warn("about this file")
            warnings.warn("about this file")
    assert [str(w.message) for w in shown] == ["not about a file"]
    assert notes == ["UserWarning: about this file"]


def test_routing_leaves_more_specific_filters_first():
    """batch.images makes Pillow's bomb warning an error (a "too many pixels" failure); routing keeps that."""
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)  # as batch.images sets it
    file_notes.route_library_warnings()
    with pytest.raises(Image.DecompressionBombWarning):
        warnings.warn("too big", Image.DecompressionBombWarning)
