"""The user's choices that decide what a run writes (and so what a resumed run must match)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

FORMATS = ("keep", "jpg", "png", "tiff", "webp")
MAX_STRENGTH = 2.0
# Values that give the output runs made before these settings existed: left out of as_dict (and
# so of the manifest fingerprint), so those runs' manifests still resume.
_NEUTRAL = {"render_size": None, "strength": 1.0, "temperature": None, "fit_small": False}


@dataclass(frozen=True)
class Settings:
    format: str = "keep"  # keep | jpg | png | tiff | webp
    suffix: str = ""  # appended to the file stem: photo.tif -> photo<suffix>.tif
    quality: int = 95  # JPEG/WebP quality
    skip_color: bool = False  # leave inputs that already have colour alone
    max_pixels: int = 250_000_000  # larger images fail with a reason instead of exhausting memory
    render_size: int | None = None  # network input size S; None: the model's own (see batch.render)
    strength: float = 1.0  # chroma scale: 0 grey, 1 the model's colours, up to MAX_STRENGTH
    temperature: float | None = None  # annealed-mean T; None: the model's own
    fit_small: bool = False  # pictures smaller than the render size run at a render size that holds them

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be within 1..100, got {self.quality}")
        if "/" in self.suffix or "\\" in self.suffix:
            raise ValueError(f"suffix must not contain path separators, got {self.suffix!r}")
        if not 0.0 <= self.strength <= MAX_STRENGTH:
            raise ValueError(f"--strength {self.strength:g}: must be within 0..{MAX_STRENGTH:g}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"--temperature {self.temperature:g}: must be above 0")
        if self.render_size is not None and self.render_size < 1:
            raise ValueError(f"--render-size {self.render_size}: must be a positive number of pixels")

    def as_dict(self) -> dict:
        """The settings that decide the output (neutral render settings left out, see _NEUTRAL)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in _NEUTRAL or v != _NEUTRAL[k]}
