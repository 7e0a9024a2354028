"""data/default-model/confidence_rank.py: Spearman's rho and the sheets, on a handful of photos."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("confidence_rank", REPO / "data/default-model/confidence_rank.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spearman_is_a_rank_correlation_with_average_ties():
    rank = load_script()
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert rank.spearman(x, x ** 3) == pytest.approx(1.0)  # monotone, not linear: still 1
    assert rank.spearman(x, -np.exp(x)) == pytest.approx(-1.0)
    np.testing.assert_array_equal(rank.ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])
    # Against the textbook formula 1 - 6 sum d^2 / (n (n^2 - 1)) for untied data.
    y = np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    d = rank.ranks(x) - rank.ranks(y)
    assert rank.spearman(x, y) == pytest.approx(1 - 6 * (d ** 2).sum() / (5 * 24))
    assert np.isnan(rank.spearman(x[:2], y[:2])) and np.isnan(rank.spearman(x, np.ones(5)))


def test_on_a_handful_of_photos(tmp_path):
    pytest.importorskip("torch")
    from skimage import data

    from _tiny_model import tiny_model_path

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        img = getattr(data, name)()
        Image.fromarray(img[::4, ::4]).save(photos / f"{name}.png")
    Image.fromarray(data.camera()[::4, ::4]).save(photos / "grey.png")  # not colour: skipped, said so
    rank = load_script()
    out = tmp_path / "out"
    assert rank.main([str(tiny_model_path(head="classification")), str(photos), str(out), "--size", "96",
                      "--count", "2", "--threads", "1"]) == 0
    doc = json.loads((out / "confidence-rank.json").read_text())
    assert doc["count"] == 4 and any("grey.png" in s for s in doc["skipped"])
    conf = [f["confidence"] for f in doc["files"]]
    assert conf == sorted(conf) and all(0 <= c <= 1 for c in conf)
    assert all(f["mean_ab_error"] > 0 and f["psnr"] > 0 for f in doc["files"])
    for key in ("spearman_confidence_vs_mean_ab_error", "spearman_confidence_vs_psnr"):
        assert -1 <= doc[key] <= 1
    for sheet in ("least-confident.png", "most-confident.png"):
        with Image.open(out / sheet) as im:
            assert im.width > 100 and im.height > 100

    with pytest.raises(SystemExit, match="has no confidence output"):
        rank.main([str(tiny_model_path()), str(photos), str(tmp_path / "reg")])
