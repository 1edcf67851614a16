"""Forward kinematics of the 2-D body: joint angles + proportions -> pixel joints in a frame.

The body is built in body units around the mid-hip (image axes: x right, y down), then scaled
and placed in an S x S frame. The person faces the camera, so their right side is on the
image's left. Hidden face points (the far ear or eye of a turned head) are NaN in
:attr:`Skeleton.keypoints`, as OpenPose would report them, but keep a position in
:attr:`Skeleton.joints` for drawing.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tryon.data.synthetic.params import CANONICAL_POSE, MEAN_BODY, BodyShape, Pose

# Canonical framing: a body of stature 1.0 and mean proportions is FRAME_HEIGHT of the frame
# tall, its soles at FRAME_SOLE of the frame height, centred horizontally.
FRAME_HEIGHT = 0.86
FRAME_SOLE = 0.955
FRAME_MARGIN = 0.02  # posed bodies are scaled / shifted to keep this margin to the border
MEAN_HEIGHT_UNITS = 0.963  # head top to soles of MEAN_BODY in CANONICAL_POSE

# Angular position of the face points around the head's vertical axis (radians), their
# vertical offset (fraction of the head's half height, down positive), and how far round
# the head they can go before they are hidden.
FACE_DEPTH = 0.8  # face points sit this far out of the head's half width (ears stay inside)
FACE_POINTS: dict[int, tuple[float, float, float]] = {
    0: (0.0, 0.22, 0.0),  # nose: always visible
    14: (-0.42, -0.12, 0.25),  # right eye
    15: (0.42, -0.12, 0.25),  # left eye
    16: (-1.3, 0.02, 0.02),  # right ear
    17: (1.3, 0.02, 0.02),  # left ear
}


@dataclasses.dataclass(frozen=True)
class Skeleton:
    """A posed body in pixel coordinates of its frame.

    Attributes:
        joints: (18, 2) COCO-18 pixel (x, y), hidden face points included.
        visible: (18,) bool; False for face points turned away from the camera.
        px_per_unit: pixels per body unit.
        up: unit vector from hips to neck; across: unit vector towards the person's left
            (image right), both tilted with the upper body.
        head_up / head_across: the head's own frame (tilted further by the head tilt).
        head_centre: pixel centre of the head ellipse.
        hand_tips / foot_centres: (2, 2) right then left.
        yaw: the body's turn (radians), which narrows widths by cos(yaw).
    """

    joints: np.ndarray
    visible: np.ndarray
    px_per_unit: float
    up: np.ndarray
    across: np.ndarray
    head_up: np.ndarray
    head_across: np.ndarray
    head_centre: np.ndarray
    hand_tips: np.ndarray
    foot_centres: np.ndarray
    yaw: float

    @property
    def keypoints(self) -> np.ndarray:
        """COCO-18 keypoints (18, 2) float32, NaN for points hidden from the camera."""
        keypoints = self.joints.astype(np.float32).copy()
        keypoints[~self.visible] = np.nan
        return keypoints


def _rotate(vector: tuple[float, float], angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    x, y = vector
    return np.array([cos * x - sin * y, sin * x + cos * y])


def _limb_direction(angle: float, outward: float, lean: float = 0.0) -> np.ndarray:
    return _rotate((outward * math.sin(angle), math.cos(angle)), lean)


def _pose_in_units(body: BodyShape, pose: Pose) -> Skeleton:
    """The skeleton with the mid-hip at the origin and one pixel per body unit."""
    joints = np.zeros((18, 2))
    visible = np.ones(18, dtype=bool)
    width = math.cos(pose.yaw)
    up, across = _rotate((0.0, -1.0), pose.lean), _rotate((1.0, 0.0), pose.lean)
    neck = up * body.torso_length
    joints[1] = neck
    joints[2], joints[5] = (
        neck - across * body.shoulder_half * width,
        neck + across * body.shoulder_half * width,
    )
    joints[8], joints[11] = (
        np.array([-body.hip_half * width, 0.0]),
        np.array([body.hip_half * width, 0.0]),
    )

    head_angle = pose.lean + pose.head_tilt
    head_up, head_across = _rotate((0.0, -1.0), head_angle), _rotate((1.0, 0.0), head_angle)
    head_centre = neck + up * body.neck_length + head_up * body.head_ry * 0.85
    for index, (around, down, limit) in FACE_POINTS.items():
        angle = around + pose.yaw
        joints[index] = (
            head_centre
            + head_across * body.head_rx * FACE_DEPTH * math.sin(angle)
            - head_up * body.head_ry * down
        )
        visible[index] = index == 0 or math.cos(angle) > limit

    hand_tips, foot_centres = np.zeros((2, 2)), np.zeros((2, 2))
    arms = ((pose.right_arm, 2, -1.0), (pose.left_arm, 5, 1.0))
    for side, (limb, shoulder, outward) in enumerate(arms):
        upper = _limb_direction(limb.swing, outward, pose.lean)
        lower = _limb_direction(limb.swing + limb.bend, outward, pose.lean)
        joints[shoulder + 1] = joints[shoulder] + upper * body.upper_arm * limb.upper_scale
        joints[shoulder + 2] = joints[shoulder + 1] + lower * body.forearm * limb.lower_scale
        hand_tips[side] = joints[shoulder + 2] + lower * body.hand
    legs = ((pose.right_leg, 8, -1.0), (pose.left_leg, 11, 1.0))
    for side, (limb, hip, outward) in enumerate(legs):
        upper, lower = (
            _limb_direction(limb.swing, outward),
            _limb_direction(limb.swing + limb.bend, outward),
        )
        joints[hip + 1] = joints[hip] + upper * body.thigh * limb.upper_scale
        joints[hip + 2] = joints[hip + 1] + lower * body.shin * limb.lower_scale
        foot_centres[side] = joints[hip + 2] + np.array([outward * 0.2, 0.45]) * body.foot
    return Skeleton(
        joints=joints,
        visible=visible,
        px_per_unit=1.0,
        up=up,
        across=across,
        head_up=head_up,
        head_across=head_across,
        head_centre=head_centre,
        hand_tips=hand_tips,
        foot_centres=foot_centres,
        yaw=pose.yaw,
    )


def transform_skeleton(skeleton: Skeleton, scale: float, offset: np.ndarray | float) -> Skeleton:
    """``skeleton`` with every point mapped to ``point * scale + offset`` (a zoom and shift)."""

    def move(points: np.ndarray) -> np.ndarray:
        return points * scale + offset

    return dataclasses.replace(
        skeleton,
        joints=move(skeleton.joints),
        px_per_unit=skeleton.px_per_unit * scale,
        head_centre=move(skeleton.head_centre),
        hand_tips=move(skeleton.hand_tips),
        foot_centres=move(skeleton.foot_centres),
    )


def _placed(skeleton: Skeleton, origin: np.ndarray, px_per_unit: float) -> Skeleton:
    return transform_skeleton(skeleton, px_per_unit, origin)


def _extent_points(skeleton: Skeleton, body: BodyShape) -> np.ndarray:
    """Points (body units) that bound the drawn body: joints, head, hands and feet."""
    head = skeleton.head_centre
    outline = [
        head - skeleton.head_up * body.head_ry * 1.25,
        head + skeleton.head_across * body.head_rx * 1.3,
        head - skeleton.head_across * body.head_rx * 1.3,
    ]
    feet = [
        centre + offset * body.foot
        for centre in skeleton.foot_centres
        for offset in (np.array([0.7, 0.5]), np.array([-0.7, 0.5]))
    ]
    return np.vstack([skeleton.joints, *outline, skeleton.hand_tips, *feet])


def crop_skeleton(skeleton: Skeleton, window: tuple[float, float, float], size: int) -> Skeleton:
    """``skeleton`` seen through the square ``window`` (left, top, side) of its frame, shown
    at ``size`` px: a zoom and shift (continuous pixel coordinates: the window's left edge
    goes to -0.5, its right edge to size - 0.5)."""
    left, top, side = window
    scale = size / side
    return transform_skeleton(skeleton, scale, -np.array([left, top]) * scale - 0.5)


def place_skeleton(body: BodyShape, pose: Pose, origin: np.ndarray, px_per_unit: float) -> Skeleton:
    """Pose ``body`` with its mid-hip at pixel ``origin`` and the given scale (no framing)."""
    return _placed(_pose_in_units(body, pose), np.asarray(origin, float), px_per_unit)


def frame_skeleton(body: BodyShape, pose: Pose, size: int) -> Skeleton:
    """Pose ``body`` and frame it in a ``size`` x ``size`` image.

    The canonical framing puts the soles at FRAME_SOLE of the height and the body centred;
    ``pose.scale`` / ``shift_*`` vary that, and a body that would cross the FRAME_MARGIN (a
    raised arm, a wide step) is shrunk, then shifted, to stay inside the frame.
    """
    units = _pose_in_units(body, pose)
    extent = _extent_points(units, body)
    margin_units = max(body.thigh_half, body.arm_half) * 1.4
    scale = size * FRAME_HEIGHT * body.stature / MEAN_HEIGHT_UNITS * pose.scale
    low, high = FRAME_MARGIN * size, (1 - FRAME_MARGIN) * size - 1
    low_units, high_units = extent.min(axis=0) - margin_units, extent.max(axis=0) + margin_units
    span = high_units - low_units
    scale = min(scale, (high - low) / span[0], (high - low) / span[1])
    origin = np.array(
        [
            (size - 1) / 2 + pose.shift_x * size,
            FRAME_SOLE * size - scale * extent[:, 1].max() + pose.shift_y * size,
        ]
    )
    lowest, highest = origin + low_units * scale, origin + high_units * scale
    origin += np.maximum(low - lowest, 0) - np.maximum(highest - high, 0)
    return _placed(units, origin, scale)


def canonical_keypoints(body: BodyShape = MEAN_BODY, size: int = 256) -> np.ndarray:
    """COCO-18 keypoints of ``body`` in the canonical frontal pose, framed in a size^2 image.

    This is the try-on target pose: the same joint angles for everybody, scaled and placed by
    the person's proportions. ``body`` defaults to the mean body (a generic template).

    Returns:
        float32 (18, 2) pixel (x, y); all 18 points are visible.
    """
    return frame_skeleton(body, CANONICAL_POSE, size).keypoints
