"""colored-batch, issue 22: the user's own files in OUT, a read-only output, SIGTERM, earlier
reports, and the small things (per-file seconds, notes of a resume, --max-pixels, ETA)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from _cli import start_batch, wait_for_lines
from _readonly import read_only_folder
from batch import cli as cli_mod
from batch import images as images_mod
from batch.cli import main
from batch import manifest as manifest_mod
from batch.manifest import MANIFEST_NAME

REPO = Path(__file__).resolve().parents[1]


def photos(src: Path, n: int, size: int = 96) -> list[str]:
    src.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    names = [f"p{i:02d}.png" for i in range(n)]
    for name in names:
        Image.fromarray(rng.randint(0, 255, (size, size), dtype=np.uint8)).save(src / name)
    return names


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args] + ["--no-progress", "--workers", "2"])
    return result.exit_code, result.output


def report(out: Path, name: str = "colored-report.json") -> dict:
    return json.loads((out / name).read_text())


def rows(out: Path, name: str = "colored-report.json") -> dict[str, dict]:
    return {f["input"]: f for f in report(out, name)["files"]}


def test_files_in_out_that_colored_batch_did_not_write_are_kept(model, tmp_path):
    """Row 1b: OUT is someone's disk; a file with an output's name is never replaced unless asked."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 3)
    out.mkdir()
    (out / "p01.png").write_bytes(b"the user's own picture")
    code, text = run(src, out, "--model", model)
    assert code == 0, text
    got = rows(out)
    assert got["p01.png"]["status"] == "skipped"
    assert got["p01.png"]["reason"] == ("p01.png already exists in the output folder and was not written by "
                                        "ColorED (--overwrite replaces it)")
    assert (out / "p01.png").read_bytes() == b"the user's own picture"
    assert got["p00.png"]["status"] == got["p02.png"]["status"] == "done"
    assert "already exists in the output folder" in text  # the summary gives the reason

    # Its own outputs it may redo (another setting), the user's file still not; --overwrite takes it.
    code, text = run(src, out, "--model", model, "--strength", "0.5")
    assert code == 0 and rows(out)["p00.png"]["status"] == "done" and rows(out)["p01.png"]["status"] == "skipped"
    code, text = run(src, out, "--model", model, "--overwrite")
    assert code == 0 and rows(out)["p01.png"]["status"] == "done"
    with Image.open(out / "p01.png") as im:
        assert im.size == (96, 96)


def test_an_output_written_but_not_yet_recorded_is_still_its_own(model, tmp_path):
    """kill -9 between an output's rename and its manifest line: the claim says it is ours, so
    the rerun redoes it instead of calling it the user's file."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 2)
    assert run(src, out, "--model", model)[0] == 0
    claims = (out / manifest_mod.CLAIMS_NAME).read_text().splitlines()
    assert sorted(json.loads(c) for c in claims) == ["p00.png", "p01.png"]
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    (out / MANIFEST_NAME).write_text("\n".join(line for line in lines if '"p01.png"' not in line) + "\n")
    code, text = run(src, out, "--model", model)
    assert code == 0 and rows(out)["p01.png"]["status"] == "done", text


def test_read_only_output_is_named_as_such_not_disk_full(model, tmp_path):
    """Row 3: at start, one line with the real reason and exit 2 ("could not start")."""
    src = tmp_path / "in"
    photos(src, 2)
    with read_only_folder(tmp_path / "ro") as ro:
        code, text = run(src, ro, "--model", model)
    assert code == 2, text
    assert "disk full" not in text and "Traceback" not in text
    assert f"{ro}: cannot write the output folder: " in text
    assert "read-only file system" in text or "permission denied" in text


def test_output_turning_read_only_midway_says_so(model, tmp_path, monkeypatch):
    """Row 3, mid-run (EROFS from the writes): the run stops as for a full disk, exit 3, and the
    line says read-only, not "disk full"."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 6)
    real, count = images_mod.write_atomically, [0]

    def write(path, fn):
        count[0] += 1
        if count[0] > 2:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        real(path, fn)

    monkeypatch.setattr(images_mod, "write_atomically", write)
    code, text = run(src, out, "--model", model, "--report", tmp_path / "r.json")
    assert code == 3, text
    assert "output folder became read-only after" in text and "disk full" not in text


def test_sigterm_drains_like_ctrl_c(model, tmp_path):
    """Row 6: SIGTERM (systemd, Kubernetes, timeout) finishes the files in flight, prints the
    summary, writes the report, says so in one line and exits 143; a rerun does the rest."""
    src, out = tmp_path / "in", tmp_path / "out"
    names = photos(src, 40, size=384)
    proc = start_batch(src, out, model, capture=True)
    wait_for_lines(proc, out / MANIFEST_NAME, 3, timeout=120)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stdout + stderr
    assert "Traceback" not in stderr
    stopped = [line for line in stderr.splitlines() if "stopped by SIGTERM" in line]
    assert len(stopped) == 1 and "finished files are kept, rerun the same command to resume" in stopped[0]
    assert "done" in stdout and "total" in stdout  # the summary table
    done = [n for n, r in rows(out).items() if r["status"] == "done"]
    assert 3 <= len(done) < len(names)
    for name in done:
        with Image.open(out / name) as im:
            im.load()
    code, text = run(src, out, "--model", model)
    assert code == 0, text
    assert sorted(n for n, r in rows(out).items() if r["status"] == "already done") == sorted(done)


def test_a_rerun_keeps_the_earlier_runs_reports(model, tmp_path):
    """Row 8c: the report of the run that did the work is not replaced by an "already done" one."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 2)
    assert run(src, out, "--model", model)[0] == 0
    first = (out / "colored-report.json").read_bytes()
    first_csv = (out / "colored-report.csv").read_bytes()
    assert run(src, out, "--model", model)[0] == 0
    assert run(src, out, "--model", model)[0] == 0
    assert (out / "colored-report.1.json").read_bytes() == first
    assert (out / "colored-report.1.csv").read_bytes() == first_csv
    assert {r["status"] for r in rows(out, "colored-report.2.json").values()} == {"already done"}
    assert {r["status"] for r in rows(out).values()} == {"already done"}
    assert not (out / "colored-report.3.json").exists()


def test_per_file_seconds_are_work_not_waiting(model, tmp_path):
    """Row 10: a file's seconds in the report are its own work, not the time it queued behind
    others (they looked cumulative: 9.7-15.2 s per file on a 15 s run)."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 24, size=256)
    result = CliRunner().invoke(main, [str(src), str(out), "--model", str(model), "--no-progress", "--workers", "1",
                                       "--batch-size", "8", "--threads", "1"])
    assert result.exit_code == 0, result.output
    doc = report(out)
    seconds = [f["seconds"] for f in doc["files"]]
    assert all(s > 0 for s in seconds)
    # decode, network and encode run on 3 threads at most: their work cannot add up to more
    assert sum(seconds) < 3 * doc["seconds"], (sum(seconds), doc["seconds"])


def test_a_resumed_run_does_not_repeat_the_earlier_notes(model, tmp_path):
    """Row 10: the notes of files an earlier run did are not this run's notes."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    frames = [Image.fromarray(np.full((40, 40), v, np.uint8)) for v in (60, 200)]
    frames[0].save(src / "pages.tif", save_all=True, append_images=frames[1:])
    code, text = run(src, out, "--model", model)
    assert code == 0 and "notes:" in text and "2 frames" in text
    code, text = run(src, out, "--model", model)
    assert code == 0 and "notes:" not in text and "2 frames" not in text


def test_too_many_pixels_names_the_option(model, tmp_path):
    """Row 10: the reason says what to do about it."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 1, size=200)
    code, text = run(src, out, "--model", model, "--max-pixels", "1000")
    assert code == 1 and "too many pixels" in text and "raise --max-pixels" in text


def test_the_colour_loops_are_ready_before_the_progress_bar(model, tmp_path, monkeypatch):
    """Row 10 / numba: the first run's compile happens before the clock and the bar start, so the
    first picture's wait does not set the ETA."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 1)
    order = []
    monkeypatch.setattr(cli_mod.colorize, "warm_up", lambda: order.append("warm up"))
    real_tqdm = cli_mod.tqdm

    def tqdm(*a, **k):
        order.append("bar")
        return real_tqdm(*a, **k)

    monkeypatch.setattr(cli_mod, "tqdm", tqdm)
    assert run(src, out, "--model", model)[0] == 0
    assert order == ["warm up", "bar"]


def test_warm_up_compiles_both_loops_in_a_fresh_process():
    """What warm_up loads: the merge and the area shrink (numba caches them on disk, cache=True)."""
    code = ("from batch import colorize, merge_kernel, area\n"
            "colorize.warm_up()\n"
            "print(len(merge_kernel.merge_jit.merge_rows.signatures), len(area.area_jit.area_shrink.signatures))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if "NoneType" in proc.stderr:
        pytest.skip("numba is not available here")
    merge_sigs, area_sigs = map(int, proc.stdout.split())
    assert merge_sigs >= 2 and area_sigs >= 2, proc.stdout


def contract_graph(tmp_path: Path, model: Path, channels: int, needs_t: bool) -> Path:
    """A small ONNX graph with the tiny model's contract: L -> 1x1 conv -> `channels` planes,
    optionally through an input T that has no default (no initializer of its name)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    meta = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    nodes, inputs = [], [helper.make_tensor_value_info("L", TensorProto.FLOAT, ["N", 1, "S", "S"])]
    source = "L"
    if needs_t:
        inputs.append(helper.make_tensor_value_info("T", TensorProto.FLOAT, []))
        nodes.append(helper.make_node("Div", ["L", "T"], ["scaled"]))
        source = "scaled"
    weight = numpy_helper.from_array(np.full((channels, 1, 1, 1), 0.1, np.float32), "w")
    nodes.append(helper.make_node("Conv", [source, "w"], ["ab"]))
    graph = helper.make_graph(nodes, "bad", inputs,
                              [helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["N", channels, "S", "S"])],
                              initializer=[weight])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    helper.set_model_props(proto, meta)
    path = tmp_path / f"bad-{channels}-{needs_t}.onnx"
    onnx.save(proto, str(path))
    return path


@pytest.mark.parametrize("channels, needs_t, said", [
    (3, False, "output 'ab' has shape ['N', 3, 'S', 'S'], the contract says (N, 2, S, S)"),
    (2, True, "requires the input 'T' with no default value"),
])
def test_a_graph_that_breaks_the_contract_is_refused_when_it_opens(model, tmp_path, channels, needs_t, said):
    """Row 8: a 3-channel output (wrong pictures, silently) or a required T (every file failing)
    stops the run at start, exit 2, naming the problem."""
    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 1)
    code, text = run(src, out, "--model", contract_graph(tmp_path, model, channels, needs_t))
    assert code == 2, text
    assert said in text and "Traceback" not in text
    assert not out.exists()  # refused before the output folder was made


def test_the_shipped_and_tiny_models_pass_the_graph_check(model):
    from batch.session import open_session

    for path in (model, None):  # None: the default model in colored/assets
        open_session(path, device="cpu", threads=1)


def test_fit_small_runs_thumbnails_at_a_size_that_holds_them(model, tmp_path, monkeypatch):
    """--fit-small: pictures below the render size go through the network at the smallest render
    size that holds them, in batches of one size; larger ones at the render size."""
    from batch import pipeline

    src = tmp_path / "in"
    photos(src / "thumbs", 5, size=40)
    photos(src / "big", 3, size=200)
    shapes = []
    real = pipeline.infer_with_confidence

    def infer(session, contract, L, *a, **kw):
        shapes.append(L.shape)
        return real(session, contract, L, *a, **kw)

    monkeypatch.setattr(pipeline, "infer_with_confidence", infer)
    code, text = run(src, tmp_path / "plain", "--model", model, "--render-size", "128")
    assert code == 0 and {s[-1] for s in shapes} == {128}
    shapes.clear()
    out = tmp_path / "fit"
    code, text = run(src, out, "--model", model, "--render-size", "128", "--fit-small", "--batch-size", "4")
    assert code == 0, text
    assert {s[-1] for s in shapes} == {64, 128}  # the tiny model's sizes: multiples of 8 from 64
    assert sum(s[0] for s in shapes if s[-1] == 64) == 5 and sum(s[0] for s in shapes if s[-1] == 128) == 3
    for name in [f"thumbs/p{i:02d}.png" for i in range(5)] + [f"big/p{i:02d}.png" for i in range(3)]:
        with Image.open(out / name) as im:
            assert im.size in ((40, 40), (200, 200))
    code, text = run(src, out, "--model", model, "--render-size", "128")  # another setting: redone
    assert code == 0 and {r["status"] for r in rows(out).values()} == {"done"}


def one_job(tmp_path: Path):
    """(the job of one photo in tmp_path/in, default Settings, the output folder)."""
    from batch.jobs import plan_jobs
    from batch.settings import Settings

    src, out = tmp_path / "in", tmp_path / "out"
    photos(src, 1)
    settings = Settings()
    return next(plan_jobs(src, out, settings)), settings, out


def changed_after_first_read(monkeypatch) -> list:
    """Make images.decode change the file's modification time right after its first read (a
    writer finishing just then); returns the list of decoded paths, filled as it goes."""
    real_decode, calls = images_mod.decode, []

    def decode_then_change(path, *a, **k):
        calls.append(path)
        decoded = real_decode(path, *a, **k)
        if len(calls) == 1:
            os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
        return decoded

    monkeypatch.setattr(images_mod, "decode", decode_then_change)
    return calls


def test_a_file_changed_between_triage_and_decode_gets_the_fingerprint_of_what_was_read(tmp_path, monkeypatch):
    """A writer still at work when colored-batch (or the watch) triaged the file: the decode may see
    the new version, so the manifest must credit the output to the version that was decoded, not to
    the one triage saw (else the finished file is colorized a second time, or a stale version is
    taken as done). A file that never holds still fails unrecorded."""
    from batch.jobs import plan_jobs
    from batch.manifest import fingerprint
    from batch.pipeline import READ_TRIES, Prepared, prepare_unchanged
    from batch.results import FAILED
    from batch.settings import Settings

    job, settings, out = one_job(tmp_path)
    before = fingerprint(job, "m", settings)
    real_decode = images_mod.decode
    calls = changed_after_first_read(monkeypatch)
    got = prepare_unchanged(job, 64, settings, before, "m")
    assert isinstance(got, Prepared) and len(calls) == 2
    assert got.fingerprint == fingerprint(job, "m", settings) != before

    def always_changing(path, *a, **k):
        calls.append(path)
        os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
        return real_decode(path, *a, **k)

    monkeypatch.setattr(images_mod, "decode", always_changing)
    calls.clear()
    got = prepare_unchanged(job, 64, settings, fingerprint(job, "m", settings), "m")
    assert len(calls) == READ_TRIES and got.status == FAILED and not got.record
    assert "changed 3 times while being read" in got.reason


def test_ray_stages_credit_the_version_read_and_refuse_a_file_changed_before_the_merge(tmp_path, monkeypatch):
    """The Ray engine's stages, called as its workers call them: the decode stage reads a file that
    changed since triage again (as the local engine does) and hands on the new fingerprint; the
    finish stage, which reads the original a second time, refuses a file changed since then
    instead of merging one version's colours into another's pixels, and that refusal is not
    recorded (the flag survives the JSON the driver reads back)."""
    pytest.importorskip("ray")
    from batch import ray_engine
    from batch.jobs import plan_jobs
    from batch.manifest import fingerprint
    from batch.results import FAILED, Result
    from batch.settings import Settings

    job, settings, out = one_job(tmp_path)
    before = fingerprint(job, "m", settings)
    real_decode = images_mod.decode
    calls = changed_after_first_read(monkeypatch)
    row = ray_engine.decode_stage(ray_engine._job_row(job, before), 64, settings, "m")
    assert row["result"] == "" and len(calls) == 2
    assert row["fingerprint"] == fingerprint(job, "m", settings) != before
    monkeypatch.setattr(images_mod, "decode", real_decode)

    row["ab"] = np.zeros((2, 16, 16), np.float32)
    job.input.write_bytes(job.input.read_bytes())  # rewritten between the two reads
    os.utime(job.input, ns=(os.stat(job.input).st_atime_ns, os.stat(job.input).st_mtime_ns + 2 * 10**9))
    got = Result.from_dict(json.loads(ray_engine.finish_stage(row, settings, "m")["result"]))
    assert got.status == FAILED and not got.record and "changed while being colorized" in got.reason
    assert not (out / job.output_relative).exists()

    row["fingerprint"] = fingerprint(job, "m", settings)  # unchanged since: written and recorded
    got = Result.from_dict(json.loads(ray_engine.finish_stage(row, settings, "m")["result"]))
    assert got.status == "done" and got.record and (out / job.output_relative).is_file()


def test_process_can_stream_results_without_keeping_them(model, tmp_path):
    """keep_results=False (the watch daemon's one pipeline for its whole life): every result still
    reaches on_result and the manifest, and none accumulates in the pipeline."""
    from batch.jobs import plan_jobs
    from batch.manifest import Manifest
    from batch.pipeline import process
    from batch.session import open_session
    from batch.settings import Settings

    src, out = tmp_path / "in", tmp_path / "out"
    names = photos(src, 6)
    session, contract = open_session(model, "cpu")
    settings = Settings()
    seen = []
    manifest = Manifest(out)
    kept = process(plan_jobs(src, out, settings), session, contract, settings, manifest=manifest,
                   on_result=seen.append, keep_results=False)
    assert kept == [] and sorted(r.input for r in seen) == names and {r.status for r in seen} == {"done"}
    again = process(plan_jobs(src, out, settings), session, contract, settings, manifest=Manifest(out))
    assert sorted(r.input for r in again) == names and {r.status for r in again} == {"already done"}
