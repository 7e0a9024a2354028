"""The Ray engine on a small local Ray instance: same files as the local engine, failures, resume, crashes.

One Ray instance (2 CPUs, no dashboard) serves the whole module and is shut down at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms
from skimage import data

from _cli import run_batch_cli_without
from _tiny_model import tiny_model_path
from batch import icc as icc_mod
from batch.jobs import plan_jobs
from batch.manifest import MANIFEST_NAME, Manifest
from batch.pipeline import process
from batch.ray_engine import Colorizer, plan_resources, process_ray
from batch.results import ALREADY_DONE, DONE, FAILED, FAILED_EARLIER
from batch.session import open_session
from batch.settings import Settings

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
BATCH = 4  # the same batch size for both engines


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Path:
    """A local Ray; yields the marker path CrashOnce's workers see (worker env is fixed at start)."""
    ray = pytest.importorskip("ray", reason='the Ray engine is an optional extra: pip install "colored-toolkit[ray]"')
    marker = tmp_path_factory.mktemp("crash") / "crashed"
    # The workers must import this module (for CrashOnce) and the repository's packages.
    env = {"PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "COLORED_TEST_CRASH_MARKER": str(marker)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    yield marker
    ray.shutdown()


@pytest.fixture(scope="module")
def contract(model):
    return open_session(model, device="cpu")[1]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """Real photos in the layouts that matter for identical output (depth, alpha, EXIF/ICC, folders), one broken."""
    root = tmp_path_factory.mktemp("ray-archive") / "in"
    (root / "sub").mkdir(parents=True)
    camera = data.camera()
    small = cv2.resize(camera, (200, 150), interpolation=cv2.INTER_AREA)
    colour = cv2.resize(data.astronaut(), (180, 180), interpolation=cv2.INTER_AREA)
    Image.fromarray(camera).save(root / "camera.png")
    Image.fromarray(colour).save(root / "sub" / "astronaut.jpg", quality=90)
    Image.fromarray(small.astype(np.uint16) * 257).save(root / "sub" / "gray16.png")
    alpha = Image.fromarray(np.tile(np.arange(200, dtype=np.uint8), (150, 1)))
    Image.merge("LA", [Image.fromarray(small), alpha]).save(root / "sub" / "alpha.png")
    Image.fromarray(small).save(root / "scan.tif")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(small).save(root / "rotated.jpg", quality=90, exif=exif.tobytes(), icc_profile=icc)
    # Read through its profile: the workers must build the same tone table as the local engine.
    gamma18 = icc_mod.gray_profile("Gray Gamma 1.8", icc_mod.gamma_curve(1.8))
    Image.fromarray(small).save(root / "sub" / "gamma18.png", icc_profile=gamma18)
    for i in range(4):  # a few more, so the actor sees several batches
        Image.fromarray(camera[i * 40 : i * 40 + 256, 100:356]).save(root / f"crop{i}.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2)
    return root


def outputs(root: Path) -> dict[str, str]:
    """sha256 of every output image (not the manifest, reports or lock)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith((".", "colored-report"))
            and ".colored" not in p.relative_to(root).parts}


def manifest_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines() if line.strip()]


def run_ray(src: Path, out: Path, model: Path, contract, colorizer=Colorizer, **kw):
    settings = Settings()
    results = process_ray(plan_jobs(src, out, settings), model, contract, settings, manifest=Manifest(out),
                          batch_size=BATCH, colorizer=colorizer, **kw)
    return {r.input: r for r in results}


@pytest.fixture(scope="module")
def local_out(archive, model, tmp_path_factory) -> Path:
    """The reference: the same archive through the local (threaded) engine."""
    out = tmp_path_factory.mktemp("local") / "out"
    settings = Settings()
    session, contract = open_session(model, device="cpu")
    process(plan_jobs(archive, out, settings), session, contract, settings, manifest=Manifest(out),
            workers=2, batch_size=BATCH)
    return out


def test_byte_identical_to_local_engine_and_bad_file_recorded(cluster, archive, model, contract, local_out, tmp_path):
    out = tmp_path / "out"
    results = run_ray(archive, out, model, contract)
    assert len(results) == 12
    assert results["broken.png"].status == FAILED and "corrupt" in results["broken.png"].reason
    assert {k for k, r in results.items() if r.status == DONE} == set(results) - {"broken.png"}

    ours, reference = outputs(out), outputs(local_out)
    assert len(ours) == 11 and "sub/alpha.png" in ours and "sub/gamma18.png" in ours
    assert ours == reference  # byte for byte, same names

    # The manifest says the same as the local engine's, one line per file.
    lines = manifest_lines(out)
    assert sorted(e["input"] for e in lines) == sorted(results)
    local = {e["input"]: e for e in manifest_lines(local_out)}
    for e in lines:
        for key in ("status", "output", "reason", "fingerprint", "output_bytes", "notes"):
            assert e[key] == local[e["input"]][key], (e["input"], key)
    assert not list(out.rglob("*.tmp"))


def test_resume_does_nothing_then_only_the_missing_file(cluster, archive, model, contract, tmp_path):
    out = tmp_path / "out"
    run_ray(archive, out, model, contract)
    before = outputs(out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    again = run_ray(archive, out, model, contract)
    assert {r.status for k, r in again.items() if k != "broken.png"} == {ALREADY_DONE}
    assert again["broken.png"].status == FAILED_EARLIER
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # not a byte written, manifest included

    (out / "sub" / "gray16.png").unlink()
    third = run_ray(archive, out, model, contract)
    assert [k for k, r in third.items() if r.status == DONE] == ["sub/gray16.png"]
    assert sum(r.status == ALREADY_DONE for r in third.values()) == 10
    assert outputs(out) == before  # redone identically
    assert len(manifest_lines(out)) == 12 + 1  # first run, plus the one file redone


class CrashOnce(Colorizer):
    """Kills its own worker process on its first batch of the session (a marker file remembers)."""

    def __call__(self, batch):
        flag = Path(os.environ["COLORED_TEST_CRASH_MARKER"])
        if not flag.exists():
            flag.write_text("crashed")
            os._exit(1)  # no exception, no cleanup: as a segfault or an OOM kill would
        return super().__call__(batch)


def test_actor_crash_is_retried_without_duplicates(cluster, archive, model, contract, local_out, tmp_path):
    assert not cluster.exists()
    out = tmp_path / "out"
    results = run_ray(archive, out, model, contract, colorizer=CrashOnce)
    assert cluster.read_text() == "crashed"  # it really died once
    assert sum(r.status == DONE for r in results.values()) == 11
    assert outputs(out) == outputs(local_out)
    inputs = [e["input"] for e in manifest_lines(out)]
    assert sorted(inputs) == sorted(set(inputs)) == sorted(results)  # no file recorded twice
    assert not list(out.rglob("*.tmp"))


class CrashAlways(Colorizer):
    """A worker that dies on every batch: what a poison input or a broken node looks like."""

    def __call__(self, batch):
        os._exit(1)


def test_endless_crashes_stop_the_run_with_one_clear_error(cluster, archive, model, contract, tmp_path, monkeypatch):
    from batch import ray_engine

    monkeypatch.setattr(ray_engine, "TASK_RETRIES", 1)  # the same path as the default 3, sooner
    out = tmp_path / "out"
    with pytest.raises(ray_engine.RayRunError, match="^the Ray run stopped: ") as err:
        run_ray(archive, out, model, contract, colorizer=CrashAlways)
    assert "\n" not in str(err.value)
    assert not outputs(out)  # nothing written, nothing half-written
    assert not list(out.rglob("*.tmp"))


def test_a_different_model_on_the_workers_stops_the_run_with_the_reason(cluster, archive, model, tmp_path):
    from batch import ray_engine
    from batch.session import default_model_path

    if default_model_path() is None:
        pytest.skip("no packaged default model in this install")
    drivers = open_session(default_model_path(), device="cpu")[1]  # the driver checked another model
    with pytest.raises(ray_engine.RayRunError, match="differs from the driver's .*shared storage"):
        run_ray(archive, tmp_path / "out", model, drivers)


def test_short_batches_give_the_same_bytes_as_full_ones(archive):
    """A file's colours must not depend on where batch boundaries fall (session.infer's pad_to)."""
    from batch import images
    from batch.colorize import model_input
    from batch.session import default_model_path, infer

    model = default_model_path()
    if model is None:
        pytest.skip("no packaged default model in this install")
    session, contract = open_session(model, device="cpu", threads=1)
    names = ["camera.png", "scan.tif", "crop0.png", "crop1.png"]
    L = np.stack([model_input(images.decode(archive / n), contract.input_size) for n in names])
    full = infer(session, contract, L)
    for n in (1, 2, 3):
        np.testing.assert_array_equal(infer(session, contract, L[:n], pad_to=4), full[:n])


def test_resources_fit_the_cluster():
    gpu = plan_resources("auto", None, {"CPU": 32, "GPU": 4})
    assert (gpu["actors"], gpu["num_gpus"], gpu["num_cpus"], gpu["threads"]) == (4, 1, 1, 1)
    assert plan_resources("cpu", None, {"CPU": 32, "GPU": 4})["num_gpus"] == 0  # --device cpu: no GPUs taken
    two = plan_resources("auto", None, {"CPU": 2})
    assert (two["actors"], two["num_cpus"], two["threads"]) == (1, 1, 1)  # one CPU is left for decoding
    big = plan_resources("auto", None, {"CPU": 16})
    assert (big["actors"], big["num_cpus"], big["threads"]) == (4, 2, 2)
    assert plan_resources("auto", 4, {"CPU": 16})["actors"] == 2
    with pytest.raises(RuntimeError, match="no GPUs"):
        plan_resources("cuda", None, {"CPU": 8})


def test_cli_engine_ray_records_failures_in_manifest_and_report(cluster, archive, model, local_out, tmp_path,
                                                                monkeypatch):
    from click.testing import CliRunner

    from batch.cli import main

    monkeypatch.chdir(archive.parent)  # relative paths: the workers do not share the driver's cwd
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["in", str(out), "--model", str(model), "--engine", "ray", "--no-progress"])
    assert res.exit_code == 1, res.output  # one file is broken
    report = {f["input"]: f for f in json.loads((out / "colored-report.json").read_text())["files"]}
    assert report["broken.png"]["status"] == FAILED and f"broken.png: {report['broken.png']['reason']}" in res.output
    assert {k for k, f in report.items() if f["status"] == DONE} == set(report) - {"broken.png"}
    assert outputs(out) == outputs(local_out)
    assert {e["input"]: e["status"] for e in manifest_lines(out)}["broken.png"] == FAILED


def test_cli_address_needs_the_ray_engine(archive, model, tmp_path):
    from click.testing import CliRunner

    from batch.cli import main

    res = CliRunner().invoke(main, [str(archive), str(tmp_path / "o"), "--model", str(model), "--address", "auto"])
    assert res.exit_code == 2 and "--address only applies to --engine ray" in res.output
    assert not (tmp_path / "o").exists()


def test_without_ray_engine_ray_says_how_to_install(archive, tmp_path):
    proc = run_batch_cli_without("ray", [archive, tmp_path / "out", "--engine", "ray", "--no-progress"], timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == 'Error: the Ray engine needs Ray: pip install "colored-toolkit[ray]"'
    assert not proc.stdout and not (tmp_path / "out").exists()


def test_render_settings_byte_identical_to_local_engine(cluster, archive, tmp_path):
    """--render-size, --strength and --temperature reach the actors and stages as they reach the local engine."""
    model = tiny_model_path(64, "classification")
    session, contract = open_session(model, device="cpu")
    settings = Settings(render_size=128, strength=1.5, temperature=0.8)
    local = tmp_path / "local"
    process(plan_jobs(archive, local, settings), session, contract, settings, manifest=Manifest(local),
            workers=2, batch_size=BATCH)
    out = tmp_path / "ray"
    results = process_ray(plan_jobs(archive, out, settings), model, contract, settings, manifest=Manifest(out),
                          batch_size=BATCH)
    assert sum(r.status == DONE for r in results) == 11
    assert outputs(out) == outputs(local)
    plain = tmp_path / "plain"
    process(plan_jobs(archive, plain, Settings()), session, contract, Settings(), workers=2, batch_size=BATCH)
    assert outputs(plain).keys() == outputs(out).keys() and outputs(plain) != outputs(out)
    fps = {e["input"]: e["fingerprint"] for e in manifest_lines(local)}
    assert all(fps[e["input"]] == e["fingerprint"] for e in manifest_lines(out))
    # The classification model's confidence figure travels through the actors like the colours.
    conf = {e["input"]: e.get("confidence") for e in manifest_lines(local)}
    assert sum(v is not None for v in conf.values()) == 11
    assert {e["input"]: e.get("confidence") for e in manifest_lines(out)} == pytest.approx(conf, abs=1e-4)
