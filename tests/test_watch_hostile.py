"""colored-watch against odd entries, non-UTF-8 names and a full output disk (issue 12)."""

from __future__ import annotations

import io
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from test_batch_hostile import ODD_NAME, mount_small_tmpfs
from test_watch import Daemon, daemons, decodes, dirs, png, statuses, write_file  # noqa: F401 - fixtures


def noisy_png(seed: int, size: int = 128) -> bytes:
    """A PNG whose colorized output is ~50 KB (noise does not compress)."""
    buf = io.BytesIO()
    Image.fromarray(np.random.RandomState(seed).randint(0, 255, (size, size), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def logged(d: Daemon, name: str, src: str) -> list[dict]:
    return [e for e in d.events() if e["event"] == name and e.get("src") == src]


def test_odd_entries_get_a_log_line_and_odd_names_work(model, dirs, daemons):
    inbox, out = dirs
    write_file(inbox / ODD_NAME, png(1))  # there at start: found by the scan
    os.mkfifo(inbox / "y.png")
    os.symlink("missing.jpg", inbox / "dangling.jpg")
    d = daemons(inbox, out, model)
    d.wait_watching()
    os.symlink("loop2.jpg", inbox / "loop1.jpg")  # arriving while it runs: found by the events
    os.symlink("loop1.jpg", inbox / "loop2.jpg")
    os.mkfifo(inbox / "z.png")
    later = os.fsdecode(b"caf\xe9-later.png")
    write_file(inbox / later, png(2))
    # the scan's file and the later one may finish in either order (one pipeline, batches)
    d.wait(lambda: {ODD_NAME, later} <= set(statuses(out)) and logged(d, "failed", "loop1.jpg")
           and logged(d, "skipped", "z.png"), "the new entries")
    assert statuses(out) == {ODD_NAME: ["done"], later: ["done"]}
    assert b"M\xfcller.jpg" in os.listdir(os.fsencode(out)) and decodes(out / ODD_NAME) == (48, 48)
    assert [e["reason"] for e in logged(d, "skipped", "y.png")] == ["not a regular file (FIFO)"]
    assert logged(d, "failed", "dangling.jpg")[0]["reason"].startswith("dangling symlink")
    assert [e["reason"] for e in logged(d, "failed", "loop2.jpg")] == ["symlink loop"]
    assert logged(d, "done", ODD_NAME)  # the log line names it exactly (json.loads gives the str back)
    assert d.stop() == 0
    assert not [e for e in d.events() if e["event"] == "fatal"]


def test_full_disk_pauses_then_resumes_without_failing_files(model, dirs, daemons):
    inbox, out = dirs
    if not mount_small_tmpfs(out, "256k"):
        pytest.skip("needs root and tmpfs to fill a real disk")
    try:
        d = daemons(inbox, out, model)
        d.wait_watching()
        names = [f"p{i:02d}.png" for i in range(10)]
        for i, name in enumerate(names):
            write_file(inbox / name, noisy_png(i))
        d.wait(lambda: any(e["event"] == "disk_full" for e in d.events()), "the disk to fill")
        assert not [n for n, s in statuses(out).items() if "failed" in s]  # the disk's fault, not the files'
        assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]
        assert d.proc.poll() is None  # still running
        subprocess.run(["mount", "-o", "remount,size=8m", str(out)], check=True)  # space freed
        d.wait(lambda: any(e["event"] == "resumed" for e in d.events()), "the daemon to resume", timeout=120)
        d.wait(lambda: sorted(statuses(out)) == names, "every file", timeout=120)
        assert statuses(out) == {n: ["done"] for n in names}  # each once, none failed
        for n in names:
            assert decodes(out / n) == (128, 128)
        assert d.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(out)])


def test_library_warnings_are_the_files_notes_not_stray_lines(model, dirs, daemons):
    from test_file_notes import exif_warning, jpeg_with_bad_exif

    inbox, out = dirs
    d = daemons(inbox, out, model)
    d.wait_watching()
    write_file(inbox / "a.jpg", jpeg_with_bad_exif(271, 1))
    write_file(inbox / "b.jpg", jpeg_with_bad_exif(271, 2))  # the same warning again: noted again
    d.wait(lambda: logged(d, "done", "a.jpg") and logged(d, "done", "b.jpg"), "both files")
    for name in ("a.jpg", "b.jpg"):
        assert logged(d, "done", name)[0]["notes"] == exif_warning(271)
    assert d.stop() == 0
    stray = [line for line in d.log.read_text().splitlines() if not line.startswith("{")]
    assert not stray, stray  # stderr holds the event lines only: no warning printed beside them
