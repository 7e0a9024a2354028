"""Per-thread scratch arrays, kept from one picture to the next.

A fresh multi-megabyte array is fresh pages, and faulting them in cost as much as
the arithmetic done in them (measured: the merge went from 5.1 to 3.7 CPU ms per
megapixel with its output buffer kept; bench/README.md). Each thread keeps one
buffer per purpose, grown to the largest picture it has seen; callers must be done
with an array before their thread asks for the same purpose again.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(purpose: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` and `dtype`, this thread's buffer for `purpose`."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    buffers = _local.__dict__.setdefault("buffers", {})
    buf = buffers.get(purpose)
    if buf is None or buf.size < size:
        buffers[purpose] = buf = np.empty(size, np.uint8)
    return buf[:size].view(dtype).reshape(shape)
