"""Scores for real photos that have no ground truth (DATA.md, "Scoring real photos").

Every score names its masks, so numbers are comparable only with the same masks:

- round trip (the canonical view moved back to the photo's pose from the canonical view
  alone): mean of the protocol-B SSIM map and the sharpness ratio (variance of the grey
  Laplacian, round trip over photo), both over the person mask eroded by 1 % of the long side;
- preservation of the own view: mean absolute grey-level difference to the photo outside the
  person mask dilated by 4 % of the long side (the issue's measure) and by 10 px (the
  project's real-photo check); SSIM of the face box (skimage's default 7x7 window, as the
  real-photo check computes it);
- the canonical view re-detected: is a person found, and the tilt of the shoulder line;
- garment regions: :func:`tryon.preprocess.garment_region.region_plausibility`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from tryon.preprocess.body_boxes import face_box
from tryon.preprocess.garment_region import dilate


@dataclass(frozen=True)
class RoundTripScores:
    """``ssim``: mean protocol-B SSIM inside the eroded mask; ``sharpness``: Laplacian
    variance ratio there (1 keeps the detail, far below is blur, far above is seams)."""

    ssim: float
    sharpness: float


@dataclass(frozen=True)
class PreservationScores:
    """Own-view preservation: background differences (grey levels) and the face's SSIM."""

    background_mad: float
    background_mad_10px: float
    face_ssim: float | None


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel) > 0  # the frame edge does not erode


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)


def round_trip_scores(
    photo: np.ndarray, round_trip: np.ndarray, person_mask: np.ndarray
) -> RoundTripScores:
    """Compare a round trip with its photo inside the eroded person mask."""
    if photo.shape != round_trip.shape:
        raise ValueError(f"photo {photo.shape} and round trip {round_trip.shape} differ in size")
    inside = _erode(person_mask, max(2, round(0.01 * max(photo.shape[:2]))))
    if not inside.any():
        raise ValueError("the eroded person mask is empty: the person is too small to score")
    _, ssim_map = structural_similarity(
        photo,
        round_trip,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=-1,
        data_range=255,
        full=True,
    )
    laplacians = [cv2.Laplacian(_grey(image), cv2.CV_64F)[inside] for image in (photo, round_trip)]
    return RoundTripScores(
        ssim=float(ssim_map.mean(axis=-1)[inside].mean()),
        sharpness=float(laplacians[1].var() / max(laplacians[0].var(), 1e-12)),
    )


def preservation_scores(
    photo: np.ndarray, result: np.ndarray, person_mask: np.ndarray, keypoints: np.ndarray
) -> PreservationScores:
    """How much of the photo outside the person and on the face the own view kept."""
    if photo.shape != result.shape:
        raise ValueError(f"photo {photo.shape} and result {result.shape} differ in size")
    difference = np.abs(_grey(photo) - _grey(result))
    wide = ~dilate(person_mask, round(0.04 * max(photo.shape[:2])))
    narrow = ~dilate(person_mask, 10)
    box = face_box(keypoints, photo.shape[:2])
    face = None
    if box is not None:
        x0, y0, x1, y1 = box
        if min(x1 - x0, y1 - y0) >= 7:
            face = float(
                structural_similarity(
                    photo[y0:y1, x0:x1], result[y0:y1, x0:x1], channel_axis=-1, data_range=255
                )
            )
    return PreservationScores(
        background_mad=float(difference[wide].mean()) if wide.any() else 0.0,
        background_mad_10px=float(difference[narrow].mean()) if narrow.any() else 0.0,
        face_ssim=face,
    )


def shoulder_tilt(keypoints: np.ndarray) -> float | None:
    """Degrees between the shoulder line and the horizontal (None without both shoulders)."""
    right, left = keypoints[2], keypoints[5]
    if not (np.isfinite(right).all() and np.isfinite(left).all()):
        return None
    across = left - right
    return float(abs(np.degrees(np.arctan2(across[1], abs(across[0]) + 1e-9))))
