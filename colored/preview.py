"""Preview grids written during training: one row per fixed validation image,
columns original | grey input | prediction, so progress can be judged by eye."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from colored.atomic import atomic_path

GAP = 4  # white pixels between tiles


def preview_grid(rows: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Tile rows of equally sized uint8 RGB images (H,W,3) into one image with white gaps."""
    if not rows or not rows[0]:
        raise ValueError("preview_grid needs at least one row with one image")
    h, w, _ = rows[0][0].shape
    ncols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + GAP) - GAP, ncols * (w + GAP) - GAP, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            if tile.shape != (h, w, 3):
                raise ValueError(f"preview tile {i},{j} has shape {tile.shape}, expected {(h, w, 3)}")
            out[i * (h + GAP) : i * (h + GAP) + h, j * (w + GAP) : j * (w + GAP) + w] = tile
    return out


def save_preview(path: str | Path, rows: Sequence[Sequence[np.ndarray]]) -> Path:
    """Write the grid as PNG atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(preview_grid(rows)).save(tmp, format="PNG")
    return path
