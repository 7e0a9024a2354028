"""One writer per output folder (batch.output_lock), and the temp files a killed run leaves behind.

The lock is held by real second processes: a colored-watch daemon, a colored-batch run,
or a small script that takes it the way both commands do.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from batch.cli import main
from batch.manifest import MANIFEST_NAME
from batch.output_lock import LOCK_NAME, _holder, claim_output
from colored.atomic import TEMP_NAME, atomic_path, is_temp_name

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # generous bound for any one wait on a loaded 2-core machine
BUSY = "is already in use by {holder}; wait for it to finish or use another output folder"
LOOK_ALIKES = [".DS_Store", ".a.jpg", ".colored", "x.tmp", ".x.tmp", ".a.jpg.tmp", "a.jpg.k3j_x9ab.tmp",
               ".a.jpg.k3j_x9ab.tmp.png", ".a.jpg.K3J_X9AB.tmp", ".a.jpg.k3j_x9.tmp", ".a.jpg.k3j_x9ab.tmpx",
               ".colored-manifest.jsonl", "..k3j_x9ab.tmp"]
# colored-batch on a slow disk: every atomic write stays in flight (temp file present) for a while,
# so that a kill -9 lands in the middle of one.
SLOW_DISK_BATCH = """\
import sys, time
from colored import atomic
fsync = atomic._fsync
def slow_fsync(path, flags):
    time.sleep(0.2)
    fsync(path, flags)
atomic._fsync = slow_fsync
from batch.cli import main
main(sys.argv[1:])
"""


def run_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args] + ["--no-progress", "--workers", "1", "--threads", "1"])
    return result.exit_code, result.output


def photos(root: Path, n: int, size: int) -> list[str]:
    """n distinct grey crops of a real photo, spread over nested folders: their relative names."""
    camera = data.camera()
    names = [f"{'ab'[i % 2]}/{'deep/' * (i % 3 == 0)}p{i:02d}.png" for i in range(n)]
    for i, name in enumerate(names):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        y, x = (i * 7) % (512 - size), (i * 13) % (512 - size)
        Image.fromarray(camera[y : y + size, x : x + size]).save(root / name)
    return names


def temps(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if ".tmp" in p.name)


def start_holder(out: Path, command: str) -> subprocess.Popen:
    """A process that takes the output lock as the commands do and keeps it until its stdin closes."""
    code = ("import sys; from pathlib import Path; from batch.output_lock import take_lock\n"
            "lock = take_lock(Path(sys.argv[1]), sys.argv[2]); print('locked', flush=True); sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out), command], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def wait_for(check, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what} (exit code {proc.poll()})")


def recorded(out: Path) -> list[str]:
    """Inputs in the manifest; a line being written (or torn by kill -9) is not counted."""
    manifest = out / MANIFEST_NAME
    found = []
    for line in manifest.read_text().splitlines() if manifest.exists() else []:
        try:
            found.append(json.loads(line)["input"])
        except ValueError:
            pass
    return found


# ---------------------------------------------------------------- temp names


@pytest.mark.parametrize("keep_suffix", [True, False])
def test_temp_name_pattern_matches_what_atomic_path_makes(tmp_path, keep_suffix):
    made = []
    for target in ("a.jpg", "photo.tiff", "x.tar.gz", "Makefile", ".hidden", "a b.png", "colored-report.json"):
        for _ in range(5):  # the random part differs every time
            with atomic_path(tmp_path / target, keep_suffix=keep_suffix) as tmp:
                made.append(tmp.name)
                tmp.write_bytes(b"")
    assert len(set(made)) == len(made)
    assert [n for n in made if not is_temp_name(n)] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(  # all were replaced: only the targets remain
        ["a.jpg", "photo.tiff", "x.tar.gz", "Makefile", ".hidden", "a b.png", "colored-report.json"])


def test_temp_name_pattern_leaves_look_alikes():
    assert [n for n in LOOK_ALIKES if is_temp_name(n)] == []
    assert TEMP_NAME.fullmatch(".a.jpg.k3j_x9ab.tmp.jpg") and TEMP_NAME.fullmatch(".a.jpg.k3j_x9ab.tmp")


# ---------------------------------------------------------------- the sweep


def test_stale_temps_removed_only_inside_the_output_folder(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "elsewhere"
    stale = [".a.jpg.k3j_x9ab.tmp", "2024/may/.b.png.q1w2e3r4.tmp", ".colored-report.json.zz9_00aa.tmp.json",
             ".colored/.watch-status.json.a1b2c3d4.tmp", "2024/.f.jpg.k3j_x9ab.tmp/.g.png.abcdefgh.tmp"]
    kept = [*LOOK_ALIKES[:2], *(f"2024/may/{n}" for n in LOOK_ALIKES[3:]), "2024/may/b.png", MANIFEST_NAME]
    for name in stale + kept:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"x")
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / ".c.jpg.k3j_x9ab.tmp").write_bytes(b"not ours")
    (outside / "target.jpg").write_bytes(b"not ours")
    (out / "linked").symlink_to(outside, target_is_directory=True)  # a link out of the tree: not entered
    (out / ".d.jpg.k3j_x9ab.tmp").symlink_to(outside / "target.jpg")  # a link with a temp name: not a regular file
    os.mkfifo(out / "2024" / ".e.jpg.k3j_x9ab.tmp")  # neither is a fifo
    before_outside = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}

    lock, removed = claim_output(out, "colored-batch")
    lock.release()

    assert removed == len(stale)
    assert not any((out / name).exists() for name in stale)
    assert all((out / name).is_file() for name in kept)
    assert (out / "2024" / ".f.jpg.k3j_x9ab.tmp").is_dir()  # a folder with a temp name stays
    assert (out / ".d.jpg.k3j_x9ab.tmp").is_symlink() and (out / "2024" / ".e.jpg.k3j_x9ab.tmp").is_fifo()
    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == before_outside


def test_holder_named_from_what_it_wrote():
    assert _holder(io.StringIO("1234 colored-watch nas01\n")) == "colored-watch (pid 1234 on nas01)"
    assert _holder(io.StringIO(f"1234 colored-batch {socket.gethostname()}\n")) == "colored-batch (pid 1234)"
    assert _holder(io.StringIO("1234\n")) == "another colored-batch or colored-watch (pid 1234)"  # older daemons
    assert _holder(io.StringIO("")) == "another colored-batch or colored-watch"


# ---------------------------------------------------------------- one writer per output folder


def test_colored_batch_refused_while_colored_watch_runs(model, tmp_path):
    src, inbox, out = tmp_path / "in", tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    photos(src, 2, 64)
    for stale in ("old/.x.png.k3j_x9ab.tmp", ".colored/.watch-status.json.q1w2e3r4.tmp"):  # a killed daemon's
        (out / stale).parent.mkdir(parents=True, exist_ok=True)
        (out / stale).write_bytes(b"half written")
    cmd = [sys.executable, "-m", "batch.watch", inbox, out, "--model", model, "--threads", "1", "--workers", "1"]
    with open(tmp_path / "watch.log", "wb") as log:
        daemon = subprocess.Popen([str(c) for c in cmd], cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(lambda: (out / LOCK_NAME).exists() and (out / LOCK_NAME).read_text().startswith(f"{daemon.pid} "),
                 "the daemon to take the lock", daemon)
        batch = subprocess.run([sys.executable, "-m", "batch.cli", src, out, "--model", model, "--no-progress", "-q"],
                               check=False, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        assert batch.returncode == 2, batch.stderr
        holder = f"colored-watch (pid {daemon.pid})"
        assert batch.stderr.strip() == f"Error: {out} " + BUSY.format(holder=holder)
        assert not batch.stdout and not (out / MANIFEST_NAME).exists()  # nothing was written
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(TIMEOUT) == 0
    finally:
        daemon.kill()
        daemon.wait()
    assert "event=stale_temps_removed count=2 " in (tmp_path / "watch.log").read_text()
    assert temps(out) == []
    code, text = run_cli(src, out, "--model", model)  # the folder is free again
    assert code == 0, text
    assert sorted(recorded(out)) == ["a/deep/p00.png", "b/p01.png"]


def test_colored_watch_refused_then_the_lock_dies_with_its_holder(model, tmp_path):
    src, inbox, out = tmp_path / "in", tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    photos(src, 1, 64)
    holder = start_holder(out, "colored-batch")
    try:
        watch = subprocess.run([sys.executable, "-m", "batch.watch", inbox, out, "--model", model],
                               check=False, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
        assert watch.returncode == 2, watch.stderr
        assert watch.stderr.strip() == f"Error: {out} " + BUSY.format(holder=f"colored-batch (pid {holder.pid})")
        code, text = run_cli(src, out, "--model", model)  # colored-batch is refused the same way
        assert code == 2 and text.strip() == f"Error: {out} " + BUSY.format(holder=f"colored-batch (pid {holder.pid})")
    finally:
        holder.kill()  # kill -9: the kernel drops the flock with the process
        holder.communicate()
    assert holder.returncode == -signal.SIGKILL
    code, text = run_cli(src, out, "--model", model)
    assert code == 0, text
    assert recorded(out) == ["a/deep/p00.png"]


# ---------------------------------------------------------------- a real crash


def test_kill_9_mid_write_then_rerun_removes_its_temp_files(model, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    names = photos(src, 10, 128)
    args = [str(a) for a in (src, out, "--model", model, "--no-progress")]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_DISK_BATCH, *args, "--workers", "1", "--batch-size", "1"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(recorded(out)) >= 1, "the first file", proc)
        # A second colored-batch on the same folder while the first one writes: refused, touches nothing.
        code, text = run_cli(src, out, "--model", model)
        assert proc.poll() is None, "the first run finished before the second one started: not a concurrent run"
        assert code == 2 and text.strip() == f"Error: {out} " + BUSY.format(holder=f"colored-batch (pid {proc.pid})")
        wait_for(lambda: len(recorded(out)) >= 3 and temps(out), "a write in flight", proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert 3 <= len(recorded(out)) < len(names)
    killed_mid_write = temps(out)
    assert killed_mid_write and all(is_temp_name(p.name) for p in killed_mid_write)
    # More of what interrupted runs leave, in other folders; and a look-alike that must stay.
    for stale in ("a/deep/.p90.png.k3j_x9ab.tmp", "b/.p91.png.q1w2e3r4.tmp", ".colored-report.json.zz9_00aa.tmp.json"):
        (out / stale).parent.mkdir(parents=True, exist_ok=True)
        (out / stale).write_bytes(b"\x89PNG half written")
    (out / "b" / ".notes.tmp").write_bytes(b"a look-alike: stays")

    rerun = subprocess.run([sys.executable, "-m", "batch.cli", *args], check=False, cwd=REPO, capture_output=True,
                           text=True, timeout=TIMEOUT)
    assert rerun.returncode == 0, rerun.stderr
    assert f"removed {len(killed_mid_write) + 3} stale temp files left by an interrupted run" in rerun.stderr
    assert temps(out) == [out / "b" / ".notes.tmp"]
    assert sorted(recorded(out)) == sorted(names)
    for name in names:  # every output is a whole image
        with Image.open(out / name) as im:
            im.load()
            assert im.size == (128, 128)
