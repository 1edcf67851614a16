"""flow.baselines: bounding-box resize and contour thin-plate spline, as flows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from flow.baselines import baseline_flow, bbox_resize_coordinates, contour_points
from flow.evaluate import mask_iou
from flow.warp import warp


def _rectangle(size: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    mask[top:bottom, left:right] = 1
    return mask


def _as_batch(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(mask)[None, None]


def _warped_iou(name: str, garment: np.ndarray, target: np.ndarray) -> float:
    flow = baseline_flow(name, _as_batch(garment), _as_batch(target))
    return mask_iou(warp(_as_batch(garment), flow), _as_batch(target))


def test_bbox_resize_maps_box_onto_box_exactly():
    garment = _rectangle(64, 10, 8, 20, 16)
    target = _rectangle(64, 30, 20, 50, 36)
    assert _warped_iou("bbox_resize", garment, target) == 1.0


def test_bbox_resize_coordinates_hand_values():
    garment = _rectangle(8, 0, 0, 2, 2)  # box [0, 2) x [0, 2)
    target = _rectangle(8, 4, 4, 8, 8)  # box [4, 8) x [4, 8): scale 1/2
    coordinates = bbox_resize_coordinates(garment, target)
    # Target pixel centre 4.5 (edge coordinates) -> garment edge 0.25 -> pixel centre -0.25.
    assert coordinates[0, 4, 4] == pytest.approx(-0.25)
    assert coordinates[1, 7, 7] == pytest.approx(1.25)


def test_tps_fits_a_shape_the_bounding_box_cannot():
    garment = _rectangle(64, 16, 16, 48, 48)
    target = np.zeros((64, 64), np.uint8)
    quad = np.array([[20, 10], [50, 18], [44, 54], [12, 46]], np.int32)  # rotated quadrilateral
    cv2.fillPoly(target, [quad], 1)
    target = target.astype(np.float32)
    tps_iou = _warped_iou("tps", garment, target)
    assert tps_iou > 0.85  # 0.89 measured; the corners are matched by arc length, not exactly
    assert tps_iou > _warped_iou("bbox_resize", garment, target) + 0.1


def test_contour_points_start_above_the_centre_and_run_clockwise_on_screen():
    points = contour_points(_rectangle(32, 8, 8, 24, 24), count=8)
    assert points.shape == (8, 2)
    assert points[0] == pytest.approx([15.5, 8], abs=0.5)  # top middle
    assert points[1][0] > points[0][0]  # then to the right (image y points down)
    steps = np.linalg.norm(np.diff(np.vstack((points, points[:1])), axis=0), axis=1)
    assert steps.min() > 0.5 * steps.max()  # roughly equal arc-length spacing


def test_empty_masks_and_unknown_names_are_refused():
    empty = np.zeros((16, 16), np.float32)
    full = _rectangle(16, 2, 2, 10, 10)
    with pytest.raises(ValueError, match="garment_mask is empty"):
        bbox_resize_coordinates(empty, full)
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_flow("magic", _as_batch(full), _as_batch(full))
    with pytest.raises(ValueError, match="masks must both be"):
        baseline_flow("tps", _as_batch(full), _as_batch(full)[:, :, :8])
