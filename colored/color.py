"""sRGB <-> CIE Lab (D65, 2 degree observer) for numpy arrays and torch tensors.

One implementation serves both array libraries: every function looks at the type
of its input and uses numpy or torch accordingly, so torch is only imported when
a tensor is passed. Conventions match ``skimage.color.rgb2lab``/``lab2rgb``:
RGB in [0, 1], L in [0, 100], a/b roughly in [-128, 127].
The channel axis defaults to the last one (HWC); pass ``channel_axis=1`` for NCHW.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# sRGB primaries -> XYZ (the matrix skimage uses), and the D65 white point.
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])

_EPS = 0.008856  # (6/29)^3: where the Lab cube root switches to its linear segment
_KAPPA = 7.787  # slope of that linear segment
_F_EPS = 0.2068966  # f(_EPS)

Array = Any  # np.ndarray or torch.Tensor


def _is_torch(x: Array) -> bool:
    return type(x).__module__.startswith("torch")


def _const(x: Array, value: np.ndarray) -> Array:
    """`value` as an array of x's kind, dtype and device."""
    if _is_torch(x):
        import torch

        return torch.as_tensor(value, dtype=x.dtype, device=x.device)
    return value.astype(x.dtype if x.dtype.kind == "f" else np.float64)


def _where(cond: Array, a: Array, b: Array) -> Array:
    if _is_torch(cond):
        import torch

        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def _float(x: Array) -> Array:
    if _is_torch(x):
        return x if x.is_floating_point() else x.float()
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def _to_last(x: Array, axis: int) -> Array:
    return x if axis in (-1, x.ndim - 1) else x.moveaxis(axis, -1) if _is_torch(x) else np.moveaxis(x, axis, -1)


def _from_last(x: Array, axis: int) -> Array:
    return x if axis in (-1, x.ndim - 1) else x.moveaxis(-1, axis) if _is_torch(x) else np.moveaxis(x, -1, axis)


def srgb_to_linear(c: Array) -> Array:
    """Undo the sRGB transfer curve (values in [0, 1])."""
    c = _float(c)
    return _where(c <= 0.04045, c / 12.92, ((c.clip(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: Array) -> Array:
    """Apply the sRGB transfer curve; the result is clipped to [0, 1]."""
    c = _float(c)
    out = _where(c <= 0.0031308, 12.92 * c, 1.055 * c.clip(0.0031308) ** (1 / 2.4) - 0.055)
    return out.clip(0.0, 1.0)


def _f(t: Array) -> Array:
    return _where(t > _EPS, t.clip(_EPS) ** (1 / 3), _KAPPA * t + 16 / 116)


def _f_inv(t: Array) -> Array:
    return _where(t > _F_EPS, t**3, (t - 16 / 116) / _KAPPA)


def rgb_to_lab(rgb: Array, channel_axis: int = -1) -> Array:
    """sRGB in [0, 1] -> Lab. Integer input is not accepted: scale it first."""
    if not _is_torch(rgb) and rgb.dtype.kind in "ui":
        raise TypeError("rgb_to_lab expects floats in [0, 1]; divide integer images by their max value")
    rgb = _to_last(_float(rgb), channel_axis)
    xyz = srgb_to_linear(rgb) @ _const(rgb, XYZ_FROM_RGB.T / WHITE_D65[None, :])
    fx, fy, fz = _f(xyz[..., 0]), _f(xyz[..., 1]), _f(xyz[..., 2])
    L = 116 * fy - 16
    a = 500 * (fx - fy)
    b = 200 * (fy - fz)
    lab = np.stack([L, a, b], axis=-1) if not _is_torch(rgb) else _torch_stack([L, a, b])
    return _from_last(lab, channel_axis)


def lab_to_rgb(lab: Array, channel_axis: int = -1) -> Array:
    """Lab -> sRGB in [0, 1] (out-of-gamut colours are clipped, as skimage does)."""
    lab = _to_last(_float(lab), channel_axis)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16) / 116
    fx = fy + a / 500
    fz = (fy - b / 200).clip(0.0)  # negative Z is unphysical; skimage clips it too
    xyz = _torch_stack([_f_inv(fx), _f_inv(fy), _f_inv(fz)]) if _is_torch(lab) else np.stack(
        [_f_inv(fx), _f_inv(fy), _f_inv(fz)], axis=-1
    )
    rgb = linear_to_srgb((xyz * _const(lab, WHITE_D65)) @ _const(lab, RGB_FROM_XYZ.T))
    return _from_last(rgb, channel_axis)


def lightness_to_gray(L: Array) -> Array:
    """L in [0, 100] -> the neutral sRGB grey value in [0, 1] with that lightness (a = b = 0)."""
    return linear_to_srgb(_f_inv((_float(L) + 16) / 116))


def gray_to_lightness(gray: Array) -> Array:
    """Neutral sRGB grey in [0, 1] -> L in [0, 100]."""
    return 116 * _f(srgb_to_linear(gray)) - 16


def luminance(rgb: Array, channel_axis: int = -1) -> Array:
    """Relative luminance Y (linear light, D65 white = 1) of sRGB in [0, 1]."""
    rgb = _to_last(_float(rgb), channel_axis)
    return srgb_to_linear(rgb) @ _const(rgb, XYZ_FROM_RGB[1])


def rgb_to_lightness(rgb: Array, channel_axis: int = -1) -> Array:
    """The L channel of rgb_to_lab without computing a and b."""
    return 116 * _f(luminance(rgb, channel_axis)) - 16


def _torch_stack(chans: list) -> Array:
    import torch

    return torch.stack(chans, dim=-1)
