"""PCKh for pose transfer (DATA.md): re-detect keypoints on generated images and count the
joints that land within half the head size of the target pose.

COCO-18 has no head segment, so the head size follows the public DeepFashion / Market-1501
pose-transfer scripts (PATN, GFLA): the width and height of the box around the target's
present head points (nose, neck, eyes, ears; at least two), and a joint is correct when
``|dx| < alpha * width`` and ``|dy| < alpha * height`` (alpha 0.5). Joints the target lacks
are not counted; joints the detector misses (NaN) count as wrong; a target with fewer than
two head points gives no count. The score pools joints over all images (correct / counted),
as those scripts do.
"""

from __future__ import annotations

import numpy as np

from core.keypoints import NUM_KEYPOINTS

HEAD_KEYPOINTS = (0, 1, 14, 15, 16, 17)  # nose, neck, right/left eye, right/left ear
PCKH_ALPHA = 0.5


def pckh_joints(detected: np.ndarray, target: np.ndarray, alpha: float = PCKH_ALPHA) -> np.ndarray:
    """Per-joint correctness (18,): 1.0 / 0.0, NaN where the target lacks the joint.

    Args:
        detected: (18, 2) (x, y) pixels re-detected on the generated image, NaN for missing.
        target: (18, 2) (x, y) pixels of the target pose in the same image frame.

    Returns all NaN when the target has fewer than two head points (no head size).
    """
    detected, target = np.asarray(detected, np.float64), np.asarray(target, np.float64)
    for name, points in (("detected", detected), ("target", target)):
        if points.shape != (NUM_KEYPOINTS, 2):
            raise ValueError(f"{name} keypoints must be (18, 2), got {points.shape}")
    head = target[list(HEAD_KEYPOINTS)]
    head = head[~np.isnan(head).any(axis=1)]
    if len(head) < 2:
        return np.full(NUM_KEYPOINTS, np.nan)
    width, height = head.max(axis=0) - head.min(axis=0)
    error = np.abs(detected - target)
    with np.errstate(invalid="ignore"):
        correct = (error[:, 0] < alpha * width) & (error[:, 1] < alpha * height)
    return np.where(np.isnan(target).any(axis=1), np.nan, correct.astype(np.float64))


def pooled_pckh(per_image: list[np.ndarray]) -> float:
    """Correct joints / counted joints over all images (NaN when nothing was counted)."""
    joints = np.concatenate([np.ravel(scores) for scores in per_image] or [np.empty(0)])
    counted = joints[~np.isnan(joints)]
    return float(counted.mean()) if counted.size else float("nan")
