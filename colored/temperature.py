"""Choose the annealed-mean temperature of a classification model on validation photos.

The temperature T of Zhang et al.'s annealed mean trades vividness for accuracy: low T
follows the most likely colour bins (saturated, sometimes wrong), high T averages over
them (safer, browner). The network is the same at every T, so the choice is made after
training, on the run's validation photos, through the same decode / resize / merge path
as colored-batch (the torch model stands in for onnxruntime, and its logits are computed
once per photo and decoded at every T).

Rule: the lowest T on the grid whose mean PSNR is at least the grey baseline's (the most
colourful output that is not less accurate than no colour at all); when no T reaches it,
the T with the highest PSNR.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from colored.evaluate import GRAY, Colorizer, Photo, evaluate
from colored.model import ColorizationNet

DEFAULT_GRID = (0.2, 0.3, 0.38, 0.5, 0.65, 0.8, 1.0)


class LogitCache:
    """Runs the model once per grey photo (as colored-batch prepares it) and keeps its logits."""

    def __init__(self, model: ColorizationNet, size: int) -> None:
        self.model, self.size = model.eval(), size
        self._logits: dict[int, torch.Tensor] = {}

    def logits(self, gray_u8: np.ndarray) -> torch.Tensor:
        from batch.colorize import model_input

        key = id(gray_u8)
        if key not in self._logits:
            L = torch.from_numpy(model_input(_decoded(gray_u8), self.size)[None])
            with torch.no_grad():
                self._logits[key] = self.model(L)
        return self._logits[key]

    def colorizer(self, temperature: float) -> Colorizer:
        from batch.colorize import merge

        centers = self.model.bin_centers

        def colorize(gray_u8: np.ndarray) -> np.ndarray:
            logits = self.logits(gray_u8)
            p = torch.softmax(logits / temperature, dim=1)
            ab = torch.einsum("nqhw,qc->nchw", p, centers)
            ab = torch.nn.functional.interpolate(ab, scale_factor=self.model.head_stride, mode="bilinear", align_corners=False)
            return merge(_decoded(gray_u8), ab[0].numpy())

        return colorize


def _decoded(gray_u8: np.ndarray):
    from batch.images import DecodedImage

    return DecodedImage(
        path=Path("<val>"), pixels=gray_u8, alpha=None, bit_depth=8, format="PNG",
        exif=None, icc_profile=None, xmp=None, is_color=False,
    )


@dataclasses.dataclass
class Sweep:
    chosen: float
    rows: list[dict]  # one per temperature: temperature, psnr, auc, colorfulness, recalls
    gray_psnr: float
    rule: str

    def markdown(self) -> str:
        keys = ("psnr", "auc", "auc_chroma20", "colorfulness", "green_recall", "blue_recall", "red_recall")
        lines = ["| T | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for r in self.rows:
            mark = " (chosen)" if r["temperature"] == self.chosen else ""
            lines.append(f"| {r['temperature']:g}{mark} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")
        lines.append(f"\ngrey baseline PSNR {self.gray_psnr:.3f}; rule: {self.rule}")
        return "\n".join(lines)


def sweep(model: ColorizationNet, photos: Sequence[Photo], size: int, grid: Sequence[float] = DEFAULT_GRID,
          progress: bool = False) -> Sweep:
    """Score every T of `grid` on `photos` and pick one by the module's rule."""
    if model.config.head != "classification":
        raise ValueError("only classification models have an annealed-mean temperature")
    cache = LogitCache(model, size)
    colorizers = {f"T={t:g}": cache.colorizer(t) for t in sorted(grid)}
    report, _ = evaluate(photos, colorizers, keep=[], progress=progress)
    by_name = {m.name: m for m in report.methods}
    gray = by_name[GRAY].psnr
    rows = []
    for t in sorted(grid):
        m = by_name[f"T={t:g}"]
        rows.append({"temperature": t, **{k: getattr(m, k) for k in (
            "psnr", "auc", "auc_chroma20", "colorfulness", "green_recall", "blue_recall", "red_recall")}})
    at_least_gray = [r for r in rows if r["psnr"] >= gray]
    if at_least_gray:
        chosen = min(r["temperature"] for r in at_least_gray)
        rule = "lowest T with PSNR >= grey"
    else:
        chosen = max(rows, key=lambda r: r["psnr"])["temperature"]
        rule = "no T reaches the grey PSNR: highest PSNR"
    return Sweep(chosen=chosen, rows=rows, gray_psnr=gray, rule=rule)
