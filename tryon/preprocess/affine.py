"""2x3 affine maps between an image and a square model crop (rotation included).

Convention: points are pixel (x, y) with pixel centres at integer coordinates, the same
convention as ``cv2.warpAffine`` (destination pixel (u, v) samples source ``M^-1 (u, v)``).
One function builds the map, one applies it to points, one inverts it; the BlazePose
backend uses them to go image -> detector input -> landmark crop -> image.
"""

from __future__ import annotations

import math

import numpy as np


def crop_affine(
    centre: tuple[float, float], size: float, rotation: float, output_size: int
) -> np.ndarray:
    """The image -> crop map of a square region of side ``size`` turned by ``rotation``.

    Args:
        centre: region centre (x, y) in image pixels.
        size: side of the square region in image pixels (must be positive).
        rotation: radians; the crop's "up" axis is the image's up axis rotated by this angle
            (counter-clockwise in a y-down image, as MediaPipe defines ROI rotation).
        output_size: side of the crop in pixels.

    Returns:
        (2, 3) float64 matrix M with crop_point = M @ [x, y, 1].
    """
    if size <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    scale = output_size / size
    cos, sin = math.cos(rotation), math.sin(rotation)
    # Crop axes expressed in image coordinates: u-axis (cos, sin), v-axis (-sin, cos).
    linear = scale * np.array([[cos, sin], [-sin, cos]])
    half = (output_size - 1) / 2.0
    offset = np.array([half, half]) - linear @ np.asarray(centre, dtype=np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) affine map."""
    full = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points (x, y) through a (2, 3) affine; NaN rows stay NaN."""
    array = np.asarray(points, dtype=np.float64)
    return array @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def warp_to_square(
    image: np.ndarray, to_crop: np.ndarray, output_size: int, fill: float | tuple = 0
) -> np.ndarray:
    """Sample the square crop that ``to_crop`` (image -> crop affine) describes, anti-aliased.

    ``cv2.warpAffine`` samples bilinearly, which aliases when it shrinks a lot (a phone photo
    into a 224 detector input); the image is first shrunk with area averaging so the warp
    itself never shrinks by more than 2x. Outside the image the crop is ``fill``.

    Shapes:
        image: HxWxC (or HxW) array; returns output_size x output_size (x C) of the same dtype.
    """
    import cv2

    shrink = float(np.sqrt(abs(np.linalg.det(np.asarray(to_crop)[:, :2]))))
    if shrink < 0.5:
        factor = 2.0 * shrink
        height, width = image.shape[:2]
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # Pixel centres: x_small = (x + 0.5) * fx - 0.5, so compose that with the map.
        fx, fy = size[0] / width, size[1] / height
        small_to_image = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5]])
        to_crop = np.asarray(to_crop) @ np.vstack([small_to_image, [0, 0, 1]])
    return cv2.warpAffine(
        image,
        to_crop,
        (output_size, output_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )
