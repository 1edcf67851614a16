"""Draw a COCO-18 pose as a coloured stick figure, for sample grids and evaluation sheets."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np
import torch

from core.images import uint8_to_tensor
from core.keypoints import LIMBS, validate_keypoints

_LIMB_COLORS: tuple[tuple[int, int, int], ...] = tuple(
    tuple(int(255 * channel) for channel in colorsys.hsv_to_rgb(index / len(LIMBS), 0.9, 1.0))
    for index in range(len(LIMBS))
)  # type: ignore[misc]


def draw_skeleton(keypoints: np.ndarray | torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The pose on a black canvas: one colour per limb, white joints; missing points skipped.

    Args:
        keypoints: (18, 2) pixel (x, y) of a ``height x width`` image, NaN for missing.
        height, width: canvas size.

    Returns:
        (3, height, width) float tensor in [-1, 1] (the library's image convention).
    """
    if torch.is_tensor(keypoints):
        keypoints = keypoints.detach().cpu().numpy()
    points = validate_keypoints(keypoints)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    thickness = max(1, round(min(height, width) / 64))
    present = ~np.isnan(points).any(axis=1)
    pixels = np.rint(np.nan_to_num(points)).astype(np.int32)
    for (start, end), color in zip(LIMBS, _LIMB_COLORS, strict=True):
        if present[start] and present[end]:
            start_xy, end_xy = tuple(pixels[start].tolist()), tuple(pixels[end].tolist())
            cv2.line(canvas, start_xy, end_xy, color, thickness, lineType=cv2.LINE_AA)
    for index in np.flatnonzero(present):
        cv2.circle(
            canvas,
            tuple(pixels[index].tolist()),
            thickness + 1,
            (255, 255, 255),
            -1,
            lineType=cv2.LINE_AA,
        )
    return uint8_to_tensor(canvas)
