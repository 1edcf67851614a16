"""The canonical pose *of one person*: the template's joint angles on the person's own body.

Try-on moves the shopper into a canonical frontal pose (upright, facing the camera, arms away
from the torso so nothing covers the garment). Moving every shopper onto one fixed skeleton
would stretch short arms, shrink big heads and squash broad shoulders; so the pose keeps the
person's proportions and takes only the directions from the template:

- torso: shoulders level, as wide as the person's (widened back when the torso length says
  the person is turned), hips at the template's relative place and the person's torso length;
- limbs: each bone points the way the template's does, as long as the person's (clamped to
  [0.75, 1.35] of the template's proportion, because a limb pointing at the camera looks
  short); a bone the photo does not show gets the template's proportion;
- head: the person's own face points, turned about the neck so the face sits upright above it.

The template is any COCO-18 pose with every point present (the one the HPN was trained
towards, stored with the models). Placement: the neck goes to ``neck`` (pixels of the output).
"""

from __future__ import annotations

import numpy as np

from core.keypoints import validate_keypoints
from hpn.body_parts import FACE_POINTS, MEAN_TORSO_RATIO, NECK, complete_points

# (parent, child) bones of the limbs, root side first.
LIMB_BONES: tuple[tuple[int, int], ...] = (
    (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13),
)  # fmt: skip
LENGTH_CLAMP = (0.75, 1.35)
HIDDEN_TURN_WIDENING = 0.9  # frontal shoulder width >= this x torso length / template ratio


def _shoulder_width(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[5] - points[2]))


def canonical_pose(
    keypoints: np.ndarray, template: np.ndarray, neck: tuple[float, float]
) -> np.ndarray:
    """The person's keypoints moved to the template's pose (see the module docstring).

    Args:
        keypoints: (18, 2) pixel (x, y) of the person, NaN missing; shoulders required.
        template: (18, 2) the canonical pose, every point present, any scale.
        neck: (x, y) where the neck goes in the output.

    Returns:
        (18, 2) float32 keypoints, every point present.

    Raises:
        ValueError: a shoulder is missing, or the template lacks a point.
    """
    template = validate_keypoints(template, "template").astype(np.float64)
    if not np.isfinite(template).all():
        raise ValueError("the canonical template must have every keypoint present")
    person, width = complete_points(keypoints)
    given = validate_keypoints(keypoints).astype(np.float64)
    has = np.isfinite(given).all(axis=1)
    template_width = _shoulder_width(template)
    template_torso = np.linalg.norm(template[[8, 11]].mean(0) - template[NECK])
    if has[8] and has[11]:
        torso = float(np.linalg.norm(person[[8, 11]].mean(0) - person[NECK]))
        ratio = template_torso / template_width
        width = max(width, HIDDEN_TURN_WIDENING * torso / ratio)
    else:
        torso = MEAN_TORSO_RATIO * width
    scale = width / template_width  # template units -> output pixels, across the body
    vertical = torso / template_torso  # ... and along the torso

    out = np.zeros((18, 2))
    out[NECK] = neck
    for joint in (2, 5, 8, 11):
        offset = template[joint] - template[NECK]
        out[joint] = out[NECK] + offset * np.array([scale, vertical])
    for parent, child in LIMB_BONES:
        direction = template[child] - template[parent]
        proportion = float(np.linalg.norm(direction)) * scale
        length = proportion
        if has[parent] and has[child]:
            measured = float(np.linalg.norm(given[child] - given[parent]))
            length = float(np.clip(measured, *(c * proportion for c in LENGTH_CLAMP)))
        out[child] = out[parent] + direction / np.linalg.norm(direction) * length

    face = [index for index in FACE_POINTS if has[index]]
    if face:
        offsets = given[face] - person[NECK]
        current = offsets.mean(axis=0)
        wanted = template[list(FACE_POINTS)].mean(axis=0) - template[NECK]
        angle = np.arctan2(wanted[1], wanted[0]) - np.arctan2(current[1], current[0])
        cos, sin = np.cos(angle), np.sin(angle)
        rotation = np.array([[cos, -sin], [sin, cos]])
        out[face] = out[NECK] + offsets @ rotation.T
    missing = [index for index in FACE_POINTS if not has[index]]
    if missing:
        anchor = out[NECK]
        if face:  # where the template's neck sits when its face lies on the person's
            anchor = out[face].mean(0) - (template[face].mean(0) - template[NECK]) * scale
        out[missing] = anchor + (template[missing] - template[NECK]) * scale
    return out.astype(np.float32)
