"""The training corpus cache written by data/photos.py, read without torch.

A cache folder holds ``images.npy`` (uint8 (N, S, S, 3) sRGB, the runtime's resize of each
photo), ``index.tsv`` (one row per listed photo: source, name, content id, status, split) and
``corpus.json`` (the build's record, with each source's sampling weight). Splits come from the
content id alone (content_split), so a photo keeps its split whatever else is added.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CORPUS_FILE = "corpus.json"
IMAGES_FILE = "images.npy"
INDEX_FILE = "index.tsv"
INDEX_COLUMNS = ("row", "source", "name", "content", "status", "split", "phash", "reason")
SPLITS = ("train", "val", "test")


class CorpusError(ValueError):
    """A corpus cache is missing, incomplete or asked for something it does not have."""


def content_split(content_id: str, seed: int, test_share: float, val_share: float) -> str:
    """'test', 'val' or 'train' from a seeded hash of the photo's content id."""
    digest = hashlib.sha256(f"{seed}:{content_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_share:
        return "test"
    return "val" if u < test_share + val_share else "train"


def is_corpus(path: str | Path) -> bool:
    return (Path(path) / CORPUS_FILE).is_file()


@dataclass
class Corpus:
    root: Path
    record: dict
    rows: list[dict]  # the kept photos of index.tsv
    images: np.ndarray  # memory-mapped (N, S, S, 3) uint8

    @property
    def size(self) -> int:
        return int(self.record["size"])

    def split(self, name: str) -> list[dict]:
        return [r for r in self.rows if r["split"] == name]

    def source_weights(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """Each source's share of the training views, normalised to sum to 1 over the sources
        that have training photos."""
        weights = {name: float(src["weight"]) for name, src in self.record["sources"].items()}
        for name, w in (overrides or {}).items():
            if name not in weights:
                raise CorpusError(f"--source-weight {name}: no such source in {self.root} (sources: {', '.join(sorted(weights))})")
            weights[name] = float(w)
        present = {r["source"] for r in self.split("train")}
        weights = {k: v for k, v in weights.items() if k in present and v > 0}
        total = sum(weights.values())
        if not total:
            raise CorpusError(f"{self.root}: no training photos with a positive source weight")
        return {k: v / total for k, v in weights.items()}

    def sample_weights(self, rows: list[dict], overrides: Mapping[str, float] | None = None) -> np.ndarray:
        """Per-photo sampling weights: a source's share spread evenly over its photos."""
        shares = self.source_weights(overrides)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["source"]] = counts.get(r["source"], 0) + 1
        return np.array([shares.get(r["source"], 0.0) / counts[r["source"]] for r in rows], dtype=np.float64)


def open_corpus(path: str | Path) -> Corpus:
    root = Path(path)
    if not is_corpus(root):
        raise CorpusError(f"{root}: not a corpus cache (no {CORPUS_FILE}; build one with data/photos.py)")
    record = json.loads((root / CORPUS_FILE).read_text())
    try:
        images = np.load(root / IMAGES_FILE, mmap_mode="r")
        with open(root / INDEX_FILE, newline="") as f:
            rows = [r for r in csv.DictReader(f, delimiter="\t") if r["status"] == "kept"]
    except (OSError, ValueError) as e:
        raise CorpusError(f"{root}: incomplete corpus cache ({e}); build it again with data/photos.py") from e
    for r in rows:
        r["row"] = int(r["row"])
    if images.ndim != 4 or images.shape[1:] != (record["size"], record["size"], 3):
        raise CorpusError(f"{root / IMAGES_FILE}: shape {images.shape} does not match the record's size {record['size']}")
    return Corpus(root, record, rows, images)
