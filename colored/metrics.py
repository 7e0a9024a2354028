"""Colorization quality metrics that need no pretrained network (numpy only, no torch).

Shared by training (validation), `colored-eval` and the runtime, so it must not import
torch. SSIM uses scikit-image, imported lazily so the other metrics work without it.

Definitions (see /work/shared/README.md and docs/training.md):
- PSNR on uint8 RGB, computed per image, then averaged over a set.
- SSIM with an 11x11 Gaussian window, sigma 1.5, population covariances (Wang et al. 2004).
- AuC: the fraction of pixels whose ab error (L2 in Lab units) is <= t, swept over
  t = 0..150, integrated (trapezoid) and normalised to percent (Zhang et al. 2016).
- Colorfulness (Hasler & Suesstrunk 2003) on uint8 RGB, and dCF = |mean CF(pred) - mean CF(truth)|.
- Hue-aware measures (HueCounts), which a constant tint cannot pass: green/blue/red recall
  (of the truth's clearly green, blue or red pixels, the percentage the output also colours
  that way) and AuC over the truth's chromatic pixels only (chroma > 20). They are pixel
  counts, so a set's value pools counts over its images instead of averaging per image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

AUC_MAX_THRESHOLD = 150
AUC_THRESHOLDS = np.arange(AUC_MAX_THRESHOLD + 1, dtype=np.float64)


def _check_rgb_u8(img: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 RGB, got dtype {img.dtype} (scale [0,1] floats by 255 and round)")
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"{name}: expected an (H, W, 3) RGB image, got shape {img.shape}")
    return img


def _check_pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, true = _check_rgb_u8(pred, "prediction"), _check_rgb_u8(true, "ground truth")
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground truth shape {true.shape}")
    return pred, true


def psnr(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of one uint8 RGB image pair; inf when identical."""
    pred, true = _check_pair(pred_rgb_u8, true_rgb_u8)
    mse = np.mean((pred.astype(np.float64) - true.astype(np.float64)) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / mse))


def ssim(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray) -> float:
    """Mean SSIM of one uint8 RGB pair (Gaussian 11x11 window, sigma 1.5), averaged over channels.

    Images must be at least 11 pixels on each side (the window size).
    """
    pred, true = _check_pair(pred_rgb_u8, true_rgb_u8)
    if min(pred.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {pred.shape[1]}x{pred.shape[0]}")
    from skimage.metrics import structural_similarity  # lazy: skimage is a train/eval dependency only

    return float(
        structural_similarity(
            pred,
            true,
            channel_axis=-1,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def ab_error_cdf(pred_ab: np.ndarray, true_ab: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    """Fraction of pixels with ab L2 error <= t for t = 0..150 (151 values, non-decreasing).

    ab arrays are in Lab units with the two channels on ``channel_axis`` (last by default;
    pass ``channel_axis=1`` for NCHW). All pixels passed are pooled.
    """
    pred = np.asarray(pred_ab, dtype=np.float64)
    true = np.asarray(true_ab, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"prediction ab shape {pred.shape} != ground truth ab shape {true.shape}")
    if pred.ndim == 0 or pred.shape[channel_axis] != 2:
        raise ValueError(f"expected 2 ab channels on axis {channel_axis}, got shape {pred.shape}")
    err = np.sqrt(np.sum((pred - true) ** 2, axis=channel_axis)).ravel()
    if err.size == 0:
        raise ValueError("AuC of an empty image")
    return error_counts(err) / err.size


def error_counts(err: np.ndarray) -> np.ndarray:
    """How many of the errors `err` are <= t, for t = 0..150 (int64): a CDF before normalising,
    kept as counts so that subsets of pixels from many images can be pooled."""
    err = np.sort(np.asarray(err, dtype=np.float64).ravel())
    return np.searchsorted(err, AUC_THRESHOLDS, side="right").astype(np.int64)


def auc_from_cdf(cdf: np.ndarray) -> float:
    """Area under the ab-error CDF over t in [0, 150], in percent (100 = every pixel exact)."""
    return float(np.trapezoid(cdf, AUC_THRESHOLDS) / AUC_MAX_THRESHOLD * 100.0)


def auc(pred_ab: np.ndarray, true_ab: np.ndarray, channel_axis: int = -1) -> float:
    """AuC in percent of the ab error CDF, thresholds 0..150 (Zhang et al. 2016)."""
    return auc_from_cdf(ab_error_cdf(pred_ab, true_ab, channel_axis))


CHROMA_THRESHOLD = 20.0  # truth chroma above which a pixel counts as "coloured" for AuC chroma>20
# False colour: a neutral truth pixel (chroma below NEUTRAL_CHROMA: walls, shadows, streets,
# overcast skies) that the output paints clearly coloured (chroma at least FALSE_CHROMA). The
# gap between the two keeps a faint cast from counting; a red blotch on a grey wall counts.
NEUTRAL_CHROMA = 5.0
FALSE_CHROMA = 15.0


@dataclass(frozen=True)
class HueRule:
    """A hue recall: truth pixels beyond `truth_limit` on one ab channel are eligible; a hit is
    an output pixel beyond `output_limit` on that channel, on the same side of neutral.

    The output limit is looser than the truth's so that a muted but right hue still counts;
    a constant tint can only pass rules on its own side of grey.
    """

    name: str
    channel: int  # 0 = a*, 1 = b*
    truth_limit: float
    output_limit: float

    def _beyond(self, values: np.ndarray, limit: float) -> np.ndarray:
        # The sign of the limit says the side: negative a* is green, negative b* blue, positive a* red.
        return values < limit if limit < 0 else values > limit

    def counts(self, pred_ab: np.ndarray, true_ab: np.ndarray) -> tuple[int, int]:
        """(hits, eligible pixels) of one image."""
        eligible = self._beyond(true_ab[..., self.channel], self.truth_limit)
        hits = eligible & self._beyond(pred_ab[..., self.channel], self.output_limit)
        return int(hits.sum()), int(eligible.sum())


HUE_RULES = (
    HueRule("green", channel=0, truth_limit=-10.0, output_limit=-5.0),
    HueRule("blue", channel=1, truth_limit=-10.0, output_limit=-5.0),
    HueRule("red", channel=0, truth_limit=20.0, output_limit=10.0),
)


def share(hits: int, eligible: int) -> float:
    """hits / eligible in percent; NaN when nothing was eligible (no such pixel, no verdict)."""
    return 100.0 * hits / eligible if eligible else float("nan")


@dataclass(frozen=True)
class HueCounts:
    """Pixel counts behind the hue-aware measures of one image, or of a set (sum with +).

    hits/eligible: one entry per HUE_RULES rule. chroma_counts[t]: truth pixels of chroma >
    CHROMA_THRESHOLD whose ab error is <= t, for t = 0..150; chroma_pixels: how many there are.
    """

    hits: tuple[int, ...]
    eligible: tuple[int, ...]
    chroma_counts: tuple[int, ...]
    chroma_pixels: int
    neutral_pixels: int = 0  # truth pixels of chroma < NEUTRAL_CHROMA
    false_colour_pixels: int = 0  # ... of them painted with chroma >= FALSE_CHROMA

    @classmethod
    def zero(cls) -> "HueCounts":
        return cls((0,) * len(HUE_RULES), (0,) * len(HUE_RULES), (0,) * len(AUC_THRESHOLDS), 0)

    def __add__(self, other: "HueCounts") -> "HueCounts":
        add = lambda x, y: tuple(i + j for i, j in zip(x, y))  # noqa: E731
        return HueCounts(add(self.hits, other.hits), add(self.eligible, other.eligible),
                         add(self.chroma_counts, other.chroma_counts), self.chroma_pixels + other.chroma_pixels,
                         self.neutral_pixels + other.neutral_pixels, self.false_colour_pixels + other.false_colour_pixels)

    def false_colour(self) -> float:
        """The percentage of neutral truth pixels the output paints clearly coloured (NaN if none)."""
        return share(self.false_colour_pixels, self.neutral_pixels)

    def recall(self, name: str) -> float:
        """The percentage of eligible truth pixels the output coloured the right way (NaN if none)."""
        i = [rule.name for rule in HUE_RULES].index(name)
        return share(self.hits[i], self.eligible[i])

    def chroma_auc(self) -> float:
        """AuC (as auc) over the chromatic truth pixels only; NaN when there are none."""
        if not self.chroma_pixels:
            return float("nan")
        return auc_from_cdf(np.asarray(self.chroma_counts, dtype=np.float64) / self.chroma_pixels)


def hue_counts(pred_ab: np.ndarray, true_ab: np.ndarray) -> HueCounts:
    """HueCounts of one image from its output and truth ab planes (Lab units, channels last)."""
    pred = np.asarray(pred_ab, dtype=np.float64)
    true = np.asarray(true_ab, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim == 0 or pred.shape[-1] != 2:
        raise ValueError(f"expected equal (..., 2) ab arrays, got {pred.shape} and {true.shape}")
    hits, eligible = zip(*(rule.counts(pred, true) for rule in HUE_RULES))
    true_chroma = np.hypot(true[..., 0], true[..., 1])
    chromatic = true_chroma > CHROMA_THRESHOLD
    err = np.hypot(*(pred[chromatic] - true[chromatic]).T)
    neutral = true_chroma < NEUTRAL_CHROMA
    painted = neutral & (np.hypot(pred[..., 0], pred[..., 1]) >= FALSE_CHROMA)
    return HueCounts(hits, eligible, tuple(int(c) for c in error_counts(err)), int(chromatic.sum()),
                     int(neutral.sum()), int(painted.sum()))


def pooled(counts: Iterable[HueCounts]) -> HueCounts:
    """The counts of a set: every image's pixels pooled (a big image weighs more than a small one)."""
    return sum(counts, HueCounts.zero())


def colorfulness(rgb_u8: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colorfulness of a uint8 RGB image; 0 for any grey image."""
    img = _check_rgb_u8(rgb_u8, "image").astype(np.float64)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    rg = np.abs(r - g)
    yb = np.abs((r + g) / 2.0 - b)
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def delta_colorfulness(preds: Iterable[np.ndarray], truths: Iterable[np.ndarray]) -> float:
    """dCF = |mean colorfulness(preds) - mean colorfulness(truths)| over a set of images."""
    cf_pred = [colorfulness(p) for p in preds]
    cf_true = [colorfulness(t) for t in truths]
    if not cf_pred or len(cf_pred) != len(cf_true):
        raise ValueError(f"need equally many predictions and truths (got {len(cf_pred)} and {len(cf_true)})")
    return float(abs(np.mean(cf_pred) - np.mean(cf_true)))


def mean_psnr(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """PSNR per image, then averaged (inf if any pair is identical)."""
    if not preds or len(preds) != len(truths):
        raise ValueError(f"need equally many predictions and truths (got {len(preds)} and {len(truths)})")
    return float(np.mean([psnr(p, t) for p, t in zip(preds, truths)]))


def rgb_float_to_u8(rgb: np.ndarray) -> np.ndarray:
    """[0, 1] float RGB -> uint8 with rounding (how every metric here expects its images)."""
    return (np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
