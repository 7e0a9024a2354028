"""Colorization quality metrics that need no pretrained network (numpy only, no torch).

Shared by training (validation), `colored-eval` and the runtime, so it must not import
torch. SSIM uses scikit-image, imported lazily so the other metrics work without it.

Definitions (see /work/shared/README.md and docs/training.md):
- PSNR on uint8 RGB, computed per image, then averaged over a set.
- SSIM with an 11x11 Gaussian window, sigma 1.5, population covariances (Wang et al. 2004).
- AuC: the fraction of pixels whose ab error (L2 in Lab units) is <= t, swept over
  t = 0..150, integrated (trapezoid) and normalised to percent (Zhang et al. 2016).
- Colorfulness (Hasler & Suesstrunk 2003) on uint8 RGB, and dCF = |mean CF(pred) - mean CF(truth)|.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
    err.sort()
    return np.searchsorted(err, AUC_THRESHOLDS, side="right") / err.size


def auc_from_cdf(cdf: np.ndarray) -> float:
    """Area under the ab-error CDF over t in [0, 150], in percent (100 = every pixel exact)."""
    return float(np.trapezoid(cdf, AUC_THRESHOLDS) / AUC_MAX_THRESHOLD * 100.0)


def auc(pred_ab: np.ndarray, true_ab: np.ndarray, channel_axis: int = -1) -> float:
    """AuC in percent of the ab error CDF, thresholds 0..150 (Zhang et al. 2016)."""
    return auc_from_cdf(ab_error_cdf(pred_ab, true_ab, channel_axis))


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
