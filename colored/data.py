"""Training data: a folder tree of photos -> (L, ab) pairs of the same augmented image.

Every image is EXIF-transposed, converted to 8-bit RGB and resized (squashed, as the
reference did) to the model size. Training images get the reference's geometric
augmentation only (horizontal flip; shift 0.06 / scale 0.1 / rotate 45 via ``A.Affine``);
L and ab are then computed from that one augmented RGB image. With ``tone_jitter`` the L of a
training view is then re-rendered (tone curve, blur, grain; `tone_augmentation`); ab stays.
The model derives its backbone's grey copy from this L, so both branches always see the same
picture.

Unreadable files never stop training: they are dropped (one warning each) when found
while scanning or caching, and a file that fails mid-epoch yields an "invalid" sample
that `collate_skip_bad` drops; the training loop warns once per file.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from colored.color import rgb_to_lab

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
CROP_MIN_AREA = 0.25  # smallest random crop of crop mode, as a share of the photo's area


class DataError(ValueError):
    """The data folder cannot be used (missing, empty, too few images for a split)."""


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded and is skipped."""


def warn_unreadable(path: str | Path, reason: str) -> None:
    warnings.warn(f"{path}: skipped, cannot read image ({reason})", UnreadableImageWarning, stacklevel=2)


def find_images(root: str | Path) -> list[Path]:
    """All image files below ``root`` (recursive, case-insensitive extensions, hidden files skipped), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise DataError(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)}, recursively)")
    return files


def split_files(files: Sequence[Path], val_fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """Deterministic train/val split: the same files and seed always give the same split.

    At least one validation and one training image when ``val_fraction`` > 0.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    files = sorted(files)
    if val_fraction == 0:
        return list(files), []
    if len(files) < 2:
        raise DataError(f"need at least 2 images for a train/val split, found {len(files)} (or use --val-fraction 0)")
    n_val = min(len(files) - 1, max(1, round(len(files) * val_fraction)))
    order = np.random.default_rng(seed).permutation(len(files))
    val_idx = set(order[:n_val].tolist())
    train = [f for i, f in enumerate(files) if i not in val_idx]
    val = [f for i, f in enumerate(files) if i in val_idx]
    return train, val


def write_split(path: str | Path, roots: Path | Sequence[Path], train: Sequence[Path], val: Sequence[Path], seed: int) -> None:
    """Record the split as JSON (paths relative to the data root they came from), so a run can be audited/reproduced."""
    from colored.atomic import atomic_write_bytes

    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]

    def rel(p: Path) -> str:
        for i, root in enumerate(roots):
            if Path(p).is_relative_to(root):
                sub = str(Path(p).relative_to(root))
                return sub if len(roots) == 1 else f"{i}:{sub}"
        return str(p)

    doc = {
        "root": str(roots[0]) if len(roots) == 1 else [str(r) for r in roots],
        "seed": seed,
        "train": [rel(p) for p in train],
        "val": [rel(p) for p in val],
    }
    atomic_write_bytes(path, json.dumps(doc, indent=1).encode())


def _to_rgb8(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB. 16-bit/float greys are rescaled instead of clipped;
    transparency is composited over white so alpha does not turn into black."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray((np.clip(arr / hi, 0, 1) * 255 + 0.5).astype(np.uint8)).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def load_rgb(path: str | Path, size: int) -> np.ndarray:
    """Decode, EXIF-transpose and resize an image to (size, size, 3) uint8 RGB.

    JPEGs are decoded at a reduced scale when much larger than ``size`` (Pillow's draft
    mode), which makes loading large photos several times faster. Raises on bad files.
    """
    with Image.open(path) as img:
        img.draft("RGB", (size * 2, size * 2))  # no-op for non-JPEG; keeps >= 2x the target for quality
        img = ImageOps.exif_transpose(img)
        img = _to_rgb8(img)
        img = img.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
        return np.asarray(img, dtype=np.uint8).copy()


def load_rgb_short_side(path: str | Path, short: int, max_aspect: float = 2.0) -> np.ndarray:
    """Decode, EXIF-transpose and resize an image so its short side is ``short``, keeping its
    aspect ratio (uint8 RGB); a long side beyond ``max_aspect`` x ``short`` is centre-cropped,
    which bounds the RAM a cached panorama takes. Raises on bad files."""
    with Image.open(path) as img:
        img.draft("RGB", (short * 2, short * 2))
        img = _to_rgb8(ImageOps.exif_transpose(img))
        w, h = img.size
        scale = short / min(w, h)
        nw, nh = max(short, round(w * scale)), max(short, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BICUBIC, reducing_gap=2.0)
        limit = round(short * max_aspect)
        if max(nw, nh) > limit:
            left, top = (nw - min(nw, limit)) // 2, (nh - min(nh, limit)) // 2
            img = img.crop((left, top, left + min(nw, limit), top + min(nh, limit)))
        return np.asarray(img, dtype=np.uint8).copy()


def centre_view(rgb: np.ndarray, size: int) -> np.ndarray:
    """The un-augmented view of a crop-mode image: short side resized to ``size``, centre square."""
    import cv2

    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(rgb[top : top + size, left : left + size])


def crop_augmentation(size: int, min_area: float = CROP_MIN_AREA, interpolation: int | None = None):
    """Random crops (``min_area``-100% of the area, aspect 3:4-4:3) of an image kept at a larger size, and
    horizontal flips. Unlike squashing every photo to a square and rotating it (the reference's
    recipe, which fills corners with reflections), every training view is a real part of a photo,
    and the high-resolution wallpapers give many distinct views."""
    import albumentations as A
    import cv2

    return A.Compose(
        [
            A.RandomResizedCrop(size=(size, size), scale=(min_area, 1.0), ratio=(0.75, 4 / 3),
                                interpolation=cv2.INTER_LINEAR if interpolation is None else interpolation),
            A.HorizontalFlip(p=0.5),
        ]
    )


def tone_augmentation(p: float):
    """Changes to the lightness alone, as black-and-white archives differ from a colour photo's L*:
    another tone curve (gamma 0.7-1.4, contrast and brightness), softness and film grain. Applied to
    L/100 after the colour target is computed, so the model learns the same colours from every
    rendering of a scene instead of recognising a training photo by its exact tones. ``p`` is the
    probability of the tone change; blur and grain each come with probability p/2."""
    import albumentations as A

    return A.Compose(
        [
            A.RandomGamma(gamma_limit=(70, 140), p=p),
            A.RandomBrightnessContrast(brightness_limit=0.08, contrast_limit=0.25, p=p),
            A.GaussianBlur(sigma_limit=(0.3, 1.5), p=p / 2),
            A.GaussNoise(std_range=(0.01, 0.04), p=p / 2),
        ]
    )


def geometric_augmentation():
    """The reference's augmentation, in albumentations 2.x terms: geometric only, no colour jitter."""
    import albumentations as A
    import cv2

    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            # ShiftScaleRotate(shift_limit=0.06, scale_limit=0.1, rotate_limit=45) in the current API;
            # same p and reflect border as ShiftScaleRotate's defaults.
            A.Affine(
                translate_percent=(-0.06, 0.06),
                scale=(0.9, 1.1),
                rotate=(-45, 45),
                border_mode=cv2.BORDER_REFLECT_101,
                p=0.5,
            ),
        ]
    )


def rgb_to_sample(rgb_u8: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB (H,W,3) -> (L (1,H,W) in [0,100], ab (2,H,W) in Lab units), float32 tensors."""
    lab = rgb_to_lab(rgb_u8.astype(np.float32) / 255.0)
    lab = torch.from_numpy(np.ascontiguousarray(lab.transpose(2, 0, 1), dtype=np.float32))
    return lab[:1], lab[1:]


@dataclass
class Sample:
    L: torch.Tensor
    ab: torch.Tensor
    path: str
    error: str = ""  # why the file could not be read; empty for a good sample

    @property
    def ok(self) -> bool:
        return not self.error


class ColorizationDataset(Dataset):
    """(L, ab) of each image, resized to ``size``; augmented when ``augment``.

    With ``cache=True`` the decoded, resized images are loaded once up front (dropping and
    warning about unreadable ones) and kept in RAM as uint8: ~200 kB per image at 256 px.
    """

    def __init__(
        self,
        files: Sequence[str | Path],
        size: int,
        augment: bool = False,
        cache: bool = False,
        progress: bool = False,
        crop_from: int | None = None,
        crop_min_area: float = CROP_MIN_AREA,
        tone_jitter: float = 0.0,
    ) -> None:
        self.files = [str(f) for f in files]
        self.size = size
        # crop mode: images are kept with their aspect at short side crop_from and the model
        # sees random crops of them (training) or their centre square (validation).
        self.crop_from = crop_from
        if crop_from is not None and crop_from < size:
            raise DataError(f"--crop-from {crop_from} is smaller than the image size {size}")
        if augment:
            self.transform = crop_augmentation(size, crop_min_area) if crop_from else geometric_augmentation()
        else:
            self.transform = None
        self.tone = tone_augmentation(tone_jitter) if augment and tone_jitter > 0 else None
        self._bad: dict[str, str] = {}  # path -> reason, per process
        self.dropped: list[tuple[str, str]] = []  # (path, reason) of the files the cache could not read
        self._cache: list[np.ndarray] | None = None
        if cache:
            self._fill_cache(progress)

    def plain(self) -> "ColorizationDataset":
        """The same images (sharing the cache) without augmentation: for the colour prior."""
        view = copy.copy(self)
        view.transform = None
        view.tone = None
        return view

    def decode(self, path: str) -> np.ndarray:
        if self.crop_from:
            return load_rgb_short_side(path, self.crop_from)
        return load_rgb(path, self.size)

    def _fill_cache(self, progress: bool) -> None:
        from tqdm import tqdm

        kept, images = [], []
        for path in tqdm(self.files, desc="caching images", unit="img", disable=not progress, leave=False):
            try:
                images.append(self.decode(path))
                kept.append(path)
            except Exception as e:
                self.dropped.append((path, f"{type(e).__name__}: {e}"))
                warn_unreadable(path, self.dropped[-1][1])
        self.files, self._cache = kept, images

    def reseed(self, seed: int) -> None:
        """Seed the augmentation (called per epoch and per DataLoader worker, for reproducible resumes)."""
        if self.transform is not None:
            self.transform.set_random_seed(seed % 2**32)
        if self.tone is not None:
            self.tone.set_random_seed((seed * 7919 + 1) % 2**32)

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> np.ndarray:
        if self._cache is not None:
            return self._cache[index]
        return self.decode(self.files[index])

    def augment(self, rgb: np.ndarray) -> np.ndarray:
        if self.transform is not None:
            return self.transform(image=rgb)["image"]
        return centre_view(rgb, self.size) if self.crop_from else rgb

    def retone(self, L: torch.Tensor) -> torch.Tensor:
        """The tone augmentation on L (1,H,W) in [0,100]; the colour target is left as it was."""
        grey = np.ascontiguousarray(L[0].numpy() / 100.0, dtype=np.float32)
        out = np.clip(self.tone(image=grey)["image"], 0.0, 1.0) * 100.0
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).reshape(L.shape)

    def __getitem__(self, index: int) -> Sample:
        path = self.files[index]
        if path not in self._bad:
            try:
                rgb = self.load(index)
            except Exception as e:  # decoding errors of any kind: skip, never crash a worker
                self._bad[path] = f"{type(e).__name__}: {e}"
            else:
                L, ab = rgb_to_sample(self.augment(rgb))
                if self.tone is not None:
                    L = self.retone(L)
                return Sample(L, ab, path)
        s = self.size
        return Sample(torch.zeros(1, s, s), torch.zeros(2, s, s), path, self._bad[path])


@dataclass
class Batch:
    L: torch.Tensor
    ab: torch.Tensor
    paths: list[str]
    bad: list[tuple[str, str]]  # (path, reason) of the samples that were dropped

    def __len__(self) -> int:
        return len(self.paths)


def collate_skip_bad(samples: list[Sample]) -> Batch:
    """Stack the readable samples; report the unreadable ones (so the main process can warn once)."""
    good = [s for s in samples if s.ok]
    bad = [(s.path, s.error) for s in samples if not s.ok]
    if not good:
        return Batch(torch.empty(0, 1, 0, 0), torch.empty(0, 2, 0, 0), [], bad)
    return Batch(torch.stack([s.L for s in good]), torch.stack([s.ab for s in good]), [s.path for s in good], bad)


class BadFileReporter:
    """Warns once per unreadable file, however many epochs or workers run into it."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, bad: Sequence[tuple[str, str]]) -> None:
        for path, reason in bad:
            if path not in self.seen:
                self.seen.add(path)
                warn_unreadable(path, reason)


class CorpusDataset(ColorizationDataset):
    """(L, ab) of the photos of a corpus cache (colored.corpus, built by data/photos.py).

    The cache holds each photo as the runtime prepares the network's input: decoded by
    colored-batch's decoder and squashed whole to S x S by its area resize. Validation views
    are that picture at the model size (area resize again when the sizes differ); training
    views are random crops of it (``crop_min_area``-100 % of the area, aspect 3:4-4:3, area
    resampling) and mirror images, optionally re-toned (``tone_jitter``)."""

    def __init__(self, corpus, names: Sequence[str], size: int, augment: bool = False,
                 crop_min_area: float = CROP_MIN_AREA, tone_jitter: float = 0.0) -> None:
        import cv2

        by_name = {r["name"]: r for r in corpus.rows}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise DataError(f"{corpus.root}: {len(missing)} photos of the run are not in this corpus cache (first: {missing[0]})")
        self.corpus = corpus
        self.files = list(names)
        self.rows = [by_name[n]["row"] for n in names]
        self.sources = [by_name[n]["source"] for n in names]
        self.size = size
        self.crop_from = None
        self.transform = crop_augmentation(size, crop_min_area, cv2.INTER_AREA) if augment else None
        self.tone = tone_augmentation(tone_jitter) if augment and tone_jitter > 0 else None
        self._bad = {}
        self._cache = None

    def load(self, index: int) -> np.ndarray:
        return np.asarray(self.corpus.images[self.rows[index]])

    def augment(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        if self.transform is not None:
            return self.transform(image=rgb)["image"]
        if rgb.shape[0] != self.size:
            return cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return rgb
