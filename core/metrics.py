"""SSIM, protocol B of DATA.md (the PATN / GFLA "SSIM_256" convention).

Protocol B is ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, channel_axis=-1, data_range=255)`` on uint8 RGB.
:func:`ssim_batch` computes exactly that formula (scikit-image's steps: float64, per-channel
Gaussian filtering by ``scipy.ndimage`` with sigma 1.5, truncate 3.5, mode "reflect";
population covariances; the border of half a window cropped; mean over pixels, then over
channels), vectorised over a stack of same-size images so the 44 local regions of an image
cost one call instead of 44; the tests check it against scikit-image to 1e-10. Library
tensors in [-1, 1] are first quantised to uint8 with :func:`core.images.tensor_to_uint8`, so
a tensor and the PNG written from it score the same.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import torch
from scipy import ndimage

from core.images import as_uint8_image

SIGMA = 1.5
TRUNCATE = 3.5  # scikit-image's choice for Gaussian weights
DATA_RANGE = 255.0
PROTOCOL_B_WINDOW = 11  # what scikit-image derives: 2 * int(3.5 * 1.5 + 0.5) + 1
_C1, _C2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2


def ssim(
    a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, win_size: int | None = None
) -> float:
    """Protocol-B SSIM of two RGB images of the same size.

    Args:
        a, b: uint8 HxWx3 RGB arrays or (3, H, W) / (1, 3, H, W) tensors in [-1, 1].
        win_size: odd window side; None = scikit-image's default for sigma 1.5 (11).

    Returns:
        SSIM in [-1, 1] (1 for identical images).
    """
    first, second = as_uint8_image(a), as_uint8_image(b)
    if first.shape != second.shape:
        raise ValueError(f"images differ in size: {first.shape} vs {second.shape}")
    return float(ssim_batch(first[None], second[None], win_size)[0])


def region_ssim(a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> float:
    """Mean protocol-B SSIM map inside a region of two uint8 HxWx3 images (NaN if empty).

    Both images are zeroed outside ``inside`` (HxW bool) first, so what lies beyond the
    region (a scene, a backdrop) cannot raise or lower the score near its edge.
    """
    from skimage.metrics import structural_similarity

    if not inside.any():
        return float("nan")
    first, second = a * inside[:, :, None], b * inside[:, :, None]
    _, values = structural_similarity(
        first, second, gaussian_weights=True, sigma=SIGMA, use_sample_covariance=False,
        channel_axis=-1, data_range=DATA_RANGE, full=True,
    )  # fmt: skip
    return float(values.mean(axis=-1)[inside].mean())


def ssim_batch(first: np.ndarray, second: np.ndarray, win_size: int | None = None) -> np.ndarray:
    """Protocol-B SSIM of each pair in two stacks of uint8 RGB images.

    Args:
        first, second: (M, H, W, 3) uint8 arrays of the same shape.
        win_size: odd window side <= min(H, W); None = 11 (protocol B's default).

    Returns:
        (M,) float64 SSIM values, each equal to scikit-image's ``structural_similarity``.
    """
    if first.shape != second.shape or first.ndim != 4:
        raise ValueError(f"expected two (M, H, W, C) stacks, got {first.shape} and {second.shape}")
    window = PROTOCOL_B_WINDOW if win_size is None else win_size
    if window % 2 == 0 or window > min(first.shape[1:3]):
        raise ValueError(f"win_size must be odd and <= {min(first.shape[1:3])}, got {window}")
    x, y = first.astype(np.float64), second.astype(np.float64)

    def blur(values: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(
            values, sigma=(0, SIGMA, SIGMA, 0), mode="reflect", truncate=TRUNCATE
        )

    mean_x, mean_y = blur(x), blur(y)
    var_x = blur(x * x) - mean_x * mean_x
    var_y = blur(y * y) - mean_y * mean_y
    cov_xy = blur(x * y) - mean_x * mean_y
    numerator = (2 * mean_x * mean_y + _C1) * (2 * cov_xy + _C2)
    denominator = (mean_x**2 + mean_y**2 + _C1) * (var_x + var_y + _C2)
    pad = (window - 1) // 2
    height, width = first.shape[1:3]
    similarity = (numerator / denominator)[:, pad : height - pad, pad : width - pad, :]
    return similarity.mean(axis=(1, 2), dtype=np.float64).mean(axis=1)


def mean_and_sem(values: Sequence[float]) -> dict[str, float]:
    """``{"mean", "sem"}`` of finite ``values`` (NaN ones left out; sem NaN below two)."""
    array = np.asarray([v for v in values if not math.isnan(v)], np.float64)
    if not len(array):
        return {"mean": float("nan"), "sem": float("nan")}
    sem = float(array.std(ddof=1) / math.sqrt(len(array))) if len(array) > 1 else float("nan")
    return {"mean": float(array.mean()), "sem": sem}


def paired_comparison(
    first: Mapping[str, Sequence[float]],
    second: Mapping[str, Sequence[float]],
    lower_is_better: Collection[str] = (),
) -> dict[str, dict[str, float]]:
    """Per score both methods have: how often ``first`` is better on the same item (win
    rate), the mean gain and its standard error (gain > 0 means ``first`` is better)."""
    out = {}
    for name in first.keys() & second.keys():
        a, b = np.asarray(first[name], np.float64), np.asarray(second[name], np.float64)
        if len(a) != len(b) or not len(a):
            continue
        gain = (b - a) if name in lower_is_better else (a - b)
        sem = float(gain.std(ddof=1) / math.sqrt(len(gain))) if len(gain) > 1 else float("nan")
        out[name] = {
            "win_rate": float((gain > 0).mean()),
            "mean_gain": float(gain.mean()),
            "sem": sem,
        }
    return out
