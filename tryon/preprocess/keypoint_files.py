"""The file backend of the pose-estimator interface: keypoints someone already computed.

Users with OpenPose JSON (VITON-HD's ``openpose_json``) or DeepFashion's annotation CSV skip
BlazePose: the estimator only checks the keypoints fit the photo and returns them as a
:class:`~tryon.preprocess.pose.PoseResult` (without a person mask).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.keypoints import validate_keypoints
from tryon.data.keypoint_formats import parse_openpose, read_deepfashion_annotations
from tryon.errors import InvalidInputError, NoPersonFound
from tryon.preprocess.pose import PoseResult, check_rgb_image, keypoint_bbox


class PrecomputedPoseEstimator:
    """Returns fixed keypoints for the photo they were computed on.

    Args:
        people: one (18, 2) COCO-18 pixel array per person in the file (NaN missing).
        source: where they came from, for error messages.
    """

    def __init__(self, people: list[np.ndarray], source: str) -> None:
        self.people = [validate_keypoints(person, source) for person in people]
        self.source = source

    @classmethod
    def from_openpose_json(cls, path: str | Path) -> PrecomputedPoseEstimator:
        """Every person of an OpenPose JSON file (COCO-18 or BODY_25, either key name)."""
        path = Path(path)
        try:
            document = json.loads(path.read_text())
            count = len(document.get("people") or [])
            people = [parse_openpose(document, index) for index in range(count)]
        except (OSError, ValueError, AttributeError) as error:
            raise InvalidInputError(
                f"{path}: not a readable OpenPose JSON file ({error})"
            ) from error
        return cls(people, str(path))

    @classmethod
    def from_deepfashion_csv(cls, path: str | Path, image_name: str) -> PrecomputedPoseEstimator:
        """The row of ``image_name`` in a DeepFashion ``fasion-resize-annotation-*.csv``."""
        annotations = read_deepfashion_annotations(path)
        if image_name not in annotations:
            raise InvalidInputError(
                f"{path}: no keypoints for {image_name!r} ({len(annotations)} rows; names "
                "must match the first column exactly)"
            )
        return cls([annotations[image_name]], f"{path}:{image_name}")

    def estimate(self, image: np.ndarray) -> PoseResult:
        """The largest person's keypoints, checked against the photo's size.

        Raises:
            NoPersonFound: the file holds no person with any keypoint.
            InvalidInputError: keypoints fall outside the photo (computed on another size).
        """
        height, width = check_rgb_image(image).shape[:2]
        people = [p for p in self.people if not np.isnan(p).any(axis=1).all()]
        if not people:
            raise NoPersonFound(f"{self.source}: the keypoint file holds no person")
        keypoints = max(people, key=_box_area).copy()
        present = ~np.isnan(keypoints).any(axis=1)
        x, y = keypoints[present, 0], keypoints[present, 1]
        margin = 0.02 * max(height, width)
        if (
            (x < -margin).any()
            or (x > width - 1 + margin).any()
            or (y < -margin).any()
            or (y > height - 1 + margin).any()
        ):
            raise InvalidInputError(
                f"{self.source}: keypoints reach ({np.nanmax(keypoints[:, 0]):.0f}, "
                f"{np.nanmax(keypoints[:, 1]):.0f}), outside the {width}x{height} photo; were "
                "they computed on a resized copy?"
            )
        warnings: tuple[str, ...] = ()
        if len(people) > 1:
            warnings = (f"{len(people)} people in {self.source}; using the largest",)
        return PoseResult(
            keypoints=keypoints,
            confidences=present.astype(np.float32),
            person_mask=None,
            score=1.0,
            people_found=len(people),
            bbox=keypoint_bbox(keypoints),
            warnings=warnings,
        )


def _box_area(keypoints: np.ndarray) -> float:
    x_min, y_min, x_max, y_max = keypoint_bbox(keypoints)
    return (x_max - x_min) * (y_max - y_min)
