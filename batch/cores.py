"""How many threads OpenCV may use inside the runtime's own worker threads.

The workers already keep the cores busy; OpenCV splitting each resize or colour
conversion over every core on top of that only adds hand-over cost (with 2 workers on
2 cores, one OpenCV thread per call cut the io path's CPU time per image by a tenth;
bench/README.md).

OpenCV's thread pool cannot be resized in a child forked from a process that had
started it: cv2.setNumThreads blocks forever there (seen in the test that forks a
run as `nobody`). So a forked child leaves the setting alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import cv2

_forked = False


def _mark_forked() -> None:
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_mark_forked)


def opencv_threads(workers: int) -> int:
    """OpenCV's threads per call when `workers` decoders and `workers` encoders run at once."""
    return max(1, (os.cpu_count() or 1) // (2 * max(1, workers)))


def set_opencv_threads(n: int) -> None:
    """cv2.setNumThreads(n), except in a forked child (see above)."""
    if not _forked:
        cv2.setNumThreads(n)


@contextlib.contextmanager
def opencv_threads_for(workers: int) -> Iterator[None]:
    """OpenCV at opencv_threads(workers) inside the block, as it was after it."""
    if _forked:
        yield
        return
    previous = cv2.getNumThreads()
    cv2.setNumThreads(opencv_threads(workers))
    try:
        yield
    finally:
        cv2.setNumThreads(previous)
