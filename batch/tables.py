"""Per-code-value lookup tables of the sRGB curve, shared by the colour path (batch.colorize)
and colour management (batch.icc). In a module of their own so that neither has to import
the other: images -> icc -> tables, colorize -> tables, with no cycle."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from colored.color import gray_to_lightness, srgb_to_linear


@lru_cache(maxsize=None)
def lightness_lut(bits: int) -> np.ndarray:
    """L* of every sRGB grey code value of a `bits`-deep image (256 or 65536 entries)."""
    top = (1 << bits) - 1
    return gray_to_lightness(np.arange(top + 1, dtype=np.float64) / top).astype(np.float32)


@lru_cache(maxsize=None)
def linear_lut(bits: int) -> np.ndarray:
    """Linear-light value of every sRGB code value."""
    top = (1 << bits) - 1
    return srgb_to_linear(np.arange(top + 1, dtype=np.float64) / top).astype(np.float32)
