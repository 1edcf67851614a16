"""The COCO-18 (OpenPose) keypoint layout every part of the project speaks.

Convention: keypoints are a float array of shape (18, 2) holding pixel (x, y) of the
image they belong to, NaN for a missing keypoint. Indices follow OpenPose COCO-18:
14/15 are the right/left eye and 16/17 the right/left ear (the person's own sides).
It lives in the base layer :mod:`core`, which every network and the application import.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 18

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)

# Limbs used to draw skeletons (OpenPose's list, 0-indexed).
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
    (2, 16), (5, 17),
)  # fmt: skip

# Index permutation that maps a keypoint array to the one of the mirrored image.
FLIP_PERMUTATION: tuple[int, ...] = (
    0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16,
)  # fmt: skip


def validate_keypoints(keypoints: np.ndarray, name: str = "keypoints") -> np.ndarray:
    """Return ``keypoints`` as float32 (18, 2), or raise ``ValueError`` saying how to fix it."""
    array = np.asarray(keypoints, dtype=np.float32)
    if array.shape != (NUM_KEYPOINTS, 2):
        raise ValueError(
            f"{name} must have shape (18, 2) holding pixel (x, y) in COCO-18 order with NaN "
            f"for missing points; got shape {array.shape}"
        )
    return array


def flip_keypoints(keypoints: np.ndarray, width: int) -> np.ndarray:
    """Keypoints of the horizontally mirrored image: mirror x and swap every left/right pair.

    ``width`` is the image width in pixels; pixel centres are mirrored, so x -> width - 1 - x.
    """
    array = validate_keypoints(keypoints)
    mirrored = array[list(FLIP_PERMUTATION)].copy()
    mirrored[:, 0] = (width - 1) - mirrored[:, 0]
    return mirrored


def scale_keypoints(
    keypoints: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]
) -> np.ndarray:
    """Rescale pixel keypoints from an image of ``from_size`` (h, w) to one of ``to_size``.

    Pixel centres map onto pixel centres: x' = (x + 0.5) * w'/w - 0.5, which keeps a keypoint
    on the same image content under any resize.
    """
    array = validate_keypoints(keypoints)
    (fh, fw), (th, tw) = from_size, to_size
    scale = np.array([tw / fw, th / fh], dtype=np.float32)
    return (array + 0.5) * scale - 0.5
