"""The Ray engine never hangs and takes any file name (issue 12)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from test_batch_hostile import (ODD_NAME, check_full_run, finish_after_freeing, manifest_lines, mount_small_tmpfs,
                                noisy_archive, photo)
from test_ray_engine import cluster, contract, run_ray  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def test_one_cpu_cluster_stops_at_once_with_one_line(model, tmp_path):
    """ray.init(num_cpus=1): the actor would hold the only CPU and decoding wait forever."""
    pytest.importorskip("ray")
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(3):
        photo(i).save(src / f"p{i}.png")
    code = (
        "import ray, sys\n"
        "ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
        "from batch.cli import main\n"
        f"main([{str(src)!r}, {str(out)!r}, '--model', {str(model)!r}, '--engine', 'ray', '--no-progress'])\n"
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert time.monotonic() - started < 240
    if proc.returncode == 0:  # finishing is the other acceptable outcome
        assert sorted(p.name for p in out.glob("*.png")) == ["p0.png", "p1.png", "p2.png"]
        return
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr
    assert "1 CPU" in errors[0] and "at least 2" in errors[0]
    assert "Traceback" not in proc.stderr


def test_stall_watchdog_names_what_is_waiting():
    pytest.importorskip("ray")
    from batch import ray_engine

    release = threading.Event()

    def stuck():
        yield {"result": "{}"}
        release.wait(30)  # a stage that is never scheduled

    started = time.monotonic()
    rows = ray_engine._watched(stuck(), 0.5, 3)
    assert next(rows) == {"result": "{}"}
    with pytest.raises(ray_engine.RayRunError, match=r"stalled: no file finished for 0.5 s \(1 of 3 done; free"):
        next(rows)
    assert time.monotonic() - started < 5
    release.set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli(src: Path, out: Path, model: Path, address: str, env: dict, timeout: float = 120):
    """`colored-batch SRC OUT --engine ray --address ADDRESS` in a process of its own; (process, seconds)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "batch.cli", str(src), str(out), "--model", str(model), "--engine", "ray",
         "--address", address, "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**env, "PYTHONPATH": str(REPO)})
    return proc, time.monotonic() - started


def without_token(home: Path) -> dict:
    """This process's environment with no Ray token anywhere (a HOME without ~/.ray/auth_token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**env, "HOME": str(home)}


@pytest.fixture
def token_head():
    """A real Ray head that requires token authentication; yields (port, token, scratch folder with a
    token-less home/). Only its own process group is stopped afterwards (never `ray stop`: that stops
    every Ray on the machine)."""
    pytest.importorskip("ray._private.authentication.authentication_token_setup",
                        reason="this Ray has no token authentication")
    port, token = free_port(), "colored-test-" + "7" * 32
    base = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # Ray's socket paths must stay short
    (base / "home").mkdir()
    env = {**without_token(base / "home"), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--port", str(port),
           "--num-cpus", "1", "--include-dashboard", "false", "--dashboard-port", str(free_port()),
           "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
           "--temp-dir", str(base / "ray"), "--disable-usage-stats"]
    log_path = base / "head.log"
    with open(log_path, "wb") as log:
        head = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while b"Ray runtime started" not in log_path.read_bytes():
            assert head.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield port, token, base
    finally:
        head.terminate()  # --block: on SIGTERM the head stops the processes it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)  # whatever of its own group is still there
        head.wait()
        shutil.rmtree(base, ignore_errors=True)


def test_token_auth_cluster_says_so_in_one_line(token_head, model, tmp_path):
    port, token, base = token_head
    src = tmp_path / "in"
    src.mkdir()
    photo(1).save(src / "p.png")
    proc, seconds = ray_cli(src, tmp_path / "out", model, f"127.0.0.1:{port}", without_token(base / "home"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot reach Ray at 127.0.0.1:{port}: "), proc.stderr
    assert "token authentication" in lines[0] and "RAY_AUTH_TOKEN" in lines[0] and "RAY_AUTH_MODE=token" in lines[0]
    assert "InvalidAuthToken" not in proc.stderr and not proc.stdout
    assert seconds < 30  # Ray alone retries for 20 s, printing a warning each time
    assert not (tmp_path / "out").exists()

    # The same command with the token gets past the connection: the next check is the cluster's size.
    env = {**without_token(base / "home"), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    proc, _ = ray_cli(src, tmp_path / "out", model, f"127.0.0.1:{port}", env)
    assert proc.returncode == 2 and "the Ray cluster has 1 CPU" in proc.stderr, proc.stderr


def test_token_refused_inside_ray_init_is_one_quiet_line_too(token_head, model, tmp_path):
    """Without the quick check (as for --address auto): Ray's 20 s of retry warnings are held back."""
    from batch.ray_engine import TOKEN_HINT

    port, _, base = token_head
    (tmp_path / "in").mkdir()
    code = ("from batch import ray_engine\n"
            "ray_engine._preflight = lambda address: None\n"
            "from batch.cli import main\n"
            f"main(['{tmp_path / 'in'}', '{tmp_path / 'out'}', '--model', '{model}', '--engine', 'ray', "
            f"'--address', '127.0.0.1:{port}', '--no-progress'])\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**without_token(base / "home"), "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"Error: cannot start or reach Ray at 127.0.0.1:{port}: {TOKEN_HINT}"]


def test_wrong_address_says_so_in_one_line(model, tmp_path):
    pytest.importorskip("ray")
    port = free_port()  # nothing listens there
    (tmp_path / "in").mkdir()
    proc, seconds = ray_cli(tmp_path / "in", tmp_path / "out", model, f"127.0.0.1:{port}", without_token(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"Error: cannot reach Ray at 127.0.0.1:{port}: nothing answered (Connection refused): check the host and "
        "the port (the head's GCS port: `ray start --head --port`, 6379 by default) and that the cluster is up"]
    assert seconds < 30  # Ray alone retries for minutes


def test_connection_errors_name_the_cause():
    pytest.importorskip("ray")
    from batch.ray_engine import connect_hint

    auth = ConnectionError("Failed to connect to GCS: status InvalidAuthToken: token missing")
    assert "RAY_AUTH_TOKEN" in connect_hint(auth) and "\n" not in connect_hint(auth)
    assert "check the address" in connect_hint(ConnectionError("Could not connect to 10.0.0.9:6379"))


def test_only_plain_host_port_addresses_get_the_quick_checks():
    pytest.importorskip("ray")
    from batch.ray_engine import _host_port

    assert _host_port("10.0.0.9:6379") == ("10.0.0.9", 6379)
    assert _host_port("[::1]:6379") == ("::1", 6379)
    assert [_host_port(a) for a in ("auto", "local", "ray://head:10001", "head", ":6379")] == [None] * 5


def test_plan_never_takes_every_cpu():
    pytest.importorskip("ray")
    from batch.ray_engine import plan_resources

    with pytest.raises(RuntimeError, match="1 CPU; the Ray engine needs at least 2"):
        plan_resources("auto", None, {"CPU": 1})
    gpus = plan_resources("auto", None, {"CPU": 2, "GPU": 4})
    assert gpus["actors"] * gpus["num_cpus"] <= 1  # one CPU stays for decoding


def test_non_utf8_name_on_ray(cluster, model, contract, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    photo(1).save(src / ODD_NAME)
    results = run_ray(src, out, model, contract)
    assert {k: r.status for k, r in results.items()} == {ODD_NAME: "done"}
    assert b"M\xfcller.jpg" in os.listdir(os.fsencode(out))
    with Image.open(out / ODD_NAME) as im:
        assert im.mode == "RGB"


def test_library_warnings_are_the_files_notes_on_ray(cluster, model, contract, tmp_path):
    from test_file_notes import APNG_WARNING, exif_warning, jpeg_with_bad_exif, png_with_bad_apng_chunk

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a.jpg").write_bytes(jpeg_with_bad_exif(271, 1))
    (src / "b.jpg").write_bytes(jpeg_with_bad_exif(271, 2))  # the same warning in the same worker: noted again
    (src / "c.png").write_bytes(png_with_bad_apng_chunk())
    results = run_ray(src, out, model, contract)
    assert {k: r.notes for k, r in results.items()} == {
        "a.jpg": [exif_warning(271)], "b.jpg": [exif_warning(271)], "c.png": [APNG_WARNING]}


# ---------------------------------------------------------------- a full disk


def ray_batch(*args: str, inject_enospc_after: int | None = None, tickets: Path | None = None):
    """colored-batch ARGS --engine ray in a process of its own, on a new 2-CPU Ray that ends with it.

    With `inject_enospc_after`, every output write after that many (counted over all workers in
    `tickets`) fails with ENOSPC, as on a full disk: for machines where no tmpfs can be mounted.
    """
    code = ["import ray", "ray.init(num_cpus=2, include_dashboard=False)"]
    if inject_enospc_after is not None:
        code += ["import functools", "from batch import ray_engine", "import test_ray_hostile as t",
                 f"ray_engine.finish_stage = functools.partial(t.finish_then_full, n={inject_enospc_after}, "
                 f"tickets={str(tickets)!r})"]
    code += ["from batch.cli import main", f"main({[*args, '--engine', 'ray', '--no-progress']!r})"]
    return subprocess.run([sys.executable, "-c", "\n".join(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])})


def finish_then_full(row: dict, settings, n: int, tickets: str, model_id: str | None = None) -> dict:
    """ray_engine.finish_stage on a worker, where output writes after the first `n` fail with ENOSPC."""
    from batch import images, ray_engine

    real = images.write_atomically

    def write(path, fn):
        if take_ticket(Path(tickets)) >= n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, fn)

    images.write_atomically = write
    try:
        return ray_engine.finish_stage(row, settings, model_id)
    finally:
        images.write_atomically = real


def take_ticket(folder: Path) -> int:
    """0, 1, 2, ... across processes: the first number whose file O_EXCL could create."""
    number = 0
    while True:
        try:
            os.close(os.open(folder / str(number), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return number
        except FileExistsError:
            number += 1


@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_disk_fills_mid_ray_run_then_plain_rerun_finishes(model, tmp_path, disk):
    pytest.importorskip("ray")
    src, out = tmp_path / "in", tmp_path / "out"
    names = noisy_archive(src, 12)
    args = (str(src), str(out), "--model", str(model))
    if disk == "tmpfs":
        if not mount_small_tmpfs(out, "256k"):
            pytest.skip("needs root and tmpfs to fill a real disk (the injected variant runs instead)")
        try:
            check_full_run(ray_batch(*args), out, names)
            assert 0 < len(manifest_lines(out)) < len(names)  # it did fill mid-run
            subprocess.run(["mount", "-o", "remount,size=8m", str(out)], check=True)  # space freed
            finish_after_freeing(out, src, model, names, run=ray_batch)
        finally:
            subprocess.run(["umount", "-l", str(out)])
    else:
        tickets = tmp_path / "tickets"
        tickets.mkdir()
        check_full_run(ray_batch(*args, inject_enospc_after=4, tickets=tickets), out, names)
        assert 0 < len(manifest_lines(out)) <= 4  # at most the writes that got through, once each
        finish_after_freeing(out, src, model, names, run=ray_batch)
