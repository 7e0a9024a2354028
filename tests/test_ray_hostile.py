"""The Ray engine never hangs and takes any file name (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from test_batch_hostile import ODD_NAME, photo
from test_ray_engine import cluster, contract, model, run_ray  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[1]


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


def test_connection_errors_name_the_cause():
    pytest.importorskip("ray")
    from batch.ray_engine import connect_hint

    auth = ConnectionError("Failed to connect to GCS: status InvalidAuthToken: token missing")
    assert "RAY_AUTH_TOKEN" in connect_hint(auth) and "\n" not in connect_hint(auth)
    assert "check the address" in connect_hint(ConnectionError("Could not connect to 10.0.0.9:6379"))


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
