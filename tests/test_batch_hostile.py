"""colored-batch against a hostile archive and a full disk: nothing vanishes without a record."""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from batch import images as images_mod
from batch.cli import main
from batch.manifest import MANIFEST_NAME

REPO = Path(__file__).resolve().parents[1]
NOBODY = 65534
ODD_NAME = os.fsdecode(b"M\xfcller.jpg")  # Latin-1 bytes: not valid UTF-8


def photo(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.RandomState(seed)
    return Image.fromarray((np.add.outer(np.arange(size), np.arange(size)) + rng.randint(0, 90, (size, size)))
                           .astype(np.uint8))


def build_hostile(root: Path, outside: Path) -> dict[str, str]:
    """Every kind of entry an archive can hold; returns input -> the status the report must give it."""
    (root / "sub").mkdir(parents=True)
    (root / "locked").mkdir()
    photo(1).save(root / "good.png")
    photo(2).save(root / "sub" / "ok.jpg")
    photo(3).save(root / ODD_NAME)
    photo(4).save(root / "locked" / "hidden.png")
    photo(5).save(outside)
    (root / "zero.jpg").write_bytes(b"")
    data = (root / "good.png").read_bytes()
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    os.symlink("loop2.jpg", root / "loop1.jpg")
    os.symlink("loop1.jpg", root / "loop2.jpg")
    os.symlink("missing.jpg", root / "dangling.jpg")
    os.symlink(outside, root / "outside.png")  # a link to a file outside the archive: followed
    os.symlink("sub", root / "sublink")  # a link to a folder: not followed
    os.mkfifo(root / "y.png")
    (root / "notes.txt").write_text("a sidecar: ignored and counted")
    os.chmod(root / "locked", 0)
    return {
        "good.png": "done", "sub/ok.jpg": "done", ODD_NAME: "done", "outside.png": "done",
        "zero.jpg": "failed", "truncated.png": "failed", "loop1.jpg": "failed", "loop2.jpg": "failed",
        "dangling.jpg": "failed", "locked": "failed", "sublink": "skipped", "y.png": "skipped",
    }


def run_unprivileged(args: list[str], timeout: float = 120) -> tuple[int, str]:
    """colored-batch ARGS in a forked child that runs as `nobody` when we are root (root reads any
    folder), else in this process. Forked, not exec'd: the interpreter lives where nobody may not read."""
    if os.geteuid() != 0:
        result = CliRunner().invoke(main, args)
        return result.exit_code, result.output
    Image.init()  # the child may not be able to import Pillow's plugins lazily
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code, text = 1, ""
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = CliRunner().invoke(main, args)
            code, text = result.exit_code, result.output
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            text = f"child error: {e!r}"
        finally:
            os.write(write, json.dumps({"code": code, "text": text}).encode())
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    got = json.loads(b"".join(chunks))
    return got["code"], got["text"]


def report_rows(out: Path) -> dict[str, dict]:
    return {f["input"]: f for f in json.loads((out / "colored-report.json").read_text())["files"]}


TORN = b'{"input": "p00.png", "status": "do'  # the last line of an older run, cut by a kill


def manifest_lines(out: Path) -> list[dict]:
    """Every line of the manifest, which must parse whole (but for the torn line an older run left)."""
    return [json.loads(line) for line in (out / MANIFEST_NAME).read_bytes().splitlines() if line != TORN]


def test_hostile_archive_every_entry_reported_and_rerun_does_nothing(model, tmp_path):
    base = Path(tempfile.mkdtemp(prefix="colored-hostile-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        src, out = base / "in", base / "out"
        expected = build_hostile(src, base / "elsewhere.png")
        model_copy = base / "model.onnx"
        shutil.copy(model, model_copy)
        out.mkdir()
        if os.geteuid() == 0:
            os.chown(out, NOBODY, NOBODY)
        args = [str(src), str(out), "--model", str(model_copy), "--no-progress", "--workers", "2"]

        code, text = run_unprivileged(args)
        assert "Traceback" not in text and "child error" not in text, text
        assert code == 1, text
        rows = report_rows(out)
        assert {k: v["status"] for k, v in rows.items()} == expected, text
        assert all(v["reason"] for v in rows.values() if v["status"] != "done")
        assert rows["locked"]["reason"] == "permission denied: folder not readable"
        assert rows["loop1.jpg"]["reason"] == "symlink loop"
        assert rows["dangling.jpg"]["reason"].startswith("dangling symlink")
        assert rows["y.png"]["reason"] == "not a regular file (FIFO)"
        assert rows["sublink"]["reason"] == "symlink to a folder (not followed)"
        assert re.search(r"total\s+12\b", text) and "not images (ignored): .txt x1" in text
        # The output keeps the input's exact name bytes, and decodes.
        assert b"M\xfcller.jpg" in os.listdir(os.fsencode(out))
        with Image.open(out / ODD_NAME) as im:
            assert im.mode == "RGB" and im.size == (64, 64)
        # CSV: the raw bytes, read back with surrogateescape, name the same inputs.
        with open(out / "colored-report.csv", newline="", encoding="utf-8", errors="surrogateescape") as f:
            assert {r["input"] for r in csv.DictReader(f)} == set(expected)
        (out / "colored-report.json").read_bytes().decode("utf-8")  # the JSON report is valid UTF-8
        recorded = manifest_lines(out)
        assert {e["input"] for e in recorded if e["status"] == "done"} == {k for k, v in expected.items() if v == "done"}

        code, text = run_unprivileged(args)  # a rerun: no new work
        assert code == 1 and "Traceback" not in text, text
        rows = report_rows(out)
        assert {k for k, v in rows.items() if v["status"] == "already done"} == {
            k for k, v in expected.items() if v == "done"}
        assert set(rows) == set(expected)
        assert len(manifest_lines(out)) == len(recorded)  # nothing recorded again
    finally:
        os.chmod(base / "in" / "locked", 0o755)
        shutil.rmtree(base)


# ---------------------------------------------------------------- a full disk


def mount_small_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def run_batch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "batch.cli", *args, "--no-progress", "--workers", "2"],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def noisy_archive(src: Path, n: int) -> list[str]:
    """Photos whose PNG outputs are ~50 KB each (noise does not compress)."""
    src.mkdir(parents=True)
    rng = np.random.RandomState(0)
    names = []
    for i in range(n):
        name = f"p{i:02d}.png"
        Image.fromarray(rng.randint(0, 255, (128, 128), dtype=np.uint8)).save(src / name)
        names.append(name)
    return names


def check_full_run(proc: subprocess.CompletedProcess, out: Path, names: list[str]) -> None:
    """What a run stopped by a full disk must leave behind."""
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    full_lines = [line for line in proc.stderr.splitlines() if "output disk full after" in line]
    assert len(full_lines) == 1 and full_lines[0].endswith("free space and rerun to resume"), proc.stderr
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # no partial files
    if (out / MANIFEST_NAME).exists():
        lines = manifest_lines(out)  # parses line by line: nothing torn
        assert not [e for e in lines if e["status"] == "failed"]  # the disk's fault, not the files'
        for e in lines:  # every recorded output is whole
            with Image.open(out / e["output"]) as im:
                im.load()
    done = [n for n in names if (out / n).exists()]
    assert 0 < len(done) < len(names) or proc.returncode == 3


def finish_after_freeing(out: Path, src: Path, model: Path, names: list[str], run=run_batch) -> None:
    """A plain rerun (`run`: colored-batch in a process of its own) finishes every file, none twice."""
    proc = run(str(src), str(out), "--model", str(model))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = [e["input"] for e in manifest_lines(out) if e["status"] == "done"]
    assert sorted(done) == sorted(names)  # each file done exactly once, over both runs
    for n in names:
        with Image.open(out / n) as im:
            im.load()


def test_disk_fills_mid_run_then_plain_rerun_finishes(model, tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    names = noisy_archive(src, 12)
    mounted = mount_small_tmpfs(out, "256k")
    print("full disk:", "a 256 KiB tmpfs" if mounted else "injected ENOSPC after 4 outputs (cannot mount here)")
    try:
        if mounted:
            proc = run_batch(str(src), str(out), "--model", str(model))
        else:
            proc = run_in_process_with_enospc_after(4, [str(src), str(out), "--model", str(model)], monkeypatch)
        check_full_run(proc, out, names)
        if mounted:  # free space: the same mount, grown
            subprocess.run(["mount", "-o", "remount,size=8m", str(out)], check=True)
        finish_after_freeing(out, src, model, names)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(out)])


def run_in_process_with_enospc_after(n: int, args: list[str], monkeypatch) -> subprocess.CompletedProcess:
    """colored-batch in this process, where every output write after the first `n` fails with ENOSPC."""
    real, count = images_mod.write_atomically, [0]

    def write(path, fn):
        count[0] += 1
        if count[0] > n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, fn)

    monkeypatch.setattr(images_mod, "write_atomically", write)
    result = CliRunner().invoke(main, [*args, "--no-progress", "--workers", "2"])
    monkeypatch.undo()
    return subprocess.CompletedProcess(args, result.exit_code, result.output, result.output)


def test_disk_already_full_keeps_the_manifest_whole(model, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    names = noisy_archive(src, 3)
    if not mount_small_tmpfs(out, "64k"):
        pytest.skip("needs root and tmpfs to fill a real disk")
    try:
        (out / MANIFEST_NAME).write_bytes(TORN)
        filler = out / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # take every byte that is left
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as e:
            assert e.errno == errno.ENOSPC
        finally:
            os.close(fd)
        proc = run_batch(str(src), str(out), "--model", str(model))
        check_full_run(proc, out, names)
        assert (out / MANIFEST_NAME).read_bytes() == TORN  # untouched: not torn further
        filler.unlink()
        subprocess.run(["mount", "-o", "remount,size=8m", str(out)], check=True)
        finish_after_freeing(out, src, model, names)
    finally:
        subprocess.run(["umount", "-l", str(out)])


def test_injected_enospc_is_not_a_file_failure(model, tmp_path, monkeypatch):
    """The same without a real disk: any ENOSPC while writing an output stops the run (exit 3)."""
    src, out = tmp_path / "in", tmp_path / "out"
    names = noisy_archive(src, 6)

    def full(path, write):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(images_mod, "write_atomically", full)
    result = CliRunner().invoke(main, [str(src), str(out), "--model", str(model), "--no-progress"])
    assert result.exit_code == 3, result.output
    assert "output disk full after 0 files; free space and rerun to resume" in result.output
    assert not (out / MANIFEST_NAME).exists() or not manifest_lines(out)
    monkeypatch.undo()
    finish_after_freeing(out, src, model, names)


# ---------------------------------------------------------------- output metadata


def test_16bit_tiff_output_describes_its_own_data_and_warnings_become_notes(model, tmp_path, capfd):
    import tifffile

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    grey = (np.add.outer(np.arange(96), np.arange(96)) * 300).astype(np.uint16)
    rgb16 = np.dstack([grey, grey, grey])
    tifffile.imwrite(src / "scan.tif", rgb16, photometric="rgb")  # tifffile writes '{"shape": [96, 96, 3]}'
    with tifffile.TiffFile(src / "scan.tif") as t:
        assert "shape" in t.pages[0].description and t.pages[0].software == "tifffile.py"
    result = CliRunner().invoke(main, [str(src), str(out), "--model", str(model), "--no-progress"])
    assert result.exit_code == 0, result.output
    with tifffile.TiffFile(out / "scan.tif") as t:
        page = t.pages[0]
        assert page.shape == (96, 96, 3) and page.dtype == np.uint16
        assert "shape" not in page.description  # not the input's record any more
        assert page.software == "tifffile.py"  # carried, as its own tag
    notes = json.loads((out / "colored-report.json").read_text())["files"][0]["notes"]
    assert any("array shape dropped" in n for n in notes)
    assert "not writing extratag" not in capfd.readouterr().err


def test_too_many_pixels_is_a_failure_without_a_pillow_warning(model, tmp_path):
    """17000 x 17000 is over the default 250 MP but under twice it: where Pillow warns (and we refuse)."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    from test_batch_cli import huge_png_header  # a header-only PNG of 60000 x 60000

    header = bytearray(huge_png_header())
    header[16:24] = struct.pack(">II", 17000, 17000)
    header[29:33] = struct.pack(">I", zlib.crc32(bytes(header[12:29])))
    (src / "big.png").write_bytes(bytes(header))
    proc = run_batch(str(src), str(out), "--model", str(model))  # a process of its own: pytest records warnings
    assert proc.returncode == 1 and "big.png: too many pixels" in proc.stdout, proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr
