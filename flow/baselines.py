"""Classical garment warps (OpenCV geometry, no learning) that the flow net must beat.

Both baselines return a flow in the convention of :mod:`flow.warp`, so they are applied and
measured by exactly the same code as the network:

- ``bbox_resize``: the garment's bounding box stretched onto the target mask's bounding
  box (an axis-aligned affine map);
- ``tps``: a thin-plate spline between the two masks' outer contours. Each contour (the
  largest external one, ``cv2.findContours``) is oriented the same way (positive
  shoelace area in image coordinates), starts at the contour point straight above its
  centroid (smallest angle to the upward ray), and is resampled to ``points`` positions
  equally spaced by arc length; point i of the target contour is matched to point i of
  the garment contour. A thin-plate spline through those pairs (scikit-image's
  ``ThinPlateSplineTransform``, exact interpolation; OpenCV 5 moved its TPS transformer to
  contrib) maps target to garment coordinates and is evaluated at every target pixel centre.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from skimage.transform import ThinPlateSplineTransform

from flow.warp import flow_from_pixel_coordinates

CONTOUR_POINTS = 64


def _binary(mask: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"{name} must be an HxW mask, got shape {array.shape}")
    binary = (array > 0.5).astype(np.uint8)
    if not binary.any():
        raise ValueError(f"{name} is empty: a baseline needs a garment and a target region")
    return binary


def _bounding_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in pixel-edge coordinates: pixel k covers [k, k + 1)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def _pixel_centres(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return xs, ys


def bbox_resize_coordinates(garment_mask: np.ndarray, target_mask: np.ndarray) -> np.ndarray:
    """Source pixel (x, y) for each target pixel when the boxes are stretched onto each other.

    Args:
        garment_mask: HxW mask of the garment in its product photo.
        target_mask: HxW mask of where the garment must go.

    Returns:
        float64 array (2, H, W): x then y in garment pixels (centres at integers).
    """
    garment = _binary(garment_mask, "garment_mask")
    target = _binary(target_mask, "target_mask")
    gx0, gy0, gx1, gy1 = _bounding_box(garment)
    tx0, ty0, tx1, ty1 = _bounding_box(target)
    xs, ys = _pixel_centres(*target.shape)
    source_x = gx0 + (xs + 0.5 - tx0) * (gx1 - gx0) / (tx1 - tx0) - 0.5
    source_y = gy0 + (ys + 0.5 - ty0) * (gy1 - gy0) / (ty1 - ty0) - 0.5
    return np.stack((source_x, source_y))


def contour_points(mask: np.ndarray, count: int = CONTOUR_POINTS) -> np.ndarray:
    """``count`` points along the mask's outer contour, equally spaced by arc length.

    Orientation and start point are fixed (see the module docstring) so that point i of
    two similar shapes lands on corresponding places.

    Returns:
        float64 array (count, 2) of (x, y) pixel positions.
    """
    if count < 4:
        raise ValueError(f"count must be at least 4 contour points, got {count}")
    binary = _binary(mask, "mask")
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    following = np.roll(contour, -1, axis=0)
    signed_area = 0.5 * np.sum(contour[:, 0] * following[:, 1] - following[:, 0] * contour[:, 1])
    if signed_area < 0:
        contour = contour[::-1]
    centre = contour.mean(axis=0)
    angle_from_up = np.arctan2(contour[:, 0] - centre[0], centre[1] - contour[:, 1])
    contour = np.roll(contour, -int(np.argmin(np.abs(angle_from_up))), axis=0)
    closed = np.concatenate((contour, contour[:1]))
    arc = np.concatenate(([0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))))
    samples = np.linspace(0.0, arc[-1], count, endpoint=False)
    return np.stack(
        (np.interp(samples, arc, closed[:, 0]), np.interp(samples, arc, closed[:, 1])), 1
    )


def tps_coordinates(
    garment_mask: np.ndarray,
    target_mask: np.ndarray,
    points: int = CONTOUR_POINTS,
) -> np.ndarray:
    """Source pixel (x, y) for each target pixel under a contour-to-contour thin-plate spline.

    Args:
        garment_mask: HxW mask of the garment in its product photo.
        target_mask: HxW mask of where the garment must go.
        points: contour points matched between the two masks.

    Returns:
        float64 array (2, H, W): x then y in garment pixels (centres at integers).
    """
    source_points = contour_points(garment_mask, points)
    target_points = contour_points(target_mask, points)
    spline = ThinPlateSplineTransform.from_estimate(target_points, source_points)
    if not spline:
        raise ValueError(f"thin-plate spline fit failed ({spline}); are the masks degenerate?")
    height, width = np.asarray(target_mask).shape
    xs, ys = _pixel_centres(height, width)
    mapped = spline(np.stack((xs.ravel(), ys.ravel()), axis=1))
    return mapped.T.reshape(2, height, width)


CoordinateBaseline = Callable[[np.ndarray, np.ndarray], np.ndarray]

BASELINES: dict[str, CoordinateBaseline] = {
    "bbox_resize": bbox_resize_coordinates,
    "tps": tps_coordinates,
}


def baseline_flow(name: str, garment_mask: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """The flow of a classical baseline for a batch, ready for :func:`flow.warp.warp`.

    Args:
        name: a key of :data:`BASELINES`.
        garment_mask: (N, 1, H, W) garment masks.
        target_mask: (N, 1, H, W) target region masks.

    Returns:
        (N, 2, H, W) float32 flows.
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
    if (
        garment_mask.ndim != 4
        or garment_mask.shape[1] != 1
        or garment_mask.shape != target_mask.shape
    ):
        raise ValueError(
            f"masks must both be (N, 1, H, W), got {tuple(garment_mask.shape)} and "
            f"{tuple(target_mask.shape)}"
        )
    garments = garment_mask[:, 0].detach().cpu().numpy()
    targets = target_mask[:, 0].detach().cpu().numpy()
    coordinates = np.stack([BASELINES[name](g, t) for g, t in zip(garments, targets, strict=True)])
    height, width = garment_mask.shape[-2:]
    source_xy = torch.from_numpy(coordinates).to(torch.float64)
    return flow_from_pixel_coordinates(source_xy, height, width).float().to(garment_mask.device)
