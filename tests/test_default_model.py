"""The shipped default model: it loads through the runtime, matches its recorded metadata,
and colorizes the bundled sample archive (the README's first command) with colour."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from batch.colorize import merge, model_input
from batch.images import decode
from batch.session import default_model_path, infer, open_session
from colored import metrics

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "colored/assets"
ARCHIVE = ROOT / "samples/archive"


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads((ASSETS / "colored-default.json").read_text())


@pytest.fixture(scope="module")
def session():
    return open_session(None, device="cpu")


def archive_files() -> list[Path]:
    return sorted(p for p in ARCHIVE.rglob("*") if p.is_file())


def to_u8(rgb: np.ndarray) -> np.ndarray:
    return rgb if rgb.dtype == np.uint8 else ((rgb.astype(np.uint32) + 128) // 257).astype(np.uint8)


def test_default_model_is_shipped_small_and_fp16(record):
    path = default_model_path()
    assert path is not None and path == ASSETS / "colored-default.onnx"
    assert path.stat().st_size == record["bytes"] < 15_000_000  # the issue allows 40 MB
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]


def test_contract_matches_recorded_metadata(session, record):
    _, contract = session
    assert contract.model_id == record["model_id"]
    assert contract.config_hash == record["config_hash"]
    assert contract.input_size == record["input_size"]
    assert contract.precision == record["precision"] == "fp16"
    assert contract.model_config == record["model_config"]
    assert contract.model_config["head"] == "classification"  # the vivid-colour loss
    assert contract.train_config["loss"] == record["train_config"]["loss"] == "classification"
    corpus = record["data"]["corpus"]  # what it saw: the corpus of data/photos.py, per source
    manifest = ROOT.parent / "shared/photo-sources/manifest.tsv"
    if manifest.is_file():  # the record names the photo list it was built from
        assert hashlib.sha256(manifest.read_bytes()).hexdigest() == corpus["manifest"]["sha256"]
    assert sum(s["kept"] for s in corpus["sources"].values()) == corpus["kept"]
    assert corpus["split"]["test"] >= 1500 and all(s["licence"] for s in corpus["sources"].values())
    assert not any(str(d).startswith("/") for d in record["train_config"]["data"])  # no path of the training machine
    methods = record["test_metrics"]["methods"]
    assert methods["gray (ab=0)"]["colorfulness"] == 0.0


def test_sample_archive_is_what_the_docs_promise():
    names = [str(p.relative_to(ARCHIVE)) for p in archive_files()]
    assert any("/" in n for n in names), "one picture lives in a sub-folder"
    assert sum(p.stat().st_size for p in archive_files()) < 3_000_000
    rotated = decode(ARCHIVE / "astronaut-portrait.jpg")
    assert "EXIF orientation 6 applied" in rotated.notes
    assert rotated.pixels.shape == (512, 384)  # stored 512 wide; upright only with the tag applied
    wide = decode(ARCHIVE / "mount-rushmore.png")
    assert wide.pixels.dtype == np.uint16 and wide.bit_depth == 16
    assert decode(ARCHIVE / "travels/pisa.jpg").icc_profile
    for path in archive_files():
        assert not decode(path).is_color, f"{path} should be black and white"


def test_default_model_colorizes_the_sample_archive(session):
    sess, contract = session
    colorful, gray = [], []
    for path in archive_files():
        decoded = decode(path)
        ab = infer(sess, contract, model_input(decoded, contract.input_size)[None])[0]
        out = merge(decoded, ab)
        assert out.shape[:2] == decoded.pixels.shape[:2] and out.dtype == decoded.pixels.dtype
        colorful.append(metrics.colorfulness(to_u8(out)))
        g = to_u8(decoded.pixels)
        gray.append(metrics.colorfulness(np.repeat(g[..., None], 3, 2) if g.ndim == 2 else g))
    assert max(gray) < 1.0  # the gray baseline: a B&W archive has (almost) no colour
    assert np.mean(colorful) > 5.0 > max(gray), f"colorfulness {colorful} vs gray {gray}"


def test_readme_command_colorizes_the_archive(tmp_path):
    from batch.cli import main

    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(ARCHIVE), str(out), "--no-progress", "--workers", "1"])
    assert result.exit_code == 0, result.output
    for src in archive_files():
        rel = src.relative_to(ARCHIVE)
        assert (out / rel).is_file(), f"{rel} not mirrored in {sorted(out.rglob('*'))}"
    assert decode(out / "astronaut-portrait.jpg").pixels.shape[:2] == (512, 384)


def test_default_model_paints_skies_blue_and_not_a_portrait(session):
    """Colour by content, not a cast: the sample photos with a sky at the top get a blue sky
    (measured: 96-100 % of the top quarter has b* < -5; Pisa, whose top quarter is half tower, 38 %),
    the studio portrait no blue (0.0 %)."""
    from colored.color import rgb_to_lab

    sess, contract = session

    def blue_share_of_top(name: str) -> float:
        decoded = decode(ARCHIVE / name)
        out = to_u8(merge(decoded, infer(sess, contract, model_input(decoded, contract.input_size)[None])[0]))
        lab = rgb_to_lab(out[: out.shape[0] // 4] / 255.0)
        return float((lab[..., 2] < -5).mean())

    for sky in ("dam.tif", "mount-rushmore.png", "travels/igloo.png"):
        assert blue_share_of_top(sky) > 0.8, sky
    assert blue_share_of_top("travels/pisa.jpg") > 0.25
    assert blue_share_of_top("astronaut-portrait.jpg") < 0.1


def test_record_states_the_chosen_decode_and_its_checks(record):
    """The record names the decode chosen on validation and the sweep it came from."""
    sweep = record["decode_sweep"]
    chosen = [r for r in sweep["rows"] if (r["temperature"], r["scale"]) == (record["temperature"], record["chroma_scale"])]
    assert len(chosen) == 1 and chosen[0]["met"] == max(r["met"] for r in sweep["rows"])
    assert record["model_config"]["chroma_scale"] == record["chroma_scale"]
    assert record["model_config"]["arch"] == "unet" and record["model_config"]["backbone"] == "tf_efficientnet_lite0"
