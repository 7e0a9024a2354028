"""Decode/encode speed of batch.images on one large synthetic scan (default 12 MP).

    python bench/bench_io.py [--megapixels 12] [--repeat 3]

Prints the best-of-N wall time per operation, plus Pillow's plain JPEG decode
as a baseline, so the pipeline can budget its I/O per image.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

from batch.images import decode, encode


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    height = int((args.megapixels * 1e6 * 3 / 4) ** 0.5)
    width = height * 4 // 3
    rgb = cv2.resize(skdata.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    rgb16 = rgb.astype(np.uint16) * 257
    print(f"{width}x{height} ({width * height / 1e6:.1f} MP), best of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        encodes = [
            ("JPEG q95", "a.jpg", rgb, "JPEG"),
            ("PNG 8-bit", "a.png", rgb, "PNG"),
            ("PNG 16-bit", "a16.png", rgb16, "PNG"),
            ("TIFF 8-bit", "a.tif", rgb, "TIFF"),
            ("TIFF 16-bit", "a16.tif", rgb16, "TIFF"),
            ("WEBP q95", "a.webp", rgb, "WEBP"),
        ]
        for name, file, pixels, fmt in encodes:
            ms = best_ms(lambda: encode(d / file, pixels, format=fmt), args.repeat)
            print(f"encode {name:32s} {ms:8.0f} ms  {(d / file).stat().st_size / 1e6:6.1f} MB")
        for name, file, _, _ in encodes:
            print(f"decode {name:32s} {best_ms(lambda: decode(d / file), args.repeat):8.0f} ms")
        baseline = best_ms(lambda: np.asarray(Image.open(d / "a.jpg")), args.repeat)
        print(f"decode {'JPEG q95 (Pillow only, baseline)':32s} {baseline:8.0f} ms")

if __name__ == "__main__":
    main()
