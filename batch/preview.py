"""Contact sheet of a run (colored-batch/colored-watch --preview): grey input beside colour output.

    pairs_from_results(results, input_root, output_root) -> Pair per finished file (this run or earlier)
    sample(pairs, count, seed)                          -> spread over top-level sub-folders, reproducible
    write_sheet(path, pairs)                            -> PNG, written atomically

The grey tile is the lightness the network saw (the input's L*, shown as neutral grey);
when the input is gone (colored-watch --move-done moved it) it is the output's lightness,
which the merge keeps equal to the input's. The labelled relative paths are also stored in
the PNG as text ("colored.preview", JSON), so a program can tell which files a sheet shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from batch import images
from batch.colorize import lightness
from batch.results import ALREADY_DONE, DONE, Result
from colored.atomic import atomic_path
from colored.color import lightness_to_gray
from colored.sheet import spread_sample, wrap_label

THUMB = 192  # box of each tile, pixels
COLUMNS = 3  # pairs per row
PAD = 6
TEXT_KEY = "colored.preview"
ROOT_GROUP = "."


@dataclass(frozen=True)
class Pair:
    label: str  # the input's path relative to the input folder
    input: Path
    output: Path

    @property
    def group(self) -> str:
        parts = PurePosixPath(self.label).parts
        return parts[0] if len(parts) > 1 else ROOT_GROUP


def pairs_from_results(results: Iterable[Result], input_root: Path, output_root: Path) -> list[Pair]:
    """A Pair for every file with an output (done now or earlier), sorted by input path."""
    pairs = {r.input: Pair(r.input, input_root / r.input, output_root / r.output)
             for r in results if r.status in (DONE, ALREADY_DONE) and r.output}
    return [pairs[k] for k in sorted(pairs)]


def sample(pairs: Sequence[Pair], count: int, seed: int = 0) -> list[Pair]:
    """`count` pairs drawn from `seed` round-robin across top-level sub-folders; sorted by path."""
    groups: dict[str, list[Pair]] = {}
    for p in sorted(pairs, key=lambda p: p.label):
        groups.setdefault(p.group, []).append(p)
    ordered = [groups[g] for g in sorted(groups)]
    return sorted(spread_sample(ordered, count, seed), key=lambda p: p.label)


def fit_to_box(pixels: np.ndarray, box: int) -> np.ndarray:
    """The pixels shrunk (area kernel) to fit a box x box square; never enlarged."""
    h, w = pixels.shape[:2]
    scale = min(box / h, box / w, 1.0)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA) if scale < 1 else pixels


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """uint8 or uint16, grey or RGB pixels as uint8 RGB (16 bits to the nearest 8-bit value)."""
    if pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def _grey(decoded: images.DecodedImage, box: int) -> np.ndarray:
    """The lightness of the picture as neutral sRGB grey, uint8 RGB, fitted to `box`."""
    L = lightness(fit_to_box(decoded.pixels, box), decoded.is_color, decoded.lightness_lut)
    g = np.round(np.clip(lightness_to_gray(L), 0, 1) * 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def tiles(pair: Pair, box: int = THUMB) -> tuple[np.ndarray, np.ndarray]:
    """(grey input, colour output) thumbnails of one pair, uint8 RGB."""
    out = images.decode(pair.output)
    src = images.decode(pair.input) if pair.input.is_file() else out
    return _grey(src, box), to_rgb8(fit_to_box(out.pixels, box))


def sheet(pairs: Sequence[Pair], title: str = "", box: int = THUMB, columns: int = COLUMNS) -> Image.Image:
    """Rows of `columns` cells; a cell is grey | colour with the relative path below, wrapped to fit."""
    font = ImageFont.load_default()
    line = font.getbbox("Agjy|")[3] + 2
    cell_w = 2 * box + PAD
    labels = [wrap_label(p.label, cell_w, font.getlength) for p in pairs]
    columns = max(1, min(columns, len(pairs)))
    rows = [list(range(i, min(i + columns, len(pairs)))) for i in range(0, len(pairs), columns)]
    row_h = [box + PAD + line * max(len(labels[i]) for i in r) + 2 * PAD for r in rows]
    top = PAD + (line + PAD if title else 0)
    img = Image.new("RGB", (PAD + columns * (cell_w + 2 * PAD), top + sum(row_h) or 1), "white")
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((PAD, PAD), title, fill="black", font=font)
    y = top
    for r, idx in enumerate(rows):
        for c, i in enumerate(idx):
            x = PAD + c * (cell_w + 2 * PAD)
            for k, tile in enumerate(tiles(pairs[i], box)):
                th, tw = tile.shape[:2]
                img.paste(Image.fromarray(tile), (x + k * (box + PAD) + (box - tw) // 2, y + (box - th) // 2))
            for n, text in enumerate(labels[i]):
                draw.text((x, y + box + PAD + n * line), text, fill="black", font=font)
        y += row_h[r]
    return img


def write_sheet(path: str | Path, pairs: Sequence[Pair], title: str = "", box: int = THUMB) -> Path:
    """Write the sheet of `pairs` as PNG (atomically), their labels in its text chunk; returns the path."""
    path = Path(path)
    info = PngInfo()
    info.add_text(TEXT_KEY, json.dumps([p.label for p in pairs]))
    img = sheet(pairs, title, box)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", pnginfo=info)
    return path


def labels_of(path: str | Path) -> list[str]:
    """The relative paths a sheet written by write_sheet shows, in order."""
    with Image.open(path) as im:
        return json.loads(im.text.get(TEXT_KEY, "[]"))
