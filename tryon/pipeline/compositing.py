"""Putting the warped garment on the frontal person with a soft (feathered) mask.

The alpha is the garment region intersected with where the warped garment actually landed,
blurred with a Gaussian so the seam does not show, and then cut to the region dilated by the
blur's reach (3 sigma): pixels farther than that from the region keep the person exactly.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def feathered_alpha(region: np.ndarray, warped_mask: np.ndarray, sigma: float) -> np.ndarray:
    """The soft compositing mask.

    Args:
        region: RxR bool garment region on the frontal person.
        warped_mask: RxR float in [0, 1], where the warped garment lies.
        sigma: Gaussian feather width in pixels (0 = hard edge).

    Returns:
        RxR float32 alpha in [0, 1], zero beyond ``reach(sigma)`` pixels of ``region``.
    """
    if region.shape != warped_mask.shape:
        raise ValueError(
            f"region {region.shape} and warped mask {warped_mask.shape} must be the same size"
        )
    hard = (region & (warped_mask > 0.5)).astype(np.float32)
    if sigma <= 0:
        return hard
    blurred = cv2.GaussianBlur(hard, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return blurred * dilate(region, reach(sigma)).astype(np.float32)


def reach(sigma: float) -> int:
    """How far (pixels) the feather may spread beyond the region."""
    return math.ceil(3 * sigma) if sigma > 0 else 0


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Bool mask grown by ``radius`` pixels (elliptic structuring element)."""
    if radius <= 0:
        return mask.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def composite(person: np.ndarray, garment: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha * garment + (1 - alpha) * person`` on uint8 RxRx3 images.

    Where alpha is 0 the person's pixels are returned unchanged (bit for bit).
    """
    weight = alpha[..., None].astype(np.float32)
    mixed = weight * garment.astype(np.float32) + (1 - weight) * person.astype(np.float32)
    result = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    return np.where(weight > 0, result, person)
