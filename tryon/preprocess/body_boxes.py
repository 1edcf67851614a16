"""Boxes and polygons of a body from its keypoints: the face box and the torso polygon.

Both are the shapes DATA.md's real-photo measures name (the share of the face box a garment
region covers, the share of the torso it covers), and both steer the classical garment
region. One definition serves the pipeline, the checks and the benchmarks.

Face box (as the project's real-photo check computes it): the centre of the present face
points (nose, eyes, ears), half side ``h = 0.9 * max(spread of the points, 8 px)``; the box
reaches ``1.2 h`` above the centre (hair), ``0.9 h`` below (chin) and ``h`` to each side.

Torso polygon: shoulders to hips; without hips (a waist-up photo), 1.3 shoulder widths
straight down from the shoulder line.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.keypoints import validate_keypoints

FACE_POINTS = (0, 14, 15, 16, 17)
R_SHOULDER, L_SHOULDER, R_HIP, L_HIP = 2, 5, 8, 11
WAIST_UP_TORSO = 1.3  # shoulder widths, shoulder line to the bottom of the torso polygon


def face_box(keypoints: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) pixel box of the face clipped to an image of ``size`` (h, w).

    None when fewer than two face points are present.
    """
    points = validate_keypoints(keypoints)
    face = np.array([p for p in points[list(FACE_POINTS)] if np.isfinite(p).all()])
    if len(face) < 2:
        return None
    centre = face.mean(axis=0)
    half = int(max(float(np.ptp(face, axis=0).max()), 8.0) * 0.9)
    height, width = size
    x0, y0 = int(max(centre[0] - half, 0)), int(max(centre[1] - 1.2 * half, 0))
    x1, y1 = int(min(centre[0] + half, width)), int(min(centre[1] + 0.9 * half, height))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def face_mask(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxW bool: the face box (all False when there is no face)."""
    mask = np.zeros(size, bool)
    box = face_box(keypoints, size)
    if box is not None:
        x0, y0, x1, y1 = box
        mask[y0:y1, x0:x1] = True
    return mask


def torso_polygon(keypoints: np.ndarray) -> np.ndarray | None:
    """(4, 2) right shoulder, left shoulder, left hip, right hip; None without shoulders."""
    points = validate_keypoints(keypoints).astype(np.float64)
    right, left = points[R_SHOULDER], points[L_SHOULDER]
    if not (np.isfinite(right).all() and np.isfinite(left).all()):
        return None
    hips = points[[R_HIP, L_HIP]]
    if np.isfinite(hips).all():
        return np.array([right, left, hips[1], hips[0]])
    across = left - right
    down = np.array([-across[1], across[0]])
    if down[1] < 0:
        down = -down
    drop = WAIST_UP_TORSO * down
    return np.array([right, left, left + drop, right + drop])


def torso_mask(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxW bool: the torso polygon (all False without shoulders)."""
    mask = np.zeros(size, np.uint8)
    polygon = torso_polygon(keypoints)
    if polygon is not None:
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask > 0
