"""The training corpus: data/photos.py builds it from git snapshots and a photo folder
(verified, deduplicated, split, preprocessed as the runtime does), colored.corpus reads it, and
colored-train trains from it with per-source sampling weights."""

import csv
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage import data as skdata

from batch.colorize import model_input, model_pixels
from batch.images import decode
from colored.corpus import CorpusError, content_split, open_corpus
from colored.data import CorpusDataset

ROOT = Path(__file__).resolve().parents[1]
SIZE = 64


def _load_builder():
    spec = importlib.util.spec_from_file_location("photos_builder", ROOT / "data/photos.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and the worker pool look it up there
    spec.loader.exec_module(module)
    return module


photos_builder = _load_builder()


def _jpeg(rgb, quality=92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _git(cwd, *args) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A git repository with photos (one a re-encoded copy, one grey, one sepia), a manifest
    listing them plus a wrong-size entry, a blob the snapshot lacks and a repository nobody
    fetched; and a photo folder."""
    base = tmp_path_factory.mktemp("sources")
    repo = base / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    astronaut = np.asarray(Image.fromarray(skdata.astronaut()).resize((160, 120)))
    files = {
        "img/astronaut.jpg": _jpeg(astronaut),
        "img/astronaut-again.jpg": _jpeg(astronaut, quality=70),  # a near-duplicate
        "img/coffee.jpg": _jpeg(np.asarray(Image.fromarray(skdata.coffee()).resize((120, 90)))),
        "img/grey.png": None,
        "img/sepia.jpg": None,
        "img/broken.jpg": b"\xff\xd8\xff not really a jpeg",
    }
    grey = np.asarray(Image.fromarray(skdata.camera()).resize((100, 100)).convert("RGB"))
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "PNG")
    files["img/grey.png"] = buf.getvalue()
    from colored.color import lab_to_rgb, rgb_to_lightness

    L = rgb_to_lightness(grey.astype(np.float32) / 255)  # a print toned one faint brown: the grey's L*, one ab
    lab = np.stack([L, np.full_like(L, 5.0), np.full_like(L, 12.0)], axis=-1)
    sepia = (lab_to_rgb(lab) * 255 + 0.5).astype(np.uint8)
    files["img/sepia.jpg"] = _jpeg(sepia)
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "photos")
    commit = _git(repo, "rev-parse", "HEAD")
    rows = []
    for name, data in files.items():
        blob = _git(repo, "hash-object", str(repo / name))
        size = len(data) + (1 if name == "img/coffee.jpg" else 0)  # the manifest is wrong about this one
        rows.append(("src-a", "me/photos", commit, name, size, blob))
    rows.append(("src-a", "me/photos", commit, "img/gone.jpg", 10, "0" * 40))
    rows.append(("src-b", "me/unfetched", "1" * 40, "x.jpg", 10, "2" * 40))
    manifest = base / "manifest.tsv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["source", "repo", "commit", "path", "w", "h", "bytes", "blob_sha"])
        for source, r, c, path, size, blob in rows:
            w.writerow([source, r, c, path, 0, 0, size, blob])
    folder = base / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(skdata.chelsea()).save(folder / "sub" / "chelsea.png")
    Image.fromarray(skdata.rocket()).save(folder / "rocket.jpg", quality=95)
    return {"git": repo / ".git", "manifest": manifest, "photos": folder, "files": files}


@pytest.fixture(scope="module")
def corpus_dir(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "corpus"
    photos_builder.main([str(sources["git"]), "--manifest", str(sources["manifest"]), "--photos", str(sources["photos"]),
                         "--out", str(out), "--size", str(SIZE), "--test-share", "0.3", "--val-share", "0.3",
                         "--workers", "1", "--quiet"])
    return out


def _index(out):
    with open(out / "index.tsv", newline="") as f:
        return {r["name"]: r for r in csv.DictReader(f, delimiter="\t")}


def test_record_names_every_photo_and_why(corpus_dir):
    record = json.loads((corpus_dir / "corpus.json").read_text())
    index = _index(corpus_dir)
    status = {name.split(":")[-1]: r["status"] for name, r in index.items()}
    assert status["img/astronaut.jpg"] == "kept" and status["rocket.jpg"] == "kept" and status["sub/chelsea.png"] == "kept"
    assert status["img/astronaut-again.jpg"] == "duplicate"
    assert "astronaut.jpg" in index["me/photos:img/astronaut-again.jpg"]["reason"]
    assert status["img/grey.png"] == "near-grey" and status["img/sepia.jpg"] == "one toned colour"
    assert status["img/broken.jpg"] == "unreadable" and status["img/coffee.jpg"] == "unreadable"
    assert "the manifest says" in index["me/photos:img/coffee.jpg"]["reason"]
    assert status["img/gone.jpg"] == "missing" and status["x.jpg"] == "missing"
    assert record["repositories_without_snapshot"] == ["me/unfetched"]
    a, b = record["sources"]["src-a"], record["sources"]["src-b"]
    assert (a["listed"], a["kept"]) == (7, 1) and a["dropped"] == {"duplicate": 1, "near-grey": 1, "one toned colour": 1,
                                                                   "unreadable": 2, "missing": 1}
    named = {u["name"].split(":")[-1]: u["reason"] for u in a["unreadable_or_missing"]}
    assert set(named) == {"img/broken.jpg", "img/coffee.jpg", "img/gone.jpg"} and "missing from the snapshot" in named["img/gone.jpg"]
    assert b["dropped"] == {"missing": 1} and "no snapshot" in b["unreadable_or_missing"][0]["reason"]
    assert record["sources"]["shared-photos"]["kept"] == 2 and record["kept"] == 3


def test_cache_holds_the_runtimes_input(corpus_dir, sources):
    """One preprocessing: a cached photo is what colored-batch's decoder and resize make of the file,
    and the L a training/validation sample gets is the L colored-batch feeds the network."""
    corpus = open_corpus(corpus_dir)
    row = next(r for r in corpus.rows if r["name"] == "sub/chelsea.png")
    decoded = decode(sources["photos"] / "sub" / "chelsea.png")
    np.testing.assert_array_equal(corpus.images[row["row"]], model_pixels(decoded.pixels, SIZE))
    sample = CorpusDataset(corpus, ["sub/chelsea.png"], SIZE)[0]
    np.testing.assert_allclose(sample.L.numpy(), model_input(decoded, SIZE), atol=0.02)
    # a grey scan of the same photo (8-bit L*, as an archive gives) reaches the network within quantisation
    from colored.evaluation.evaluate import gray_decoded, to_gray

    grey = to_gray(np.asarray(corpus.images[row["row"]]))
    np.testing.assert_allclose(model_input(gray_decoded(grey), SIZE), sample.L.numpy(), atol=0.5)


def test_splits_come_from_content(corpus_dir):
    index = _index(corpus_dir)
    for r in index.values():
        if r["status"] == "kept":
            assert r["split"] == content_split(r["content"], 0, 0.3, 0.3)
        else:
            assert r["split"] == ""
    # the val/test photos are kept as their original files, for colored-eval
    for r in index.values():
        if r["split"] in ("val", "test"):
            assert (corpus_dir / "files" / r["split"] / r["source"] / r["name"].split(":")[-1]).is_file()
    shares = [content_split(f"{i:040x}", 0, 0.03, 0.01) for i in range(20000)]
    assert abs(shares.count("test") / 20000 - 0.03) < 0.005 and abs(shares.count("val") / 20000 - 0.01) < 0.003
    assert content_split("abc", 0, 0.03, 0.01) == content_split("abc", 0, 0.03, 0.01)


def test_source_weights(corpus_dir):
    corpus = open_corpus(corpus_dir)
    rows = [{"source": "a"}] * 3 + [{"source": "b"}]
    corpus.record["sources"] = {"a": {"weight": 1.0}, "b": {"weight": 3.0}}
    corpus.rows = [{"source": "a", "split": "train"}, {"source": "b", "split": "train"}]
    np.testing.assert_allclose(corpus.sample_weights(rows), [0.25 / 3] * 3 + [0.75])
    np.testing.assert_allclose(corpus.sample_weights(rows, {"a": 3.0}), [0.5 / 3] * 3 + [0.5])
    with pytest.raises(CorpusError, match="no such source"):
        corpus.source_weights({"c": 1.0})


def test_missing_or_misplaced_cache_is_one_line(tmp_path):
    with pytest.raises(CorpusError, match="not a corpus cache"):
        open_corpus(tmp_path)
    run = subprocess.run([sys.executable, str(ROOT / "data/photos.py"), "--out", str(ROOT / "cache-in-repo")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "inside the repository" in run.stderr and not (ROOT / "cache-in-repo").exists()


def test_train_from_corpus(corpus_dir, tmp_path):
    from colored.checkpoint import read_checkpoint
    from colored.train_cli import cli

    torch.set_num_threads(1)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [str(corpus_dir), "--out", str(out), "--backbone", "test_efficientnet",
                                      "--backbone-size", "64", "--no-pretrained", "--image-size", "64", "--arch", "unet",
                                      "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--quiet",
                                      "--source-weight", "src-a=2"])
    assert result.exit_code == 0, result.output
    ckpt = read_checkpoint(out / "last.pt")
    corpus = open_corpus(corpus_dir)
    assert sorted(ckpt["train_files"]) == sorted(r["name"] for r in corpus.split("train"))
    assert sorted(ckpt["val_files"]) == sorted(r["name"] for r in corpus.split("val"))
    assert not set(ckpt["train_files"]) & {r["name"] for r in corpus.split("test")}
    assert ckpt["train_config"]["source_weights"] == {"src-a": 2.0}
    bad = CliRunner().invoke(cli, [str(corpus_dir), "--out", str(tmp_path / "r2"), "--source-weight", "nope=1", "--quiet",
                                   "--backbone", "test_efficientnet", "--no-pretrained", "--image-size", "64"])
    assert bad.exit_code == 1 and "no such source" in bad.output
