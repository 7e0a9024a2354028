#!/usr/bin/env python3
"""Rebuild samples/archive/ (the B&W sample archive) from held-out photos of the default model's data.

Run `python data/default-model/fetch.py` first. Every picture is a *test-split* photo
(never seen in training), turned into grey through CIE L* (so the grey is exactly the
lightness the model receives), and stored the way real archive scans come:

  archive/astronaut-portrait.jpg    8-bit grey JPEG, pixels stored sideways, EXIF Orientation=6
  archive/mount-rushmore.png        16-bit grey PNG
  archive/dam.tif                   8-bit grey TIFF
  archive/travels/pisa.jpg          grey picture in an RGB JPEG with an embedded sRGB ICC profile
  archive/travels/igloo.png         8-bit grey PNG, in a sub-folder (colored-batch mirrors the tree)

Sources and licences: samples/SOURCES.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from colored.color import lightness_to_gray, rgb_to_lightness

ROOT = Path(__file__).resolve().parent
TEST = ROOT.parent / "data/default-model/images/test"
OUT = ROOT / "archive"
PREFIX = "gcompris--categorization-rcc-categorization-resource-images-"


def gray(name: str) -> np.ndarray:
    """Float grey in [0, 1] with the photo's CIE lightness."""
    rgb = np.asarray(Image.open(TEST / name).convert("RGB"), dtype=np.float64) / 255.0
    return lightness_to_gray(rgb_to_lightness(rgb))


def u8(g: np.ndarray) -> np.ndarray:
    return (g * 255.0 + 0.5).astype(np.uint8)


def main() -> int:
    if not TEST.is_dir():
        print(f"{TEST} missing: run `python data/default-model/fetch.py` first", file=sys.stderr)
        return 1
    (OUT / "travels").mkdir(parents=True, exist_ok=True)

    # EXIF Orientation 6 = "rotate 90 degrees clockwise to display": store it turned counter-clockwise.
    portrait = u8(gray("skimage--astronaut.png"))[:, 64:448]  # 384 wide x 512 high, so rotation shows
    upright = Image.fromarray(np.ascontiguousarray(portrait), "L")
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(OUT / "astronaut-portrait.jpg", quality=88, exif=exif)

    g16 = (gray(PREFIX + "monuments-mountrushmore.png") * 65535.0 + 0.5).astype(np.uint16)
    Image.fromarray(g16).save(OUT / "mount-rushmore.png")  # uint16 -> mode I;16, a 16-bit PNG

    Image.fromarray(u8(gray(PREFIX + "renewable-dam3.png")), "L").save(OUT / "dam.tif", compression="tiff_lzw")

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pisa = u8(gray(PREFIX + "monuments-leaningtowerofpisa.png"))
    Image.fromarray(np.repeat(pisa[..., None], 3, axis=2), "RGB").save(
        OUT / "travels/pisa.jpg", quality=90, icc_profile=srgb
    )

    Image.fromarray(u8(gray(PREFIX + "others-igloo.png")), "L").save(OUT / "travels/igloo.png")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
