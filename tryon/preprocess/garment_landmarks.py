"""The body a product photo's garment is laid out on: virtual joints from the garment's mask.

To fit a catalog garment onto a shopper with the part warp (:mod:`hpn.part_warp`), the flat
garment needs the joints it would have on a body: neck, shoulders, hips for the torso piece,
elbows and wrists for the sleeves. They are read off the mask's shape, assuming an upright
flat-lay or ghost-mannequin shot:

1. the torso is the central run of garment pixels in each row (the run through the garment's
   centre column); its width below the armpits (a low percentile over the lower middle rows,
   where sleeves hang apart from it) sets the scale;
2. shoulders and neck sit at fixed fractions of that width from the centre line and the top
   edge, the hips at the body's torso length below the shoulders;
3. each side's sleeve is the garment outside the torso's column above the hips; its
   direction (from the shoulder to its far end) places the elbow and the wrist at the mean
   body's arm proportions. No sleeve (a tank top): no arm joints.

The fractions were measured on the synthetic generator's product photos (their exact layout
is :func:`tryon.data.synthetic.product_keypoints`) and are documented in docs/tryon.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tryon.errors import InvalidInputError

NECK, R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST, R_HIP, L_HIP = (
    1, 2, 3, 4, 5, 6, 7, 8, 11,
)  # fmt: skip


@dataclass(frozen=True)
class LayoutProportions:
    """Where a garment's joints sit, in units of its torso width W (see the module doc).

    Attributes:
        shoulder_half: shoulder joint to the centre line.
        shoulder_drop: shoulder joint below the garment's top edge.
        hip_half: hip joint to the centre line.
        torso_length: shoulder line to hip line (the body's proportion, not the garment's:
            a long jacket reaches below the hips, a crop top stops above them).
        upper_arm: shoulder to elbow.
        forearm: elbow to wrist.
        torso_rows: the rows (fractions of the garment's height from its top) whose central
            run widths give W.
        width_percentile: the percentile of those widths taken as W.
        min_sleeve: a side counts as a sleeve when it holds this share of the mask.
    """

    shoulder_half: float = 0.564
    shoulder_drop: float = 0.18
    hip_half: float = 0.312
    torso_length: float = 1.61
    upper_arm: float = 0.887
    forearm: float = 0.779
    torso_rows: tuple[float, float] = (0.45, 0.85)
    width_percentile: float = 30.0
    min_sleeve: float = 0.01


def central_runs(mask: np.ndarray, centre: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first and last column of the run of True through column ``centre``.

    Rows where ``centre`` is not on the garment get (-1, -1).
    """
    height, width = mask.shape
    left, right = np.full(height, -1), np.full(height, -1)
    for row in np.flatnonzero(mask[:, centre]):
        line = mask[row]
        off_left = np.flatnonzero(~line[:centre])
        off_right = np.flatnonzero(~line[centre:])
        left[row] = off_left[-1] + 1 if len(off_left) else 0
        right[row] = centre + off_right[0] - 1 if len(off_right) else width - 1
    return left, right


def garment_landmarks(mask: np.ndarray, proportions: LayoutProportions | None = None) -> np.ndarray:
    """Virtual COCO-18 joints of the garment in a product photo's mask.

    Args:
        mask: HxW bool garment mask of an upright product photo.
        proportions: the layout fractions.

    Returns:
        (18, 2) float32 pixel (x, y): neck, shoulders and hips always; elbows and wrists for
        each side that has a sleeve; everything else NaN.

    Raises:
        InvalidInputError: the mask is empty or has no torso column.
    """
    proportions = proportions or LayoutProportions()
    mask = np.asarray(mask, bool)
    rows, cols = np.nonzero(mask)
    if len(rows) < 16:
        raise InvalidInputError("the garment mask is empty: no garment to fit")
    top, bottom = int(rows.min()), int(rows.max())
    centre = round(float(np.median(cols)))
    left, right = central_runs(mask, centre)
    height = bottom - top + 1
    first, last = (top + int(f * height) for f in proportions.torso_rows)
    widths = (right - left + 1)[first : last + 1][left[first : last + 1] >= 0]
    if not len(widths):
        raise InvalidInputError(
            "the garment has no upright torso in its photo (no garment in its centre column); "
            "use a frontal product photo of an upper garment"
        )
    torso = float(np.percentile(widths, proportions.width_percentile))
    middle = float(np.median(((left + right) / 2)[first : last + 1][left[first : last + 1] >= 0]))
    points = np.full((18, 2), np.nan, np.float32)
    shoulder_y = top + proportions.shoulder_drop * torso
    hip_y = shoulder_y + proportions.torso_length * torso
    points[R_SHOULDER] = (middle - proportions.shoulder_half * torso, shoulder_y)
    points[L_SHOULDER] = (middle + proportions.shoulder_half * torso, shoulder_y)
    points[NECK] = (middle, shoulder_y)
    points[R_HIP] = (middle - proportions.hip_half * torso, hip_y)
    points[L_HIP] = (middle + proportions.hip_half * torso, hip_y)

    outside = np.abs(cols - middle) > torso / 2 * 1.06
    above = rows < hip_y
    for shoulder, elbow, wrist, sign in (
        (R_SHOULDER, R_ELBOW, R_WRIST, -1),
        (L_SHOULDER, L_ELBOW, L_WRIST, 1),
    ):
        side = outside & above & (np.sign(cols - middle) == sign)
        if side.sum() < proportions.min_sleeve * len(rows):
            continue
        sleeve = np.stack([cols[side], rows[side]], axis=1).astype(np.float64)
        offsets = sleeve - points[shoulder]
        reach = np.linalg.norm(offsets, axis=1)
        far = offsets[reach >= np.percentile(reach, 80)].mean(axis=0)
        direction = far / max(np.linalg.norm(far), 1e-6)
        points[elbow] = points[shoulder] + direction * proportions.upper_arm * torso
        points[wrist] = points[elbow] + direction * proportions.forearm * torso
    return points
