"""colored-watch: the real daemon as a subprocess, with a tiny real exported model and real files.

Every wait is a bounded poll (no fixed sleeps standing in for "long enough");
short --settle/--status-interval keep the whole module within a couple of minutes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch.manifest import MANIFEST_NAME
from batch.service_log import event, setup_logging
from batch.watch.events import Pending, is_candidate
from batch.watch.moves import move_aside

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # generous bound for any one wait on a loaded 2-core machine


# ---------------------------------------------------------------- helpers


def png(seed: int, size: int = 48) -> bytes:
    """A small distinct grey PNG."""
    rng = np.random.RandomState(seed)
    pixels = (np.add.outer(np.arange(size), np.arange(size)) * 2 + rng.randint(0, 60, (size, size))).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def jpeg(seed: int, size: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(png(seed, size))).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def entries(out: Path) -> list[dict]:
    path = out / MANIFEST_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def statuses(out: Path) -> dict[str, list[str]]:
    """input -> the statuses recorded for it, in order."""
    found: dict[str, list[str]] = {}
    for e in entries(out):
        found.setdefault(e["input"], []).append(e["status"])
    return found


def decodes(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.load()
        return im.size


class Daemon:
    """`python -m batch.watch` with test-friendly timings; logs (JSON lines) go to a file."""

    def __init__(self, inbox: Path, out: Path, model: Path, *extra: str | Path, settle: float = 0.5) -> None:
        self.out = out
        self.log = out.parent / f"watch-{time.monotonic_ns()}.log"
        cmd = [sys.executable, "-m", "batch.watch", inbox, out, "--model", model, "--settle", str(settle),
               "--status-interval", "0.2", "--threads", "1", "--workers", "1", "--log-format", "json",
               "--log-level", "DEBUG", *extra]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(c) for c in cmd], cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)

    def events(self) -> list[dict]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def status(self) -> dict:
        try:
            return json.loads((self.out / ".colored" / "watch-status.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait(self, check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"gave up waiting for {what} (daemon exit code {self.proc.poll()}); log tail:\n{tail}")

    def wait_watching(self) -> None:
        self.wait(lambda: self.status().get("state") == "watching", "the startup scan to finish")

    def wait_idle(self) -> None:
        """Nothing pending, queued or in flight, in a heartbeat written after this call began."""
        since = time.time()

        def idle() -> bool:
            s = self.status()
            return bool(s) and s["queue_depth"] == 0 and s["state"] == "watching" and \
                datetime.fromisoformat(s["updated"]).timestamp() > since

        self.wait(idle, "an empty queue")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = TIMEOUT) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def daemons():
    """Start daemons through this; whatever a failing test leaves running is killed."""
    started: list[Daemon] = []

    def start(*args, **kw) -> Daemon:
        d = Daemon(*args, **kw)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


@pytest.fixture
def dirs(tmp_path) -> tuple[Path, Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return inbox, tmp_path / "out"


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# ---------------------------------------------------------------- the daemon


def slow_write(target: Path, out: Path, reopen: bool, more: Callable[[int], bool] = lambda i: i < 8) -> None:
    """Write a 96x96 PNG in chunks 0.25 s apart while `more(chunks written)`, checking that the
    daemon leaves it alone meanwhile. reopen: open and close the file for every chunk."""
    data = png(1, size=96)
    step = len(data) // 60 + 1
    f = None if reopen else open(target, "wb")
    written, i = 0, 0
    try:
        while written < len(data):
            chunk = data[written : written + step] if more(i) else data[written:]
            if f is not None:
                f.write(chunk)
                f.flush()
            else:
                with open(target, "ab") as g:
                    g.write(chunk)
            written, i = written + len(chunk), i + 1
            time.sleep(0.25)
            assert target.name not in statuses(out), f"taken before the writer finished (after {i} chunks)"
    finally:
        if f is not None:
            f.close()


@pytest.mark.parametrize("mode", ["close-write", "settle-only", "polling"])
def test_slow_writer_is_processed_only_when_complete(model, dirs, daemons, mode):
    inbox, out = dirs
    # settle-only: the writer reopens the file for every chunk (so close events mean nothing);
    # only the quiet period may decide, and it is longer than the writer's pauses.
    # polling (network mounts): no events at all, only what successive listings show.
    extra = {"close-write": [], "settle-only": ["--no-close-write"], "polling": ["--poll", "0.2"]}[mode]
    d = daemons(inbox, out, model, *extra, settle=1.0)
    d.wait_watching()
    slow_write(inbox / "slow.png", out, reopen=mode == "settle-only")
    d.wait(lambda: "slow.png" in statuses(out), "slow.png to be processed")
    d.wait_idle()
    assert statuses(out)["slow.png"] == ["done"]
    assert decodes(out / "slow.png") == (96, 96)
    assert d.stop() == 0


def test_writer_closing_between_rounds_is_retried_not_rejected(model, dirs, daemons, tmp_path):
    """Issue 22 row 2: with close-write trusted (the default), a writer that appends in several
    open/close rounds makes every close look complete. The partial file fails to decode; it must
    be tried again once it has settled, not recorded as failed and moved to --move-failed."""
    inbox, out = dirs
    rejected, done = tmp_path / "rejected", tmp_path / "done"
    d = daemons(inbox, out, model, "--move-failed", rejected, "--move-done", done, settle=1.0)
    d.wait_watching()
    slow_write(inbox / "scan.png", out, reopen=True)  # checks that nothing is recorded meanwhile
    d.wait(lambda: (done / "scan.png").exists(), "the finished file to be colorized and moved")
    d.wait_idle()
    assert statuses(out) == {"scan.png": ["done"]}
    assert decodes(out / "scan.png") == (96, 96)
    assert not rejected.exists() or not list(rejected.rglob("*"))
    retried = [e for e in d.events() if e["event"] == "retry_when_settled"]
    assert retried and all(e["src"] == "scan.png" for e in retried)
    assert d.status()["failed"] == 0
    assert d.stop() == 0


def test_file_being_written_during_the_startup_scan_waits(model, dirs, daemons):
    inbox, out = dirs
    started: list[Daemon] = []
    scanned: list[int] = []  # the chunk count when the daemon's start-up scan was over

    def more(i: int) -> bool:  # start the daemon mid-write; write two more chunks after its scan
        if i == 2:
            started.append(daemons(inbox, out, model, settle=1.0))
        if started and not scanned and started[0].status().get("state") == "watching":
            scanned.append(i)
        return not scanned or i < scanned[0] + 2

    slow_write(inbox / "slow.png", out, reopen=False, more=more)
    assert scanned, "the daemon's start-up scan was not over before the file was complete"
    d = started[0]
    d.wait(lambda: "slow.png" in statuses(out), "slow.png to be processed")
    d.wait_idle()
    assert statuses(out)["slow.png"] == ["done"]
    assert decodes(out / "slow.png") == (96, 96)
    assert d.stop() == 0


def test_moves_in_subfolders_and_partial_names(model, dirs, daemons, tmp_path):
    inbox, out = dirs
    stage = tmp_path / "stage"  # same file system, outside the inbox
    d = daemons(inbox, out, model)
    d.wait_watching()
    # Names that are never inputs, written first so they have long settled when we check.
    for name in ("e.png.part", "f.png~", ".hidden.png", ".cache/g.png", "h.jpg.crdownload", "notes.txt", "i.png.tmp"):
        write_file(inbox / name, png(2))
    write_file(stage / "a.png", png(3))
    os.rename(stage / "a.png", inbox / "a.png")  # moved in
    (inbox / "sub" / "deep").mkdir(parents=True)
    write_file(stage / "b.jpg", jpeg(4))
    os.rename(stage / "b.jpg", inbox / "sub" / "deep" / "b.jpg")  # moved into a new sub-folder
    write_file(stage / "album" / "c.png", png(5))
    write_file(stage / "album" / "inner" / "d.png", png(6))
    os.rename(stage / "album", inbox / "album")  # a whole folder moved in
    want = {"a.png", "sub/deep/b.jpg", "album/c.png", "album/inner/d.png"}
    d.wait(lambda: want <= set(statuses(out)), "the moved-in files")
    os.rename(inbox / "e.png.part", inbox / "e.png")  # the download finished
    d.wait(lambda: "e.png" in statuses(out), "the renamed download")
    d.wait_idle()

    assert statuses(out) == {name: ["done"] for name in want | {"e.png"}}
    for name in want | {"e.png"}:
        assert decodes(out / name) == (48, 48)
    status = d.status()
    assert status["pid"] == d.proc.pid and status["processed"] == 5 and status["failed"] == 0
    assert status["last_event"] and status["updated"]
    done = {e["src"] for e in d.events() if e["event"] == "done"}
    assert done == want | {"e.png"}

    # One daemon per output folder: a second one refuses to start.
    second = subprocess.run([sys.executable, "-m", "batch.watch", inbox, out, "--model", model],
                            cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert second.returncode == 2 and "already" in second.stderr and "Traceback" not in second.stderr
    assert d.stop() == 0
    assert d.status()["state"] == "stopped"
    assert any(e["event"] == "stopped" for e in d.events())


def test_burst_of_100_files_each_processed_once(model, dirs, daemons):
    inbox, out = dirs
    d = daemons(inbox, out, model, "--batch-size", "8")
    d.wait_watching()
    names = [f"set{i % 4}/img{i:03d}.png" for i in range(100)]
    for i, name in enumerate(names):
        write_file(inbox / name, png(100 + i))
    d.wait(lambda: len(statuses(out)) == 100, "100 files", timeout=120)
    d.wait_idle()
    assert statuses(out) == {name: ["done"] for name in names}
    for name in names:
        assert decodes(out / name) == (48, 48)
    assert d.status()["processed"] == 100
    assert d.stop() == 0


def test_corrupt_file_fails_once_and_is_retried_only_when_changed(model, dirs, daemons):
    inbox, out = dirs
    d = daemons(inbox, out, model)
    d.wait_watching()
    bad = inbox / "bad.jpg"
    write_file(bad, b"this is not a JPEG")
    d.wait(lambda: "bad.jpg" in statuses(out), "the corrupt file to be recorded")
    write_file(inbox / "after.png", png(7))  # the daemon keeps going
    d.wait(lambda: "after.png" in statuses(out), "the next file")
    assert statuses(out)["bad.jpg"] == ["failed"]
    assert d.status()["failed"] == 1

    st = bad.stat()  # an event for the unchanged file (same size and mtime): not tried again
    os.utime(bad, ns=(st.st_atime_ns, st.st_mtime_ns))
    d.wait(lambda: any(e["event"] == "not_retried" and e["src"] == "bad.jpg" for e in d.events()),
           "the unchanged file to be looked at again")
    assert statuses(out)["bad.jpg"] == ["failed"]

    write_file(bad, jpeg(8))  # fixed: a new fingerprint, so it is tried again
    d.wait(lambda: statuses(out)["bad.jpg"] == ["failed", "done"], "the fixed file")
    assert decodes(out / "bad.jpg") == (48, 48)
    assert d.stop() == 0


def test_move_done_and_failed_keep_paths_and_never_overwrite(model, dirs, daemons, tmp_path):
    inbox, out = dirs
    done_dir, failed_dir = tmp_path / "done", tmp_path / "failed"
    write_file(done_dir / "sub" / "good.png", b"an earlier file with this name")
    d = daemons(inbox, out, model, "--move-done", done_dir, "--move-failed", failed_dir)
    d.wait_watching()
    write_file(inbox / "sub" / "good.png", png(9))
    write_file(inbox / "sub" / "broken.png", b"\x89PNG\r\n\x1a\n truncated")
    d.wait(lambda: (failed_dir / "sub" / "broken.png").exists() and (done_dir / "sub" / "good-2.png").exists(),
           "both originals to be moved")
    assert statuses(out) == {"sub/good.png": ["done"], "sub/broken.png": ["failed"]}
    assert (done_dir / "sub" / "good.png").read_bytes() == b"an earlier file with this name"
    assert (done_dir / "sub" / "good-2.png").read_bytes() == png(9)
    assert not (inbox / "sub" / "good.png").exists() and not (inbox / "sub" / "broken.png").exists()
    assert decodes(out / "sub" / "good.png") == (48, 48)
    assert d.stop() == 0


def _busy_burst(inbox: Path, n: int) -> list[str]:
    """Bigger files, so that stopping mid-burst really is mid-burst with one worker and batch 1."""
    names = [f"burst/p{i:02d}.png" for i in range(n)]
    for i, name in enumerate(names):
        write_file(inbox / name, png(200 + i, size=320))
    return names


def _outputs(out: Path, temp_ok: bool = False) -> list[str]:
    """Relative names of the outputs; all of them decode (and no temp files, unless temp_ok)."""
    files = [p for p in out.rglob("*") if p.is_file() and ".colored" not in p.parts and p.name != MANIFEST_NAME]
    temps = [p for p in files if p.name.startswith(".")]
    assert temp_ok or not temps, f"temp files left behind: {temps}"
    finals = [p for p in files if p not in temps]
    for p in finals:
        decodes(p)
    return sorted(p.relative_to(out).as_posix() for p in finals)


def _interrupted_burst(daemons, inbox: Path, out: Path, model: Path, sig: int) -> tuple[list[str], dict, int | None]:
    """Start, drop 40 files in, send `sig` once a few are done: (names, manifest statuses, exit code)."""
    d = daemons(inbox, out, model, "--batch-size", "1")
    d.wait_watching()
    names = _busy_burst(inbox, 40)
    d.wait(lambda: len(statuses(out)) >= 3, "the first files")
    code = d.stop(sig)
    finished = statuses(out)
    assert 3 <= len(finished) < 40, "the burst was finished before the signal: not a mid-burst stop"
    assert all(s == ["done"] for s in finished.values())
    return names, finished, code


def _restart_and_finish(daemons, inbox: Path, out: Path, model: Path, names: list[str], stamps: dict) -> None:
    d = daemons(inbox, out, model, "--batch-size", "8")
    d.wait(lambda: len(statuses(out)) == len(names), "the restart to finish the rest", timeout=120)
    d.wait_idle()
    assert statuses(out) == {name: ["done"] for name in names}  # each exactly once
    assert {name: (out / name).stat().st_mtime_ns for name in stamps} == stamps  # finished ones not redone
    assert set(names) <= set(_outputs(out))  # temp files a killed run left were removed at the restart
    assert d.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_mid_burst_drains_then_restart_finishes(model, dirs, daemons, sig):
    inbox, out = dirs
    names, finished, code = _interrupted_burst(daemons, inbox, out, model, sig)
    assert code == 0
    # Drained: no temp files, and every output written was recorded (none without its manifest line).
    assert _outputs(out) == sorted(finished)
    _restart_and_finish(daemons, inbox, out, model, names, {n: (out / n).stat().st_mtime_ns for n in finished})
    assert _outputs(out) == sorted(names)


def test_kill_9_then_restart_finishes_backlog(model, dirs, daemons):
    inbox, out = dirs
    names, finished, code = _interrupted_burst(daemons, inbox, out, model, signal.SIGKILL)
    assert code == -signal.SIGKILL
    outputs = _outputs(out, temp_ok=True)  # a killed write may leave its temp file; final names are whole
    assert set(finished) <= set(outputs) and len(outputs) <= len(finished) + 1  # at most one written, unrecorded
    stamps = {n: (out / n).stat().st_mtime_ns for n in finished}
    late = [f"while-down/q{i}.png" for i in range(5)]  # arrived while the daemon was down
    for i, name in enumerate(late):
        write_file(inbox / name, png(300 + i))
    _restart_and_finish(daemons, inbox, out, model, names + late, stamps)


def test_periodic_rescan_finds_files_no_event_reported(model, dirs, daemons):
    inbox, out = dirs
    # Polling every 60 s stands in for lost events (inotify overflow, a network mount):
    # only the rescan can find this file within the test.
    d = daemons(inbox, out, model, "--poll", "60", "--rescan", "1")
    d.wait_watching()
    write_file(inbox / "quiet" / "x.png", png(10))
    d.wait(lambda: "quiet/x.png" in statuses(out), "the rescan to find the file", timeout=30)
    assert sum(e["event"] == "scan" and e["why"] == "periodic" for e in d.events()) >= 1
    assert statuses(out) == {"quiet/x.png": ["done"]}
    assert d.stop() == 0


def test_inbox_removed_is_a_fatal_error(model, dirs, daemons):
    inbox, out = dirs
    d = daemons(inbox, out, model)
    d.wait_watching()
    inbox.rmdir()
    assert d.proc.wait(TIMEOUT) == 1  # a supervisor restarts it (and start-up then says what is wrong)
    assert [e["event"] for e in d.events() if e["level"] == "ERROR"] == ["fatal"]
    assert d.status()["state"] == "failed"


@pytest.mark.parametrize("where", ["output", "move-done"])
def test_folders_inside_the_inbox_are_refused(model, dirs, where):
    inbox, out = dirs
    args = [inbox, inbox / "out"] if where == "output" else [inbox, out, "--move-done", inbox / "done"]
    proc = subprocess.run([sys.executable, "-m", "batch.watch", *map(str, args), "--model", str(model)],
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2
    assert "must not be inside" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- the parts


def test_candidate_names(tmp_path):
    root = tmp_path
    yes = ["a.png", "sub/b.JPG", "x/y/z.tiff", "c.tmp.png"]
    no = ["a.png.part", "a.jpg.crdownload", "a.png~", ".a.png", ".trash/a.png", "sub/.cache/a.png",
          "a.txt", "a", "a.png.filepart", "a.tmp"]
    assert [n for n in yes if not is_candidate(root / n, root)] == []
    assert [n for n in no if is_candidate(root / n, root)] == []
    assert not is_candidate(tmp_path.parent / "elsewhere.png", root)


def test_pending_waits_for_a_quiet_period_or_a_close(tmp_path):
    p, q = tmp_path / "a.png", tmp_path / "b.png"
    p.write_bytes(b"12345")
    q.write_bytes(b"12345")
    pending = Pending(settle=10.0)
    pending.touch(p)
    pending.touch(q, complete=True)
    now = time.monotonic()
    assert pending.take_settled(now) == [q]  # closed after writing: complete at once
    assert len(pending) == 2 and pending.take_settled(now) == []  # handed on: listed, not offered twice
    pending.release(q)
    assert pending.take_settled(now + 11) == []  # first look: remembers size and mtime
    p.write_bytes(b"1234567")  # grew without an event (polling, network mounts)
    assert pending.take_settled(now + 22) == []  # changed: another full quiet period
    assert pending.take_settled(now + 30) == []
    assert pending.take_settled(now + 33) == [p]
    pending.touch(p)  # an event after being handed on: offered again once quiet
    pending.release(p)
    assert len(pending) == 1 and pending.take_settled(now + 5) == [] and pending.take_settled(now + 50) == [p]
    pending.release(p)
    assert len(pending) == 0
    pending.touch(tmp_path / "gone.png")
    assert pending.take_settled(now + 100) == [] and len(pending) == 0  # vanished: dropped


def test_move_aside_keeps_relative_path_and_never_overwrites(tmp_path):
    inbox, target = tmp_path / "in", tmp_path / "done"
    for i in range(3):
        write_file(inbox / "a" / "x.png", f"version {i}".encode())
        moved = move_aside(inbox / "a" / "x.png", inbox, target)
        assert moved == target / "a" / ("x.png" if i == 0 else f"x-{i + 1}.png")
    assert [(target / "a" / n).read_text() for n in ("x.png", "x-2.png", "x-3.png")] == \
        ["version 0", "version 1", "version 2"]
    assert not (inbox / "a" / "x.png").exists()


def test_log_lines_are_one_event_each():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        _log_both_formats(stream)
    finally:  # this process's logging belongs to pytest
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    logfmt, js = stream.getvalue().splitlines()
    assert logfmt.split(" ", 2)[1:] == ["level=INFO", 'event=failed src="a b.png" reason="bad \\"header\\"\\nline 2" ms=3']
    assert json.loads(js)["event"] == "done" and "out" not in json.loads(js)


def _log_both_formats(stream) -> None:
    setup_logging("logfmt", "INFO", stream)
    event(logging.getLogger("t"), logging.INFO, "failed", src="a b.png", reason='bad "header"\nline 2', ms=3)
    setup_logging("json", "INFO", stream)
    event(logging.getLogger("t"), logging.INFO, "done", src="a.png", out=None)


def test_plan_folder_names_as_plan_jobs_does(tmp_path):
    from pathlib import PurePosixPath

    from batch.jobs import plan_folder, plan_jobs
    from batch.settings import Settings

    src, dst = tmp_path / "in", tmp_path / "out"
    for name in ("a.png", "a.jpg", "A.tif", "b.gif", "notes.txt", ".hidden.png", "sub/a.png", "sub/deeper/c.png"):
        write_file(src / name, png(0))
    settings = Settings(format="png", suffix="_c")
    everything = list(plan_jobs(src, dst, settings))
    for rel in ("", "sub", "sub/deeper"):
        folder = PurePosixPath(rel) if rel else PurePosixPath(".")
        expected = [j for j in everything if j.relative.parent == folder]
        assert plan_folder(src, dst, folder, settings) == expected and expected
    assert {j.output.name for j in plan_folder(src, dst, PurePosixPath("."), settings)} == \
        {"a_c.png", "a_c-jpg.png", "A_c-tif.png", "b_c.png"}  # collisions resolved as in a batch run


def test_a_file_it_did_not_write_is_kept_unless_overwrite(model, dirs, daemons):
    """As colored-batch: a file at an output's name that ColorED did not write is left alone and
    reported skipped; with --overwrite the watch replaces it."""
    inbox, out = dirs
    out.mkdir(parents=True, exist_ok=True)
    theirs = png(7, size=20)
    (out / "a.png").write_bytes(theirs)
    d = daemons(inbox, out, model)
    d.wait_watching()
    write_file(inbox / "a.png", png(8))
    d.wait(lambda: d.status().get("skipped") == 1, "a.png to be skipped")
    assert (out / "a.png").read_bytes() == theirs
    assert d.stop() == 0
    d = daemons(inbox, out, model, "--overwrite")
    d.wait(lambda: decodes(out / "a.png") == (48, 48), "a.png to be replaced by its output")
    d.wait_idle()
    assert statuses(out)["a.png"][-1] == "done"
    assert d.stop() == 0
