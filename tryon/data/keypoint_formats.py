"""Keypoint converters between the library's COCO-18 arrays and the formats data sets ship.

Every reader returns the library convention (core.keypoints): float32 (18, 2) pixel (x, y) in
COCO-18 order, NaN for a missing point. Formats covered (see shared DATA.md):

- OpenPose JSON, ``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}]}`` (older files use
  ``pose_keypoints``); COCO-18 (54 values) or BODY_25 (75 values), told apart by length;
  confidence 0 means missing.
- DeepFashion pose-transfer annotation CSV, ``name:keypoints_y:keypoints_x``: y first, integer
  pixels, -1 for missing.
- MediaPipe BlazePose 33 landmarks.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from core.keypoints import NUM_KEYPOINTS, validate_keypoints
from tryon.errors import InvalidInputError

# BODY_25 index of each COCO-18 joint: BODY_25 inserts mid-hip at 8, so hips move to 9/12
# and everything after shifts by one; 19-24 are feet points COCO-18 lacks.
BODY25_TO_COCO18: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)

# BlazePose landmark index of each COCO-18 joint; the neck (1) is the shoulders' midpoint.
BLAZEPOSE_TO_COCO18: tuple[int | None, ...] = (
    0, None, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7,
)  # fmt: skip
BLAZEPOSE_LEFT_SHOULDER, BLAZEPOSE_RIGHT_SHOULDER = 11, 12

DEEPFASHION_HEADER = "name:keypoints_y:keypoints_x"


def openpose_values_to_coco18(values: Sequence[float]) -> np.ndarray:
    """Flat OpenPose ``[x, y, confidence, ...]`` values -> COCO-18 keypoints.

    Args:
        values: 54 values (COCO-18) or 75 values (BODY_25); the layout is detected by length.

    Returns:
        float32 (18, 2) pixel (x, y); points with confidence 0 are NaN.
    """
    array = np.asarray(values, dtype=np.float32)
    if array.size == NUM_KEYPOINTS * 3:
        triples = array.reshape(NUM_KEYPOINTS, 3)
    elif array.size == 25 * 3:
        triples = array.reshape(25, 3)[list(BODY25_TO_COCO18)]
    else:
        raise ValueError(
            f"OpenPose keypoints must hold 54 (COCO-18) or 75 (BODY_25) values as x, y, "
            f"confidence triples; got {array.size}"
        )
    keypoints = triples[:, :2].copy()
    keypoints[triples[:, 2] <= 0] = np.nan
    return keypoints


def parse_openpose(document: Mapping, person: int = 0) -> np.ndarray:
    """COCO-18 keypoints of one person of a decoded OpenPose JSON document.

    A document with no people yields all-NaN keypoints (OpenPose found nobody).
    """
    people = document.get("people")
    if not isinstance(people, list):
        raise ValueError('OpenPose JSON must have a "people" list')
    if not people:
        return np.full((NUM_KEYPOINTS, 2), np.nan, dtype=np.float32)
    if not 0 <= person < len(people):
        raise ValueError(f"person {person} requested but the file holds {len(people)}")
    entry = people[person]
    for key in ("pose_keypoints_2d", "pose_keypoints"):
        if key in entry:
            return openpose_values_to_coco18(entry[key])
    raise ValueError('OpenPose person entry has neither "pose_keypoints_2d" nor "pose_keypoints"')


def read_openpose_json(path: str | Path, person: int = 0) -> np.ndarray:
    """Read COCO-18 keypoints from an OpenPose JSON file (COCO-18 or BODY_25, old or new key).

    Args:
        path: the ``*_keypoints.json`` file.
        person: which entry of ``people`` to read.

    Returns:
        float32 (18, 2) pixel (x, y), NaN where missing.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text())
        return parse_openpose(document, person)
    except (OSError, ValueError) as error:
        raise InvalidInputError(f"{path}: not a readable OpenPose JSON file ({error})") from error


def coco18_to_openpose_values(keypoints: np.ndarray) -> list[float]:
    """COCO-18 keypoints -> flat ``[x, y, c, ...]``; c = 1 present, 0 (x = y = 0) missing."""
    array = validate_keypoints(keypoints)
    values: list[float] = []
    for x, y in array.tolist():
        if math.isnan(x) or math.isnan(y):
            values += [0.0, 0.0, 0.0]
        else:
            values += [round(x, 3), round(y, 3), 1.0]
    return values


def write_openpose_json(path: str | Path, keypoints: np.ndarray) -> None:
    """Write one person's COCO-18 keypoints as OpenPose JSON (``pose_keypoints_2d``, v1.3)."""
    document = {
        "version": 1.3,
        "people": [
            {
                "person_id": [-1],
                "pose_keypoints_2d": coco18_to_openpose_values(keypoints),
                "face_keypoints_2d": [],
                "hand_left_keypoints_2d": [],
                "hand_right_keypoints_2d": [],
            }
        ],
    }
    Path(path).write_text(json.dumps(document))


def deepfashion_row_to_coco18(ys: Sequence[float], xs: Sequence[float]) -> np.ndarray:
    """One annotation row's y and x lists (y first in the file, -1 missing) -> (18, 2) (x, y)."""
    if len(ys) != NUM_KEYPOINTS or len(xs) != NUM_KEYPOINTS:
        raise ValueError(f"expected 18 y and 18 x values, got {len(ys)} and {len(xs)}")
    keypoints = np.stack([np.asarray(xs, np.float32), np.asarray(ys, np.float32)], axis=1)
    keypoints[(keypoints[:, 0] < 0) | (keypoints[:, 1] < 0)] = np.nan
    return keypoints


def read_deepfashion_annotations(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``fasion-resize-annotation-*.csv``: image name -> float32 (18, 2) (x, y), NaN missing.

    The file is ``:``-separated with the header ``name:keypoints_y:keypoints_x``; each list is a
    JSON list of 18 integers, y first, -1 for a missing point.
    """
    path = Path(path)
    annotations: dict[str, np.ndarray] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise InvalidInputError(f"cannot read DeepFashion annotations {path}: {error}") from error
    if not lines or lines[0].replace(" ", "") != DEEPFASHION_HEADER:
        raise InvalidInputError(
            f"{path}: first line must be the header {DEEPFASHION_HEADER!r} (DeepFashion "
            "pose-transfer annotation format)"
        )
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(":")
        try:
            if len(parts) != 3:
                raise ValueError(f"expected 3 ':'-separated fields, got {len(parts)}")
            name = parts[0].strip()
            annotations[name] = deepfashion_row_to_coco18(
                json.loads(parts[1]), json.loads(parts[2])
            )
        except ValueError as error:
            raise InvalidInputError(f"{path}:{number}: bad annotation row ({error})") from error
    return annotations


def write_deepfashion_annotations(path: str | Path, annotations: Mapping[str, np.ndarray]) -> None:
    """Write ``name -> (18, 2) (x, y)`` keypoints as a DeepFashion annotation CSV.

    Coordinates are rounded to integer pixels as in the published files; NaN becomes -1, so a
    round trip is exact for integer keypoints only.
    """
    rows = [DEEPFASHION_HEADER]
    for name, keypoints in annotations.items():
        array = validate_keypoints(keypoints, name)
        missing = np.isnan(array).any(axis=1)
        integers = np.where(missing[:, None], -1, np.rint(np.nan_to_num(array))).astype(int)
        rows.append(f"{name}: {integers[:, 1].tolist()}: {integers[:, 0].tolist()}")
    Path(path).write_text("\n".join(rows) + "\n")


def read_pairs_csv(path: str | Path) -> list[tuple[str, str]]:
    """Read ``fasion-resize-pairs-*.csv`` (header ``from,to``) as (source, target) name pairs."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise InvalidInputError(f"cannot read pairs file {path}: {error}") from error
    if not rows or [cell.strip() for cell in rows[0]] != ["from", "to"]:
        raise InvalidInputError(f"{path}: first line must be the header 'from,to'")
    pairs = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise InvalidInputError(f"{path}:{number}: expected 'from,to', got {row}")
        pairs.append((row[0].strip(), row[1].strip()))
    return pairs


def write_pairs_csv(path: str | Path, pairs: Iterable[tuple[str, str]]) -> None:
    """Write (source, target) name pairs as a DeepFashion pairs CSV with header ``from,to``."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["from", "to"])
        writer.writerows(pairs)


def blazepose33_to_coco18(
    landmarks: np.ndarray, visibility: np.ndarray | None = None, threshold: float = 0.5
) -> np.ndarray:
    """MediaPipe BlazePose landmarks -> COCO-18 keypoints (the neck is the shoulders' midpoint).

    Args:
        landmarks: (33, >=2) array whose first two columns are pixel (x, y).
        visibility: optional (33,) scores; a landmark scoring below ``threshold`` is missing, and
            the neck is missing unless both shoulders are present.
        threshold: the visibility below which a landmark counts as missing.

    Returns:
        float32 (18, 2) pixel (x, y), NaN where missing.
    """
    points = np.asarray(landmarks, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] != 33 or points.shape[1] < 2:
        raise ValueError(
            f"BlazePose landmarks must have shape (33, >=2) with pixel (x, y) first; "
            f"got {points.shape}"
        )
    xy = points[:, :2].copy()
    if visibility is not None:
        scores = np.asarray(visibility, dtype=np.float32).reshape(-1)
        if scores.shape != (33,):
            raise ValueError(f"visibility must have 33 values, got {scores.shape}")
        xy[scores < threshold] = np.nan
    keypoints = np.full((NUM_KEYPOINTS, 2), np.nan, dtype=np.float32)
    for coco_index, blaze_index in enumerate(BLAZEPOSE_TO_COCO18):
        if blaze_index is not None:
            keypoints[coco_index] = xy[blaze_index]
    keypoints[1] = (xy[BLAZEPOSE_LEFT_SHOULDER] + xy[BLAZEPOSE_RIGHT_SHOULDER]) / 2
    return keypoints
