"""The user's choices that decide what a run writes (and so what a resumed run must match)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

FORMATS = ("keep", "jpg", "png", "tiff", "webp")


@dataclass(frozen=True)
class Settings:
    format: str = "keep"  # keep | jpg | png | tiff | webp
    suffix: str = ""  # appended to the file stem: photo.tif -> photo<suffix>.tif
    quality: int = 95  # JPEG/WebP quality
    skip_color: bool = False  # leave inputs that already have colour alone
    max_pixels: int = 250_000_000  # larger images fail with a reason instead of exhausting memory

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be within 1..100, got {self.quality}")
        if "/" in self.suffix or "\\" in self.suffix:
            raise ValueError(f"suffix must not contain path separators, got {self.suffix!r}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
