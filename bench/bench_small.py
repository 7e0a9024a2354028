"""Benchmark colored-batch on many small pictures: full render size against --fit-small (issue 22).

    python bench/bench_small.py                      # 2,000 pictures of 64 x 48, the shipped model
    python bench/bench_small.py --count 100          # a quick check that it works
    python bench/bench_small.py --size 96x128 --model colored.onnx

Each pass runs batch.pipeline.process (what colored-batch runs) into a fresh output folder:
once at the model's render size, once with --fit-small (a picture below the render size runs
at the smallest render size that holds it, 128 for the shipped model). Prints images/s of
each pass, the speed-up, and how far the two outputs are apart in 8-bit levels (the network
sees another scale, so the colours are not the same). Same --seed, same pictures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from timed_pass import timed_pass  # bench/ is on sys.path when a script runs

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_pictures(root: Path, count: int, height: int, width: int, seed: int) -> None:
    """Grey crops of skimage's photos, shrunk to height x width, with a little film grain, as PNG."""
    import cv2
    from skimage import data

    rng = np.random.default_rng(seed)
    sources = [data.camera(), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY),
               cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2GRAY), cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2GRAY)]
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        src = sources[i % len(sources)]
        h, w = src.shape
        ch, cw = int(h * rng.uniform(0.4, 1.0)), int(w * rng.uniform(0.4, 1.0))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        small = cv2.resize(src[y : y + ch, x : x + cw], (width, height), interpolation=cv2.INTER_AREA)
        grain = rng.normal(0, 3, small.shape)
        folder = root / f"{i // 500:02d}"  # 500 per folder, as archives split them
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"p{i:05d}.png"), np.clip(small + grain, 0, 255).astype(np.uint8))


def run_pass(src: Path, out: Path, model: str | None, fit_small: bool, workers: int, batch_size: int) -> float:
    """images/s of one colored-batch pass (process() with a manifest, as the command runs it)."""
    from batch.settings import Settings

    return timed_pass(src, out, model, Settings(fit_small=fit_small), workers, batch_size)[0]


def level_difference(a: Path, b: Path) -> dict:
    import cv2

    diffs = []
    for p in sorted(a.rglob("p*.png")):
        x = cv2.imread(str(p)).astype(int)
        y = cv2.imread(str(b / p.relative_to(a))).astype(int)
        diffs.append(np.abs(x - y).ravel())
    d = np.concatenate(diffs)
    return {"max": int(d.max()), "mean": round(float(d.mean()), 2), "share_over_1": round(float((d > 1).mean()), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", default="48x64", help="HxW of every picture")
    ap.add_argument("--model", default=None, help="ONNX model; default: the shipped one")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    height, width = map(int, args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="colored-bench-small-") as tmp:
        src = Path(tmp) / "in"
        make_pictures(src, args.count, height, width, args.seed)
        full = run_pass(src, Path(tmp) / "full", args.model, False, args.workers, args.batch_size)
        fit = run_pass(src, Path(tmp) / "fit", args.model, True, args.workers, args.batch_size)
        record = {"count": args.count, "size": args.size, "full_img_s": round(full, 2), "fit_small_img_s": round(fit, 2),
                  "speed_up": round(fit / full, 2), "levels": level_difference(Path(tmp) / "full", Path(tmp) / "fit")}
    print(json.dumps(record))


if __name__ == "__main__":
    main()
