"""The review page (batch.review, colored-review, colored-batch --review): its data, its thumbnails,
and the page itself in a real headless Chromium (skipped where the system has no chromium)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from batch import review
from batch.manifest import MANIFEST_NAME
from batch.results import DONE, FAILED, SKIPPED, Result


def _picture(path: Path, seed: int, size: tuple[int, int] = (60, 40)) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def fake_run(out: Path) -> list[Result]:
    """An output folder as a run leaves it: outputs, manifest lines and a report; no model needed."""
    results = [
        Result("a.png", "a.png", DONE, confidence=0.9, output_bytes=1),
        Result("trips/b.png", "trips/b.png", DONE, confidence=0.2),
        Result("trips/deep/c.jpg", "trips/deep/c.png", DONE, confidence=0.55),
        Result("trips/broken.jpg", None, FAILED, reason="not an image Pillow can read (truncated JPEG)"),
        Result("colour.jpg", None, SKIPPED, reason="already in colour (--skip-color)"),
    ]
    for i, r in enumerate(results):
        if r.output:
            _picture(out / r.output, i)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / MANIFEST_NAME, "w") as f:
        f.write(json.dumps(Result("a.png", "a.png", FAILED, reason="an older failure").to_dict()) + "\n")
        for r in results:
            f.write(json.dumps(r.to_dict()) + "\n")
        f.write('{"input": "torn')  # a kill mid-line: ignored
    # Reported, never recorded: an entry the walk could not read.
    report = {"files": [Result("locked", None, FAILED, reason="cannot list this folder: permission denied").to_dict(),
                        Result("a.png", "a.png", "already done").to_dict()]}
    (out / "colored-report.json").write_text(json.dumps(report))
    return results


def page_data(page: Path) -> list[list]:
    text = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S).group(1))


def test_collect_takes_the_last_manifest_entry_and_adds_what_only_the_report_has(tmp_path):
    fake_run(tmp_path)
    entries = {e.input: e for e in review.collect(tmp_path)}
    assert sorted(entries) == ["a.png", "colour.jpg", "locked", "trips/b.png", "trips/broken.jpg", "trips/deep/c.jpg"]
    assert entries["a.png"].status == DONE and entries["a.png"].confidence == 0.9  # not the older failure
    assert entries["locked"].status == FAILED and "permission denied" in entries["locked"].reason
    assert entries["colour.jpg"].status == SKIPPED and entries["colour.jpg"].output is None


def test_build_writes_thumbnails_once_and_remakes_only_changed_outputs(tmp_path):
    fake_run(tmp_path)
    first = review.build_review(tmp_path, workers=2)
    assert (first.made, first.reused) == (3, 0)
    assert first.counts == {DONE: 3, FAILED: 2, SKIPPED: 1}
    rows = {r[0]: r for r in page_data(first.page)}
    for name in ("a.png", "trips/b.png", "trips/deep/c.jpg"):
        colour, grey = review.thumb_paths(tmp_path / "review", rows[name][5])
        with Image.open(colour) as c, Image.open(grey) as g:
            assert c.mode == "RGB" and g.mode == "L" and c.size == g.size and max(c.size) <= review.THUMB_BOX
    assert rows["trips/broken.jpg"][5] == 0 and rows["trips/broken.jpg"][3].startswith("not an image")

    again = review.build_review(tmp_path)
    assert (again.made, again.reused, again.removed) == (0, 3, 0)

    old_key = rows["trips/b.png"][5]
    _picture(tmp_path / "trips/b.png", 99, size=(80, 50))  # the output was colorized again
    third = review.build_review(tmp_path)
    assert (third.made, third.reused, third.removed) == (1, 2, 2)
    new_key = {r[0]: r for r in page_data(third.page)}["trips/b.png"][5]
    assert new_key != old_key and not review.thumb_paths(tmp_path / "review", old_key)[0].exists()
    leftovers = [p for p in (tmp_path / "review").rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # atomic writes leave no temp file


def test_a_missing_or_unreadable_output_is_noted_not_fatal(tmp_path):
    fake_run(tmp_path)
    (tmp_path / "a.png").unlink()
    (tmp_path / "trips/b.png").write_bytes(b"not a png")
    rows = {r[0]: r for r in page_data(review.build_review(tmp_path).page)}
    assert rows["a.png"][5] == 0 and "output missing" in rows["a.png"][6][0]
    assert rows["trips/b.png"][5] == 0 and rows["trips/b.png"][6][0].startswith("no thumbnail")
    assert rows["trips/deep/c.jpg"][5] != 0


def test_names_cannot_break_out_of_the_page(tmp_path):
    name = "</script><img src=x onerror=alert(1)>.png"
    r = Result(name, name, DONE)
    html = review.render_page([review._entry(r)], "t</title>")
    assert html.count("</script>") == 3  # meta, data and the code: the name's is escaped
    assert "t&lt;/title&gt;" in html
    assert page_data_from(html)[0][0] == name


def page_data_from(html: str) -> list:
    return json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', html, re.S).group(1))


def test_names_that_are_not_utf8_get_a_link_to_their_bytes(tmp_path):
    name = os.fsdecode(b"M\xfcller.png")
    (row,) = review.page_rows([review.Entry(name, name, DONE)])
    assert row[0] == "M\\xfcller.png" and row[7] == "M%FCller.png"


def test_colored_review_command(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(review.main, [str(empty)])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [f"colored-review: {empty}: no ColorED run here "
                                                f"(no {MANIFEST_NAME} or colored-report.json)"]
    fake_run(tmp_path / "out")
    res = CliRunner().invoke(review.main, [str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "6 files: 3 done, 2 failed, 1 skipped" in res.output
    assert (tmp_path / "out/review/index.html").is_file()


def test_colored_batch_review_on_a_real_run(tmp_path):
    pytest.importorskip("torch")
    from _tiny_model import tiny_model_path
    from batch.cli import main

    src, out = tmp_path / "in", tmp_path / "out"
    _picture(src / "x.png", 1)
    _picture(src / "sub/y.png", 2)
    (src / "sub/bad.jpg").write_bytes(b"\xff\xd8 not really")
    res = CliRunner().invoke(main, [str(src), str(out), "--model", str(tiny_model_path()), "--review",
                                    "--no-progress", "--workers", "1"])
    assert res.exit_code == 1, res.output  # one file failed
    assert "review: " in res.output and "3 files: 2 done, 1 failed, 0 skipped" in res.output
    rows = {r[0]: r for r in page_data(out / "review" / "index.html")}
    assert rows["x.png"][5] != 0 and rows["sub/bad.jpg"][2] == FAILED and rows["sub/bad.jpg"][3]
    assert not (src / "review").exists()  # nothing lands among the inputs


# ---- the page in a real browser ---------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("selenium")
    from _browser import headless_chromium

    driver = headless_chromium()
    if driver is None:
        pytest.skip("no chromium/chromedriver on this system (apt-get install chromium chromium-driver)")
    yield driver
    driver.quit()


def _cards(driver) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#grid .card")


def _select(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


def test_page_in_chromium_counts_sorts_filters_and_gives_reasons(tmp_path, browser):
    from selenium.webdriver.common.by import By

    fake_run(tmp_path)
    page = review.build_review(tmp_path).page
    browser.get(page.as_uri())
    count = browser.find_element(By.ID, "count")
    assert count.get_attribute("data-total") == "6" and count.get_attribute("data-shown") == "6"
    order = [c.get_attribute("data-input") for c in _cards(browser)]
    # Least confident first; entries without a figure after them, by path.
    assert order == ["trips/b.png", "trips/deep/c.jpg", "a.png", "colour.jpg", "locked", "trips/broken.jpg"]
    first = _cards(browser)[0]
    assert "confidence 0.200" in first.text
    link = first.find_element(By.CSS_SELECTOR, ".path a").get_attribute("href")
    assert link == (tmp_path / "trips/b.png").as_uri()
    imgs = first.find_elements(By.TAG_NAME, "img")
    assert {i.get_attribute("loading") for i in imgs} == {"lazy"}
    assert browser.execute_script("return Array.from(document.images).every(i => !i.complete || i.naturalWidth > 0)")

    _select(browser, "status", "failed")
    cards = _cards(browser)
    assert [c.get_attribute("data-input") for c in cards] == ["locked", "trips/broken.jpg"]
    reasons = [c.find_element(By.CLASS_NAME, "reason").text for c in cards]
    assert reasons == ["cannot list this folder: permission denied", "not an image Pillow can read (truncated JPEG)"]

    _select(browser, "status", "")
    _select(browser, "folder", "trips")
    assert sorted(c.get_attribute("data-input") for c in _cards(browser)) == [
        "trips/b.png", "trips/broken.jpg", "trips/deep/c.jpg"]
    _select(browser, "folder", ".")
    assert sorted(c.get_attribute("data-input") for c in _cards(browser)) == ["a.png", "colour.jpg", "locked"]

    _select(browser, "folder", "")
    _select(browser, "sort", "path")
    assert [c.get_attribute("data-input") for c in _cards(browser)][:2] == ["a.png", "colour.jpg"]


def test_page_in_chromium_pages_a_large_run(tmp_path, browser):
    """3,000 entries (no thumbnails needed for this): all counted at once, rendered page by page."""
    from selenium.webdriver.common.by import By

    entries = [review.Entry(f"f{i // 100}/p{i:05d}.png", None, FAILED, reason=f"reason {i}") for i in range(3000)]
    page = tmp_path / "index.html"
    page.write_text(review.render_page(entries, "big"), encoding="utf-8")
    started = time.perf_counter()
    browser.get(page.as_uri())
    assert browser.find_element(By.ID, "count").get_attribute("data-total") == "3000"
    assert len(_cards(browser)) < 3000  # the first pages only
    browser.execute_script("window.colored_review.renderAll()")
    assert len(_cards(browser)) == 3000
    assert time.perf_counter() - started < 30  # generous: the bench measures the real figure
