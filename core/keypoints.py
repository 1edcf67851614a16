"""The COCO-18 (OpenPose) keypoint layout every part of the project speaks.

Convention: keypoints are a float array of shape (18, 2) holding pixel (x, y) of the
image they belong to, NaN for a missing keypoint. Indices follow OpenPose COCO-18:
14/15 are the right/left eye and 16/17 the right/left ear (the person's own sides).
It lives in the base layer :mod:`core`, which every network and the application import; so
does :data:`DEFAULT_CANONICAL_POSE`, the frontal pose the shipped models move people into.
"""

from __future__ import annotations

import dataclasses

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


@dataclasses.dataclass(frozen=True, eq=False)
class CanonicalPose:
    """A frontal COCO-18 pose that pose transfer moves people into, with its frame.

    Stored with the models it belongs to (a models folder's ``model_index.json``), never
    recomputed from a data generator at run time: changing the generator must not silently
    change what shipped models are asked to do.

    Attributes:
        frame: side of the square frame the keypoints are pixels of.
        keypoints: (18, 2) float32 pixel (x, y), every point present.
        source: where the pose came from, for people reading the manifest.
    """

    frame: int
    keypoints: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        points = validate_keypoints(self.keypoints, "canonical pose keypoints")
        if not np.isfinite(points).all():
            raise ValueError("a canonical pose needs every keypoint present (no NaN)")
        if self.frame <= 0:
            raise ValueError(f"frame must be a positive side in pixels, got {self.frame}")
        object.__setattr__(self, "keypoints", points)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CanonicalPose):
            return NotImplemented
        return (
            self.frame == other.frame
            and self.source == other.source
            and np.array_equal(self.keypoints, other.keypoints)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable array inside

    def in_frame(self, size: int) -> np.ndarray:
        """The pose in a ``size`` x ``size`` frame (exactly the stored one at its own frame).

        Returns:
            (18, 2) float32 pixel (x, y), a fresh copy.
        """
        if size == self.frame:
            return self.keypoints.copy()
        return scale_keypoints(self.keypoints, (self.frame, self.frame), (size, size))

    def to_dict(self) -> dict:
        """JSON form (float32 values round-trip exactly through JSON doubles)."""
        return {
            "frame": self.frame,
            "keypoints": [[float(x), float(y)] for x, y in self.keypoints],
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CanonicalPose:
        return cls(
            int(data["frame"]), np.asarray(data["keypoints"], np.float32), data.get("source", "")
        )


# The synthetic generator's canonical frontal pose of its mean body in a 256 x 256 frame
# (tryon.data.synthetic.canonical_keypoints(size=256)): what the shipped models were trained
# towards, and the default for a models folder without a manifest. A test checks that the
# generator still draws exactly this pose.
DEFAULT_CANONICAL_POSE = CanonicalPose(
    256,
    np.array(
        [
            (127.5, 42.168575286865234),
            (127.5, 59.61310958862305),
            (104.69526672363281, 59.61310958862305),
            (90.08275604248047, 92.33457946777344),
            (76.1018295288086, 120.55329132080078),
            (150.3047332763672, 59.61310958862305),
            (164.917236328125, 92.33457946777344),
            (178.89816284179688, 120.55329132080078),
            (114.9030990600586, 124.76950073242188),
            (111.84258270263672, 175.71682739257812),
            (109.88841247558594, 224.54502868652344),
            (140.09690856933594, 124.76950073242188),
            (143.15740966796875, 175.71682739257812),
            (145.11158752441406, 224.54502868652344),
            (123.95757293701172, 37.44256591796875),
            (131.04241943359375, 37.44256591796875),
            (119.12907409667969, 39.38856887817383),
            (135.8709259033203, 39.38856887817383),
        ],
        dtype=np.float32,
    ),
    "the synthetic generator's mean body in its canonical pose (generator version 2)",
)
