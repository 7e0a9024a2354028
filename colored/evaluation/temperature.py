"""Choose the decode of a classification model on validation photos: temperature and strength.

The temperature T of Zhang et al.'s annealed mean trades vividness for accuracy: low T
follows the most likely colour bins (saturated, sometimes wrong), high T averages over
them. A chroma scale s < 1 (the model's `chroma_scale`) tones the decoded colour down
uniformly. The network is the same for every (T, s), so the choice is made after training,
on the run's validation photos, through the same decode / resize / merge path as
colored-batch (the torch model stands in for onnxruntime; its logits are computed once per
photo and decoded for every candidate).

Rule: every candidate is checked on the validation photos against the acceptance checks of
the default model (issue 19): PSNR at least PSNR_MARGIN above the grey image's and above its own
constant tint's (its mean ab laid on every photo); AuC at least AUC_MARGIN above its tint's;
green, blue and red recall at least RECALL_FLOOR %; mean colourfulness at least
COLORFULNESS_FLOOR; false colour (neutral pixels painted clearly coloured) at most
FALSE_COLOUR_CEILING %. The three comparisons (PSNR against grey and tint, AuC against tint) are
made photo by photo: a check holds when the mean difference minus its standard error still
clears the target, so that a check met by a hair on a hundred photos (a difference the next
hundred would not repeat) does not count. The candidate meeting the most checks wins; among
those, the most colourful. A colorizer has to be both accurate (PSNR, AuC) and colourful (the rest): ranking
by accuracy alone picks a sepia model, by colour alone a garish one; the tie-break prefers
colour because the checks already hold the accuracy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from colored.evaluation.evaluate import GRAY, Colorizer, Photo, gray_decoded
from colored.model import FusionNet

DEFAULT_TEMPERATURES = (0.38, 0.6, 1.0)
DEFAULT_SCALES = (1.0, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6)  # 0.05 steps where the checks start to hold
PSNR_MARGIN = 0.5  # dB above grey's and above the tint's
AUC_MARGIN = 0.5
RECALL_FLOOR = 40.0
COLORFULNESS_FLOOR = 30.0
FALSE_COLOUR_CEILING = 20.0  # % of neutral truth pixels painted clearly coloured (colored.metrics)


def paired_se(a: Sequence[float], b: Sequence[float]) -> float:
    """Standard error of the mean of the per-photo differences a - b (0 for fewer than two photos)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def checks(row: dict, gray_psnr: float) -> dict[str, bool]:
    """The acceptance checks of one candidate (a sweep row with its tint's numbers). The row's
    standard errors of the paired differences (``grey_psnr_se``, ``tint_psnr_se``,
    ``tint_auc_se``; 0 when absent) are the margin each comparison must clear."""
    return {
        f"psnr>=grey+{PSNR_MARGIN:g}": row["psnr"] - row.get("grey_psnr_se", 0.0) >= gray_psnr + PSNR_MARGIN,
        f"psnr>=tint+{PSNR_MARGIN:g}": row["psnr"] - row.get("tint_psnr_se", 0.0) >= row["tint_psnr"] + PSNR_MARGIN,
        f"auc>=tint+{AUC_MARGIN:g}": row["auc"] - row.get("tint_auc_se", 0.0) >= row["tint_auc"] + AUC_MARGIN,
        f"green>={RECALL_FLOOR:g}": row["green_recall"] >= RECALL_FLOOR,
        f"blue>={RECALL_FLOOR:g}": row["blue_recall"] >= RECALL_FLOOR,
        f"red>={RECALL_FLOOR:g}": row["red_recall"] >= RECALL_FLOOR,
        f"colorfulness>={COLORFULNESS_FLOOR:g}": row["colorfulness"] >= COLORFULNESS_FLOOR,
        f"false_colour<={FALSE_COLOUR_CEILING:g}": row["false_colour"] <= FALSE_COLOUR_CEILING,
    }


class LogitCache:
    """Runs the model once per grey photo (as colored-batch prepares it) and keeps its logits."""

    def __init__(self, model: FusionNet, size: int) -> None:
        self.model, self.size = model.eval(), size
        self._logits: dict[int, torch.Tensor] = {}

    def logits(self, gray_u8: np.ndarray) -> torch.Tensor:
        from batch.colorize import model_input

        key = id(gray_u8)
        if key not in self._logits:
            L = torch.from_numpy(model_input(gray_decoded(gray_u8, "<val>"), self.size)[None])
            with torch.no_grad():
                self._logits[key] = self.model(L)
        return self._logits[key]

    def colorizer(self, temperature: float, scale: float = 1.0) -> Colorizer:
        """The model's own decode at `temperature`, with `scale` in place of its chroma_scale."""
        from batch.colorize import merge

        relative = scale / self.model.config.chroma_scale

        def colorize(gray_u8: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                ab = self.model.output_to_ab(self.logits(gray_u8), temperature) * relative
            return merge(gray_decoded(gray_u8, "<val>"), ab[0].numpy())

        return colorize


KEYS = ("psnr", "auc", "auc_chroma20", "colorfulness", "green_recall", "blue_recall", "red_recall", "false_colour")


@dataclasses.dataclass
class Sweep:
    temperature: float
    scale: float
    rows: list[dict]  # per candidate: temperature, scale, KEYS, tint_psnr, tint_auc, the *_se margins, checks, met
    gray: dict  # the grey baseline's psnr and auc
    rule: str

    def markdown(self) -> str:
        cols = ("psnr", "tint_psnr", "auc", "tint_auc", "colorfulness", "green_recall", "blue_recall", "red_recall",
                "false_colour", "grey_psnr_se", "tint_psnr_se", "tint_auc_se")
        lines = ["| T | scale | " + " | ".join(cols) + " | checks met |", "|---" * (len(cols) + 3) + "|"]
        for r in self.rows:
            mark = " **chosen**" if (r["temperature"], r["scale"]) == (self.temperature, self.scale) else ""
            lines.append(f"| {r['temperature']:g} | {r['scale']:g}{mark} | "
                         + " | ".join(f"{r[k]:.2f}" for k in cols) + f" | {r['met']}/{len(r['checks'])} |")
        lines.append(f"\ngrey baseline: PSNR {self.gray['psnr']:.2f}, AuC {self.gray['auc']:.2f}; rule: {self.rule}")
        return "\n".join(lines)


def sweep(model: FusionNet, photos: Sequence[Photo], size: int,
          temperatures: Sequence[float] = DEFAULT_TEMPERATURES, scales: Sequence[float] = DEFAULT_SCALES,
          progress: bool = False) -> Sweep:
    """Score every (T, scale) on `photos`, each beside its own tint, and pick one by the module's rule."""
    from colored.evaluation.evaluate import gray_colorizer, mean_ab, run_method, summarise, tint_colorizer

    if model.config.head != "classification":
        raise ValueError("only classification models have an annealed-mean temperature")
    cache = LogitCache(model, size)
    gray_rows = run_method(GRAY, gray_colorizer, photos, [])[0]
    gray = summarise(GRAY, gray_rows)
    rows = []
    for t in sorted(temperatures):
        for s in sorted(scales, reverse=True):
            name = f"T={t:g} scale={s:g}"
            scored = run_method(name, cache.colorizer(t, s), photos, [], progress)[0]
            ours = summarise(name, scored)
            tint_rows = run_method("tint", tint_colorizer(*mean_ab(scored)), photos, [])[0]
            tint = summarise("tint", tint_rows)

            def se(key: str, other: list) -> float:
                return paired_se([getattr(r, key) for r in scored], [getattr(r, key) for r in other])

            row = {"temperature": t, "scale": s, **{k: getattr(ours, k) for k in KEYS},
                   "tint_psnr": tint.psnr, "tint_auc": tint.auc, "grey_psnr_se": se("psnr", gray_rows),
                   "tint_psnr_se": se("psnr", tint_rows), "tint_auc_se": se("auc", tint_rows)}
            row["checks"] = checks(row, gray.psnr)
            row["met"] = sum(row["checks"].values())
            rows.append(row)
    best = max(rows, key=lambda r: (r["met"], r["colorfulness"]))
    rule = (f"most checks met ({', '.join(best['checks'])}; the PSNR and AuC comparisons by at least one "
            f"standard error of the per-photo differences), then most colourful")
    return Sweep(temperature=best["temperature"], scale=best["scale"], rows=rows,
                 gray={"psnr": gray.psnr, "auc": gray.auc}, rule=rule)
