#!/usr/bin/env python3
"""Does the per-picture confidence mean something? Rank it against the per-picture colour error.

    python data/default-model/confidence_rank.py MODEL.onnx PHOTOS OUT
    python data/default-model/confidence_rank.py colored/assets/colored-default.onnx test-photos/ /tmp/rank --size 512

For every colour photo of PHOTOS (colored-eval's loader: decoded, shrunk to --size, made grey
through CIE L*), the model colorizes the grey copy through colored-batch's own path (model_input,
infer_with_confidence, merge) and the picture's confidence is the figure colored-batch records
(batch.confidence.picture_confidence). Against the original it scores the mean ab error (mean
Euclidean distance in a*b*, Lab units) and PSNR (RGB, dB). It writes OUT/confidence-rank.json
(every photo's figures and Spearman's rank correlations: a useful confidence has a negative rho
with the ab error and a positive one with PSNR), and OUT/least-confident.png and
OUT/most-confident.png, the --count least and most confident photos (original | output).

The model must have the confidence output (a classification model exported since issue 21).
Costs one network call per photo: keep PHOTOS small on a busy machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank (as Spearman's rho wants them)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    r[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            r[tied] = r[tied].mean()
    return r


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of x and y (NaN for fewer than 3 pairs or a constant side)."""
    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def score_photos(model: Path, photos, threads: int | None = None) -> tuple[list[dict], list[np.ndarray]]:
    """Each photo's confidence, mean ab error and PSNR, and the outputs (same order)."""
    from batch.colorize import merge, model_input
    from batch.confidence import picture_confidence
    from batch.session import infer_with_confidence, open_session
    from colored import metrics
    from colored.color import rgb_to_lab
    from colored.evaluation.evaluate import gray_decoded

    session, contract = open_session(model, device="cpu", threads=threads)
    if not contract.confidence_output:
        raise SystemExit(f"error: {model}: this model has no confidence output (a regression head, or exported "
                         "before issue 21: re-export its checkpoint with colored-export)")
    rows, outputs = [], []
    for photo in photos:
        decoded = gray_decoded(photo.gray, photo.name)
        L = model_input(decoded, contract.input_size)[None]
        ab, conf = infer_with_confidence(session, contract, L)
        out = merge(decoded, ab[0])
        out_ab = rgb_to_lab(out.astype(np.float64) / 255.0)[..., 1:]
        truth_ab = rgb_to_lab(photo.truth.astype(np.float64) / 255.0)[..., 1:]
        rows.append({
            "image": photo.name,
            "confidence": float(picture_confidence(conf, ab)[0]),
            "mean_ab_error": float(np.linalg.norm(out_ab - truth_ab, axis=-1).mean()),
            "psnr": float(metrics.psnr(out, photo.truth)),
        })
        outputs.append(out)
    return rows, outputs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="ONNX model with the confidence output")
    ap.add_argument("photos", type=Path, help="a folder (or file) of colour photos")
    ap.add_argument("out", type=Path, help="folder for confidence-rank.json and the two sheets")
    ap.add_argument("--size", type=int, default=256, help="long side of the photos as scored")
    ap.add_argument("--limit", type=int, default=None, help="at most this many photos")
    ap.add_argument("--count", type=int, default=10, help="photos on each sheet")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    from colored.atomic import atomic_path, atomic_write_bytes
    from colored.evaluation.evaluate import EvalError, contact_sheet, load_photos

    if not args.model.is_file():
        print(f"error: {args.model}: no such model file", file=sys.stderr)
        return 2
    try:
        photos, skipped = load_photos(args.photos, args.size, args.limit)
    except EvalError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows, outputs = score_photos(args.model, photos, args.threads)
    conf = np.array([r["confidence"] for r in rows])
    doc = {
        "model": str(args.model), "photos": str(args.photos), "size": args.size, "count": len(rows),
        "skipped": skipped,
        "spearman_confidence_vs_mean_ab_error": spearman(conf, np.array([r["mean_ab_error"] for r in rows])),
        "spearman_confidence_vs_psnr": spearman(conf, np.array([r["psnr"] for r in rows])),
        "files": sorted(rows, key=lambda r: r["confidence"]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "confidence-rank.json", (json.dumps(doc, indent=2) + "\n").encode())
    order = np.argsort(conf, kind="mergesort")
    for name, picked in (("least-confident.png", order[: args.count]), ("most-confident.png", order[::-1][: args.count])):
        shown = [dataclasses.replace(photos[i], name=f"{photos[i].name}  conf {rows[i]['confidence']:.3f}  "
                                                   f"ab err {rows[i]['mean_ab_error']:.1f}") for i in picked]
        sheet = contact_sheet(shown, {"output": [outputs[i] for i in picked]})
        with atomic_path(args.out / name) as tmp:
            sheet.save(tmp, format="PNG")
    print(f"{len(rows)} photos: Spearman rho, confidence vs mean ab error "
          f"{doc['spearman_confidence_vs_mean_ab_error']:+.3f}, vs PSNR {doc['spearman_confidence_vs_psnr']:+.3f} "
          f"(a useful confidence: negative, positive); {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
