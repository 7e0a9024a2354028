"""Per-stage CPU time of the colour path, for the benchmark's profile (bench/bench_batch.py).

The runtime marks its stages with ``with stage("decode"): ...``. Nothing is measured
unless a thread has called ``collect()``; otherwise a stage costs one thread-local
lookup, so the marks stay in the production code and the profile shows the real
path rather than a copy of it. Times are process CPU seconds (all threads), so a
profile is only meaningful when one thread runs the stages one after the other,
as the benchmark's `profile` mode does. Stages may nest (the JPEG encoder runs inside
the atomic write); each is charged its own time only, without its inner stages'.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = (
    "read + header",  # open the file, parse the container and its metadata
    "decode",  # compressed bytes -> pixels
    "colour management",  # ICC profiles, colour/grey detection
    "model input",  # the small L plane the network takes
    "ab upsample",  # network ab -> full size
    "L",  # full-size lightness of the original
    "merge",  # L + ab -> RGB
    "encode",  # pixels -> compressed bytes
    "metadata out",  # EXIF / ICC / XMP into the output
    "write",  # the output file, atomically
    "manifest",  # the resume record
)

_local = threading.local()


@contextmanager
def collect() -> Iterator[dict[str, float]]:
    """Measure the stages this thread runs inside the block; yields {stage: CPU seconds}."""
    totals: dict[str, float] = {}
    previous = getattr(_local, "totals", None), getattr(_local, "inner", None)
    _local.totals, _local.inner = totals, [0.0]
    try:
        yield totals
    finally:
        _local.totals, _local.inner = previous


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the CPU time of the block to `name` when this thread is collecting."""
    totals = getattr(_local, "totals", None)
    if totals is None:
        yield
        return
    inner = _local.inner
    inner.append(0.0)  # time of the stages nested in this one
    start = time.process_time()
    try:
        yield
    finally:
        elapsed = time.process_time() - start
        nested = inner.pop()
        inner[-1] += elapsed
        totals[name] = totals.get(name, 0.0) + elapsed - nested
