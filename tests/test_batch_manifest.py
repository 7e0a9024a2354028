"""The resume manifest: what counts as done, torn lines, several writers."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

from batch.jobs import plan_jobs
from batch.manifest import MANIFEST_NAME, Manifest, fingerprint
from batch.results import DONE, FAILED, Result
from batch.settings import Settings


def one_job(tmp_path: Path, settings: Settings = Settings()):
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    (src / "a.png").write_bytes(b"input bytes")
    (job,) = plan_jobs(src, tmp_path / "out", settings)
    return job


def done(job, fp: str) -> Result:
    job.output.parent.mkdir(parents=True, exist_ok=True)
    job.output.write_bytes(b"colorized")
    return Result(str(job.relative), str(job.output_relative), DONE, fingerprint=fp, output_bytes=9)


def test_done_only_with_matching_fingerprint_and_intact_output(tmp_path):
    job = one_job(tmp_path)
    fp = fingerprint(job, "model-1", Settings())
    Manifest(tmp_path / "out").record(done(job, fp))
    m = Manifest(tmp_path / "out")  # a new run reads it back
    assert m.is_done(job, fp)
    assert not m.is_done(job, fingerprint(job, "model-2", Settings()))  # other model
    assert fingerprint(job, "model-1", Settings(quality=80)) != fp  # other settings
    job.output.write_bytes(b"trunc")  # an output that is not what was recorded
    assert not m.is_done(job, fp)
    job.output.unlink()
    assert not m.is_done(job, fp)
    os.utime(job.input, ns=(0, 0))  # the input changed since
    assert fingerprint(job, "model-1", Settings()) != fp


def test_torn_last_line_is_ignored_and_later_records_stay_readable(tmp_path):
    job = one_job(tmp_path)
    fp = fingerprint(job, "m", Settings())
    m = Manifest(tmp_path / "out")
    m.record(Result(str(job.relative), None, FAILED, reason="boom", fingerprint=fp))
    with open(tmp_path / "out" / MANIFEST_NAME, "ab") as f:
        f.write(b'{"input": "a.png", "status": "do')  # what kill -9 mid-write could leave
    assert Manifest(tmp_path / "out").failed_before(job, fp).reason == "boom"
    Manifest(tmp_path / "out").record(done(job, fp))
    m2 = Manifest(tmp_path / "out")
    assert m2.is_done(job, fp) and m2.failed_before(job, fp) is None  # the last entry wins


def _append_many(root: str, tag: str, n: int) -> None:
    m = Manifest(root)
    for i in range(n):
        m.record(Result(f"{tag}/{i}.png", None, FAILED, reason="x" * 300, fingerprint=str(i)))


def test_several_processes_append_whole_lines(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    # enough writers and lines that a torn-tail check racing another writer's
    # append (it used to add stray blank lines) shows up
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), tag, 400)) for tag in "abc"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = (tmp_path / MANIFEST_NAME).read_text().splitlines()
    assert len(lines) == 1200 and all(lines)
    assert {json.loads(line)["input"] for line in lines} == {f"{t}/{i}.png" for t in "abc" for i in range(400)}
    m = Manifest(tmp_path)
    before = len(m)
    _append_many(str(tmp_path), "z", 3)
    m.refresh()  # picks up what another writer appended since
    assert len(m) == before + 3
