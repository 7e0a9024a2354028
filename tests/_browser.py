"""A headless Chromium driven by Selenium, from the system's packages (no browser download).

Import it from a test module (tests/ is on sys.path under pytest), or from a script after
putting tests/ on sys.path (bench/bench_review.py, docs/images/make_review_screenshot.py):
    from _browser import headless_chromium
"""

from __future__ import annotations

import shutil


def headless_chromium(width: int = 1400, height: int = 1000):
    """A selenium Chrome driver on the system chromium and chromedriver, or None when either is
    missing (apt-get install chromium chromium-driver). Raises ImportError without selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_bin = shutil.which("chromedriver")
    if not browser or not driver_bin:
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(driver_bin), options=opts)
