"""The pose-estimator interface every backend implements, and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from core.keypoints import NUM_KEYPOINTS, validate_keypoints


@dataclass(frozen=True)
class PoseResult:
    """One person's pose in a photo, in pixels of the photo as the user sees it.

    Attributes:
        keypoints: (18, 2) float32 COCO-18 pixel (x, y); NaN where a joint is missing
            (occluded, outside the photo, or below the estimator's confidence threshold).
        confidences: (18,) float32 in [0, 1]; 0 for missing joints.
        person_mask: HxW bool mask of the person, or None when the backend has none.
        score: the estimator's confidence that a person is present, in [0, 1].
        people_found: how many people the estimator saw; the result describes the largest.
        bbox: (x_min, y_min, x_max, y_max) pixel box around the person.
        warnings: human-readable notes (several people, ...), for the CLI and the app to show.
    """

    keypoints: np.ndarray
    confidences: np.ndarray
    person_mask: np.ndarray | None
    score: float
    people_found: int
    bbox: tuple[float, float, float, float]
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        validate_keypoints(self.keypoints)
        if np.shape(self.confidences) != (NUM_KEYPOINTS,):
            raise ValueError(f"confidences must have shape (18,), got {np.shape(self.confidences)}")
        if self.person_mask is not None and np.ndim(self.person_mask) != 2:
            raise ValueError(
                f"person_mask must be an HxW bool array, got shape {np.shape(self.person_mask)}"
            )


@runtime_checkable
class PoseEstimator(Protocol):
    """Anything that turns an RGB photo into a :class:`PoseResult`.

    Implementations load their models once in ``__init__`` and reuse them for every call, so
    batch runs and the app keep one instance; they raise ``tryon.errors.NoPersonFound`` when
    nobody is in the photo.
    """

    def estimate(self, image: np.ndarray) -> PoseResult:
        """Pose of the largest person in ``image`` (HxWx3 uint8 RGB)."""
        ...


def keypoint_bbox(keypoints: np.ndarray) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) of the present keypoints; ValueError when none are."""
    present = keypoints[~np.isnan(keypoints).any(axis=1)]
    if not len(present):
        raise ValueError("no keypoint is present, so there is no box around the person")
    (x_min, y_min), (x_max, y_max) = present.min(axis=0), present.max(axis=0)
    return float(x_min), float(y_min), float(x_max), float(y_max)


def mask_bbox(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """(x_min, y_min, x_max, y_max) of the True pixels of an HxW mask, None when empty."""
    rows = np.flatnonzero(np.any(mask, axis=1))  # projections: cheap even at 12 megapixels
    if not len(rows):
        return None
    cols = np.flatnonzero(np.any(mask, axis=0))
    return float(cols[0]), float(rows[0]), float(cols[-1]), float(rows[-1])


def check_rgb_image(image: np.ndarray) -> np.ndarray:
    """``image`` as HxWx3 uint8, or a ValueError that says how to get one."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            f"expected an HxWx3 uint8 RGB image (use tryon.imageio.load_image), got "
            f"{array.dtype} of shape {array.shape}"
        )
    return array
