"""Compiling the runtime's hot loops with numba: whether it is available, and how to compile.

numba is a runtime dependency, but the loops it compiles (batch.merge_jit,
batch.area_jit) all have an OpenCV equivalent, which runs where numba is missing or
COLORED_NO_JIT is set. Machine code is cached on disk (beside the module, or in the
user's cache directory), so a new process loads it in ~0.3 s instead of compiling.
"""

from __future__ import annotations

import os

try:
    if os.environ.get("COLORED_NO_JIT"):
        raise ImportError("COLORED_NO_JIT is set")
    import numba
except ImportError:
    numba = None

# No reassociation and no fused multiply-add contraction: every compilation (and the
# RGB and BGR loops) rounds every pixel the same way, so outputs do not depend on the
# machine's code path. The loops vectorise without either.
FASTMATH = {"nnan", "ninf", "nsz", "arcp", "afn"}


def available() -> bool:
    """Whether the compiled loops can run here."""
    return numba is not None


def compiled(fn):
    """numba.njit for a hot loop: no GIL, vectorising float maths, cached on disk where possible."""
    opts = dict(nogil=True, fastmath=FASTMATH, error_model="numpy", boundscheck=False)
    try:
        return numba.njit(cache=True, **opts)(fn)
    except RuntimeError:  # no writable cache directory anywhere: compile in each process
        return numba.njit(**opts)(fn)


def inline(fn):
    """numba.njit for a small helper inlined into the loops."""
    return numba.njit(inline="always", fastmath=FASTMATH)(fn)
