#!/usr/bin/env python3
"""Make docs/images/review.png: the review page of a run, as headless Chromium shows it.

    colored-batch samples/archive /tmp/x --review
    python docs/images/make_review_screenshot.py /tmp/x            # -> docs/images/review.png

Uses the system chromium and chromedriver through Selenium (tests/_browser.py), no download.
``--split`` sets the page's before/after slider (0 all grey, 100 all colour) before the shot.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output_dir", type=Path, help="an output folder with review/index.html")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/images/review.png")
    ap.add_argument("--split", type=int, default=50)
    ap.add_argument("--size", default="1300x760", help="window WIDTHxHEIGHT")
    args = ap.parse_args(argv)
    page = args.output_dir / "review" / "index.html"
    if not page.is_file():
        print(f"{page}: no review page (run colored-batch ... --review or colored-review first)", file=sys.stderr)
        return 2
    from _browser import headless_chromium
    from colored.atomic import atomic_path

    w, h = (int(x) for x in args.size.split("x"))
    driver = headless_chromium(w, h)
    if driver is None:
        print("no chromium/chromedriver on this system", file=sys.stderr)
        return 2
    try:
        driver.get(page.resolve().as_uri())
        driver.execute_script(
            "const s=document.getElementById('split');s.value=arguments[0];s.dispatchEvent(new Event('input'));",
            args.split)
        driver.execute_script("window.colored_review.renderAll()")
        time.sleep(1.0)  # lazy thumbnails in view
        with atomic_path(args.out) as tmp:
            driver.save_screenshot(str(tmp))
    finally:
        driver.quit()
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
