"""Benchmark the review page (issue 21): a 2,000-picture run's page in headless Chromium.

    python bench/bench_review.py                 # 2,000 synthetic pictures, 3 page loads
    python bench/bench_review.py --count 20000 --loads 1

Writes a synthetic output folder (as a run leaves it: small colour pictures in nested
folders, manifest lines with a confidence each, a few failed and skipped entries), builds
the page with batch.review.build_review (timed: first build, then a rebuild that reuses
every thumbnail), and opens it in headless Chromium (system chromium + chromedriver, driven
by Selenium) --loads times. A load is timed from driver.get() to the moment the page's count
says all pictures are listed (the rows are rendered page by page as one scrolls; the count
covers all of them); "all rendered" then forces every row into the DOM. Needs no model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]


def fake_run(out: Path, count: int, seed: int) -> None:
    """`count` entries: 98 % done (a 96 x 64 JPEG each), 1 % failed, 1 % skipped."""
    from batch.manifest import MANIFEST_NAME
    from batch.results import DONE, FAILED, SKIPPED, Result

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / MANIFEST_NAME, "w") as f:
        for i in range(count):
            rel = f"box{i % 20:02d}/roll{i % 7}/photo{i:05d}.jpg"
            if i % 100 == 7:
                r = Result(rel, None, FAILED, reason="not an image Pillow can read (truncated file)")
            elif i % 100 == 53:
                r = Result(rel, None, SKIPPED, reason="already in colour (--skip-color)")
            else:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.roll(base, i, axis=1)).save(out / rel, quality=85)
                r = Result(rel, rel, DONE, confidence=float(rng.random()), output_bytes=(out / rel).stat().st_size)
            f.write(json.dumps(r.to_dict()) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from _browser import headless_chromium
    from batch import review
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory(prefix="colored-bench-review-") as tmp:
        out = Path(tmp)
        t = time.perf_counter()
        fake_run(out, args.count, args.seed)
        print(f"synthetic run of {args.count} pictures written in {time.perf_counter() - t:.1f} s")
        first = review.build_review(out, workers=args.workers)
        print(f"first build:  {first.seconds:.2f} s ({first.made} thumbnails made)")
        again = review.build_review(out, workers=args.workers)
        print(f"rebuild:      {again.seconds:.2f} s ({again.reused} thumbnails reused, {again.made} made)")
        size = first.page.stat().st_size
        print(f"page: {size / 1024:.0f} KiB ({size / args.count:.0f} bytes per entry)")

        driver = headless_chromium()
        if driver is None:
            print("no chromium/chromedriver: page loads not measured", file=sys.stderr)
            return 1
        loads, alls = [], []
        try:
            for _ in range(args.loads):
                driver.get("about:blank")
                started = time.perf_counter()
                driver.get(first.page.as_uri())
                WebDriverWait(driver, 30).until(
                    lambda d: d.find_element(By.ID, "count").get_attribute("data-shown") == str(args.count))
                loads.append(time.perf_counter() - started)
                listed = len(driver.find_elements(By.CSS_SELECTOR, "#grid .card"))
                t = time.perf_counter()
                driver.execute_script("window.colored_review.renderAll()")
                cards = len(driver.find_elements(By.CSS_SELECTOR, "#grid .card"))
                alls.append(time.perf_counter() - t)
                assert cards == args.count, (cards, args.count)
        finally:
            driver.quit()
        print(f"page load to 'all {args.count} listed': median {statistics.median(loads):.2f} s "
              f"({', '.join(f'{x:.2f}' for x in loads)}); {listed} rows in the DOM at first")
        print(f"all {args.count} rows rendered after that: median {statistics.median(alls):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
