"""One timed colored-batch pass (process() with a manifest, as the command runs it), shared by
the benchmarks that compare two settings or two models side by side."""

from __future__ import annotations

import time
from pathlib import Path


def timed_pass(src: Path, out: Path, model: str | Path | None, settings, workers: int, batch_size: int,
               threads: int | None = None) -> tuple[float, list]:
    """(images/s, the results) of colorizing every picture of `src` into `out`; every one must succeed."""
    from batch.colorize import warm_up
    from batch.jobs import plan_jobs
    from batch.manifest import Manifest
    from batch.pipeline import process
    from batch.session import open_session

    session, contract = open_session(model, device="cpu", threads=threads)
    warm_up()
    jobs = list(plan_jobs(src, out, settings))
    t0 = time.perf_counter()
    results = process(jobs, session, contract, settings, manifest=Manifest(out), workers=workers,
                      batch_size=batch_size)
    elapsed = time.perf_counter() - t0
    assert all(r.status == "done" for r in results), [r for r in results if r.status != "done"][:3]
    return len(results) / elapsed, results
