#!/usr/bin/env python3
"""Build the training corpus: the photos of ../shared/photo-sources/manifest.tsv (read by git
blob id from bare snapshots of their repositories) and a folder of photos (../shared/photos),
verified, deduplicated, split, and preprocessed into one cache OUTSIDE the repository.

    python data/photos.py SNAPSHOT_DIR... --out CACHE [--photos ../shared/photos]

Each SNAPSHOT_DIR is a bare git directory (``git clone --bare`` or a mirror) of one of the
manifest's repositories; which repository it holds is found from the commits it has, so the
order and names of the directories do not matter. A repository without a snapshot, or a blob
a snapshot lacks, is reported in the record and the build goes on.

Every photo is
  1. checked: its bytes against the manifest's size and git blob id;
  2. decoded by the runtime's own decoder (batch.images.decode: EXIF orientation, ICC profile
     to sRGB, 16-bit), and squashed to S x S by the runtime's own resize
     (batch.colorize.model_pixels), so the network learns from the kind of picture
     colored-batch gives it;
  3. dropped when it is near-grey or one toned colour (95 % of its pixels within a few ab units
     of its mean: sepia, cyanotype, black-and-white);
  4. dropped when a perceptual hash (64-bit DCT hash of the squashed picture) is within
     ``--dup-distance`` bits of one already kept: the photo folder comes first, then the
     sources in the manifest's order, so ImageNet copies in imagenette or the dog breeds give
     way to ../shared/photos' ImageNet sample;
  5. given a split by its content (the blob id, seeded): ``--test-share`` of every source is
     the test set, never trained on or used for a choice; ``--val-share`` the validation set
     for choices (epoch, decode).

CACHE holds
  images.npy   uint8 (N, S, S, 3) sRGB, one row per listed photo (rows of dropped photos zero)
  index.tsv    row, source, name, content id, status (kept / why dropped), split, pHash
  corpus.json  the record: settings, and per source what was listed, missing, unreadable (each
               file named with its reason), near-grey, duplicate, kept, per split; the sampling
               weight and licence of each source
  files/{val,test}/SOURCE/...  the original files of the validation and test photos, for
               colored-eval and the decode sweep (which read photo files, as a user's would)

The build writes into CACHE/.building and moves it into place at the end; an interrupted build
is started again from the beginning.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from colored.atomic import atomic_write_bytes  # noqa: E402
from colored.color import rgb_to_lab  # noqa: E402
from colored.corpus import CORPUS_FILE, IMAGES_FILE, INDEX_COLUMNS, INDEX_FILE, content_split  # noqa: E402

DEFAULT_MANIFEST = ROOT.parent / "shared/photo-sources/manifest.tsv"
PHOTOS_SOURCE = "shared-photos"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")

# Sampling weight (share of the training views) and licence of each source. People matter
# most in photo archives; cats and dogs, clothes on floors and ten ImageNet classes are narrow,
# so they are weighed down however many photos they have.
SOURCES: dict[str, tuple[float, str]] = {
    PHOTOS_SOURCE: (0.10, "see ../shared/photos/README.md (Wikimedia Commons, public domain and CC photos; ImageNet sample)"),
    "msed-people-stock": (0.16, "research only, no redistribution, no commercial use"),
    "multim-poem": (0.16, "MultiM-Poem data set (Flickr, research use; photographers keep copyright)"),
    "bangla-captioning-bcg": (0.14, "none stated (used for experiments)"),
    "monet-photo_jpg": (0.12, "Kaggle competition data, research use"),
    "clothing-co-parsing": (0.07, "research use (repo Apache-2.0; photos from fashion sites)"),
    "chanakya-catsdogs": (0.06, "research / non-commercial (Asirra, Stanford Dogs = ImageNet)"),
    "clothing-dataset": (0.05, "CC0 1.0"),
    "imagenette-224": (0.08, "ImageNet terms (non-commercial research)"),
    "selfexsr-urban100-sunhays80": (0.02, "research data"),
}
OTHER_SOURCE_WEIGHT = 0.05  # a source this table does not know (a newer manifest)
MAX_NAMED = 200  # unreadable files named per source in the record (the count is always whole)


@dataclass
class Entry:
    source: str
    name: str  # repo:path, or the path below the photo folder
    content: str  # git blob id (sha1 of "blob <size>\0" + bytes)
    size: int | None = None  # bytes the manifest promises
    repo: str = ""
    commit: str = ""
    file: Path | None = None  # photo-folder entries: where the file is


@dataclass
class Outcome:
    status: str  # kept, or why not
    reason: str = ""
    phash: int = 0
    pixels: np.ndarray | None = None


@dataclass
class SourceRecord:
    listed: int = 0
    kept: int = 0
    split: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    unreadable: list[dict] = field(default_factory=list)


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_manifest(path: Path) -> list[Entry]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    need = {"source", "repo", "commit", "path", "bytes", "blob_sha"}
    if not rows or not need <= set(rows[0]):
        raise SystemExit(f"error: {path}: not a photo manifest (needs columns {', '.join(sorted(need))})")
    return [Entry(r["source"], f"{r['repo']}:{r['path']}", r["blob_sha"], int(r["bytes"]), r["repo"], r["commit"]) for r in rows]


def folder_entries(folder: Path) -> list[Entry]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    return [Entry(PHOTOS_SOURCE, str(p.relative_to(folder)), git_blob_id(p.read_bytes()), file=p) for p in files]


def has_commit(git_dir: Path, commit: str) -> bool:
    run = subprocess.run(["git", "-C", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    return run.returncode == 0


def match_snapshots(dirs: list[Path], entries: list[Entry]) -> tuple[dict[str, Path], list[str]]:
    """repo -> the snapshot directory that has its commit; and one line per directory that holds none."""
    commits = sorted({(e.repo, e.commit) for e in entries if e.repo})
    found: dict[str, Path] = {}
    unused: list[str] = []
    for d in dirs:
        hits = [repo for repo, commit in commits if repo not in found and has_commit(d, commit)]
        for repo in hits:
            found[repo] = d
        if not hits:
            unused.append(f"{d}: holds none of the manifest's commits (not a snapshot of its repositories?)")
    return found, unused


def read_blobs(git_dir: Path, entries: list[Entry]):
    """(entry, bytes or None) for each entry, through one `git cat-file --batch`."""
    proc = subprocess.Popen(["git", "-C", str(git_dir), "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        for e in entries:
            proc.stdin.write(e.content.encode() + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if len(header) < 2 or header[1] != b"blob":
                yield e, None
                continue
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)  # the newline after the contents
            yield e, data
    finally:
        proc.stdin.close()
        proc.wait()


def phash(grey: np.ndarray) -> int:
    """64-bit DCT hash: the signs of the 8 x 8 lowest frequencies of a 32 x 32 copy against their median."""
    small = cv2.resize(grey.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits).view(">u8")[0])


def colour_check(rgb_u8: np.ndarray, min_spread: float) -> str:
    """'' for a colour photo; why not otherwise. A photo is one colour when 95 % of its pixels'
    ab lie within `min_spread` of their mean ab (grey: mean ~0; sepia/cyanotype: mean elsewhere)."""
    ab = rgb_to_lab(rgb_u8.astype(np.float32) / 255.0)[..., 1:].reshape(-1, 2)
    spread = np.percentile(np.linalg.norm(ab - ab.mean(axis=0), axis=1), 95)
    if spread >= min_spread:
        return ""
    return "near-grey" if np.linalg.norm(ab.mean(axis=0)) < min_spread else "one toned colour"


def prepare(job: tuple) -> Outcome:
    """Worker: bytes (or a file) -> checked, decoded, squashed picture and its hash."""
    from batch.colorize import model_pixels
    from batch.images import ImageError, decode

    data, suffix, size, min_spread, expect_size, expect_id, path = job
    if data is not None:
        if expect_size is not None and len(data) != expect_size:
            return Outcome("unreadable", f"{len(data)} bytes, the manifest says {expect_size}")
        if git_blob_id(data) != expect_id:
            return Outcome("unreadable", "content does not match its blob id")
        fd, tmp = tempfile.mkstemp(suffix=suffix, dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        path = tmp
    try:
        decoded = decode(path)
    except ImageError as e:
        return Outcome("unreadable", e.reason if hasattr(e, "reason") else str(e))
    finally:
        if data is not None:
            os.unlink(path)
    pixels = decoded.pixels
    if pixels.ndim == 2:
        return Outcome("near-grey", "a grey-scale file")
    small = model_pixels(pixels, size)
    if small.dtype == np.uint16:
        small = ((small.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    why = colour_check(small, min_spread)
    if why:
        return Outcome(why)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return Outcome("kept", "", phash(grey), np.ascontiguousarray(small))


class NearDuplicates:
    """Hashes kept so far; a new hash within `distance` bits of one of them is a duplicate.
    Bands of the 64 bits index the hashes: two hashes within d bits agree exactly on at least
    one of d + 1 bands (pigeonhole), so only hashes sharing a band are compared."""

    def __init__(self, distance: int) -> None:
        self.distance = distance
        self.bands = distance + 1
        self.width = -(-64 // self.bands)
        self.tables: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(self.bands)]
        self.names: dict[int, str] = {}

    def _keys(self, h: int):
        mask = (1 << self.width) - 1
        return [(h >> (i * self.width)) & mask for i in range(self.bands)]

    def find(self, h: int) -> str | None:
        for table, key in zip(self.tables, self._keys(h)):
            for other in table.get(key, ()):
                if bin(h ^ other).count("1") <= self.distance:
                    return self.names[other]
        return None

    def add(self, h: int, name: str) -> None:
        self.names.setdefault(h, name)
        for table, key in zip(self.tables, self._keys(h)):
            table[key].append(h)


def jobs(entries: list[Entry], snapshots: dict[str, Path], args, missing: dict[str, str]):
    """(row, entry, job) in the entries' order; entries without bytes get job None and a reason in `missing`."""
    row = 0
    by_repo: dict[str, list[tuple[int, Entry]]] = defaultdict(list)
    order: list[tuple[int, Entry]] = []
    for e in entries:
        order.append((row, e))
        if e.repo:
            by_repo[e.repo].append((row, e))
        row += 1
    for r, e in order:
        if e.file is not None:
            yield r, e, (None, e.file.suffix, args.size, args.min_spread, None, e.content, str(e.file))
    for repo, items in by_repo.items():
        if repo not in snapshots:
            for r, e in items:
                missing[e.name] = "no snapshot of its repository given"
                yield r, e, None
            continue
        for (r, e), (_, data) in zip(items, read_blobs(snapshots[repo], [e for _, e in items])):
            if data is None:
                missing[e.name] = f"blob {e.content} missing from the snapshot {snapshots[repo]}"
                yield r, e, None
            else:
                yield r, e, (data, Path(e.name).suffix, args.size, args.min_spread, e.size, e.content, None)


def build(args) -> dict:
    entries: list[Entry] = []
    if args.photos:
        if not args.photos.is_dir():
            raise SystemExit(f"error: {args.photos}: no such folder")
        entries += folder_entries(args.photos)
    manifest = read_manifest(args.manifest)
    if args.limit:
        per: Counter = Counter()
        manifest = [e for e in manifest if (per.update([e.source]) or per[e.source] <= args.limit)]
    entries += manifest
    snapshots, unused = match_snapshots(args.snapshots, manifest)
    for line in unused:
        print(f"warning: {line}", file=sys.stderr)

    out = args.out
    work = out / ".building"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    images = np.lib.format.open_memmap(work / IMAGES_FILE, mode="w+", dtype=np.uint8,
                                       shape=(len(entries), args.size, args.size, 3))
    records: dict[str, SourceRecord] = defaultdict(SourceRecord)
    index_rows: list[dict] = []
    dups = NearDuplicates(args.dup_distance)
    missing: dict[str, str] = {}
    from tqdm import tqdm

    def results():
        stream = jobs(entries, snapshots, args, missing)
        with Pool(args.workers) as pool:
            # entries without bytes skip the pool; the rest keep their order through imap
            buffered: list[tuple[int, Entry, tuple | None]] = []

            def feed():
                for item in stream:
                    buffered.append(item)
                    if item[2] is not None:
                        yield item[2]
            outcomes = pool.imap(prepare, feed(), chunksize=8)
            for outcome in outcomes:
                while buffered and buffered[0][2] is None:
                    r, e, _ = buffered.pop(0)
                    yield r, e, Outcome("missing", missing[e.name])
                r, e, _ = buffered.pop(0)
                yield r, e, outcome
            for r, e, _ in buffered:
                yield r, e, Outcome("missing", missing[e.name])

    for row, e, outcome in tqdm(results(), total=len(entries), unit="photo", desc="photos", disable=args.quiet):
        rec = records[e.source]
        rec.listed += 1
        split = ""
        status = outcome.status
        if status == "kept":
            twin = dups.find(outcome.phash)
            if twin is not None:
                status, outcome.reason = "duplicate", f"near-duplicate of {twin}"
            else:
                dups.add(outcome.phash, e.name)
                images[row] = outcome.pixels
                split = content_split(e.content, args.seed, args.test_share, args.val_share)
                rec.kept += 1
                rec.split[split] += 1
                if split in ("val", "test"):
                    _keep_file(work / "files" / split / e.source, e, snapshots)
        if status != "kept":
            rec.dropped[status] += 1
            if status in ("unreadable", "missing") and len(rec.unreadable) < MAX_NAMED:
                rec.unreadable.append({"name": e.name, "status": status, "reason": outcome.reason})
        index_rows.append({"row": row, "source": e.source, "name": e.name, "content": e.content,
                           "status": status, "split": split, "phash": f"{outcome.phash:016x}", "reason": outcome.reason})
    images.flush()
    del images

    with open(work / INDEX_FILE, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=INDEX_COLUMNS, delimiter="\t", lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(sorted(index_rows, key=lambda r: r["row"]))
    record = {
        "size": args.size,
        "seed": args.seed,
        "test_share": args.test_share,
        "val_share": args.val_share,
        "dup_distance": args.dup_distance,
        "min_spread": args.min_spread,
        "preprocessing": "batch.images.decode (EXIF, ICC -> sRGB) + batch.colorize.model_pixels (squash to S x S, area)",
        "manifest": {"file": args.manifest.name, "sha256": hashlib.sha256(args.manifest.read_bytes()).hexdigest()},
        "snapshots": {repo: {"commit": next(e.commit for e in manifest if e.repo == repo)} for repo in snapshots},
        "repositories_without_snapshot": sorted({e.repo for e in manifest} - set(snapshots)),
        "rows": len(entries),
        "kept": sum(r.kept for r in records.values()),
        "split": dict(sum((r.split for r in records.values()), Counter())),
        "sources": {
            name: {
                "weight": SOURCES.get(name, (OTHER_SOURCE_WEIGHT, ""))[0],
                "licence": SOURCES.get(name, (0, "see the manifest's README"))[1],
                "listed": r.listed, "kept": r.kept, "split": dict(r.split), "dropped": dict(r.dropped),
                "unreadable_or_missing": r.unreadable,
            }
            for name, r in records.items()
        },
    }
    atomic_write_bytes(work / CORPUS_FILE, json.dumps(record, indent=1).encode())
    if out.exists():
        for child in out.iterdir():
            if child.name != ".building":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    for child in work.iterdir():
        child.rename(out / child.name)
    work.rmdir()
    return record


def _keep_file(folder: Path, e: Entry, snapshots: dict[str, Path]) -> None:
    """The original file of a validation/test photo, named after its path in its source."""
    target = folder / e.name.split(":", 1)[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    if e.file is not None:
        shutil.copyfile(e.file, target)
        return
    data = subprocess.run(["git", "-C", str(snapshots[e.repo]), "cat-file", "blob", e.content],
                          capture_output=True, check=True).stdout
    target.write_bytes(data)


def parse_args(argv: list[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Example:\n  python data/photos.py /mirrors/*/repo --photos ../shared/photos --out ~/colored-corpus")
    p.add_argument("snapshots", nargs="*", type=Path, help="bare git directories of the manifest's repositories")
    p.add_argument("--out", type=Path, required=True, help="cache folder (outside the repository)")
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="photo manifest (default: %(default)s)")
    p.add_argument("--photos", type=Path, default=None, help="a folder of colour photos to add as the source 'shared-photos'")
    p.add_argument("--size", type=int, default=256, help="side of the cached square (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the content-hash split (default: %(default)s)")
    p.add_argument("--test-share", type=float, default=0.03, help="share of every source held out for testing (default: %(default)s)")
    p.add_argument("--val-share", type=float, default=0.01, help="share of every source for validation (default: %(default)s)")
    p.add_argument("--dup-distance", type=int, default=6, help="pHash bits within which photos are duplicates (default: %(default)s)")
    p.add_argument("--min-spread", type=float, default=6.0,
                   help="a photo whose pixels lie within this many ab units of its mean colour (95th percentile) is dropped (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="at most N photos per manifest source (trials)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes (default: all cores)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if ROOT in args.out.resolve().parents or args.out.resolve() == ROOT:
        p.error(f"--out {args.out} is inside the repository: the cache of training photos lives outside it")
    if not args.manifest.is_file():
        p.error(f"--manifest {args.manifest}: no such file")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    record = build(args)
    print(f"{record['kept']} photos kept of {record['rows']} listed: {record['split']}; record: {args.out / CORPUS_FILE}")
    for name, src in record["sources"].items():
        print(f"  {name}: {src['kept']}/{src['listed']} kept, dropped {src['dropped'] or 'none'}")


if __name__ == "__main__":
    main()
