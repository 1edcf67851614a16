"""A body made of rigid parts, driven by COCO-18 keypoints: the geometry the part warp moves.

The body is ten rigid *parts*, listed front to back (the order decides which part is in
front where two overlap): forearms, upper arms, head, shins, thighs, torso. A limb part is
a *bone* between two joints (a forearm is prolonged beyond the wrist to take the hand, a
shin beyond the ankle to take the foot: COCO-18 has no point to turn a hand or a foot by),
the head is the bone from just above the neck to the centre of the face, the torso is the
quadrilateral of shoulders and hips.

Every part has a *forward transform* (source pixel -> target pixel), an affine map built so
that the whole body maps exactly when the two poses are related by one similarity (the
torso under any affine map):

- torso: the least-squares affine map of neck, shoulders and hips;
- limb bone: the affine map that takes the bone's start and end points onto the target's and
  the bone's perpendicular onto the target bone's perpendicular, as long as the torso's map
  makes it (a limb gets as wide as the torso gets, and stays that wide when it turns: exact
  under a similarity; under a shearing map only the torso is exact);
- head: the torso's map followed by the least-squares similarity of the face points (nose,
  eyes, ears, neck), which corrects the head's own turn and tilt without shearing the face;
  it turns at most 30 degrees against the torso (a leaning head is not a head on its side).

Missing hips (a waist-up photo) are completed from the shoulders: straight "down" from the
shoulder line, 1.43 shoulder widths (the mean body's proportion), on both poses. A part whose
joints are missing in either pose is absent.

Convention: keypoints are (18, 2) pixel (x, y) with NaN for missing points (:mod:`core.keypoints`);
every transform here is a 3x3 homogeneous matrix acting on column vectors (x, y, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.keypoints import validate_keypoints

NOSE, NECK = 0, 1
R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST = 2, 3, 4, 5, 6, 7
R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE = 8, 9, 10, 11, 12, 13
FACE_POINTS = (0, 14, 15, 16, 17)
TORSO_POINTS = (NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP)
TORSO_POLYGON = (R_SHOULDER, L_SHOULDER, L_HIP, R_HIP)
HEAD_BONE_START = 0.35  # the head's bone starts this far from the neck towards the face
MEAN_TORSO_RATIO = 1.43  # shoulder line to hip line, in shoulder widths (the mean body)

# Limb parts: (start joint, end joint, is an arm, is the lower bone), front to back below.
LIMB_PARTS: dict[str, tuple[int, int, bool, bool]] = {
    "right_forearm": (R_ELBOW, R_WRIST, True, True),
    "left_forearm": (L_ELBOW, L_WRIST, True, True),
    "right_upper_arm": (R_SHOULDER, R_ELBOW, True, False),
    "left_upper_arm": (L_SHOULDER, L_ELBOW, True, False),
    "right_shin": (R_KNEE, R_ANKLE, False, True),
    "left_shin": (L_KNEE, L_ANKLE, False, True),
    "right_thigh": (R_HIP, R_KNEE, False, False),
    "left_thigh": (L_HIP, L_KNEE, False, False),
}
PART_NAMES: tuple[str, ...] = (
    "right_forearm", "left_forearm", "right_upper_arm", "left_upper_arm", "head",
    "right_shin", "left_shin", "right_thigh", "left_thigh", "torso",
)  # fmt: skip
HEAD_PART, TORSO_PART = PART_NAMES.index("head"), PART_NAMES.index("torso")
ARM_PARTS: tuple[int, ...] = tuple(i for i, n in enumerate(PART_NAMES) if n.endswith("arm"))
LEG_PARTS: tuple[int, ...] = tuple(
    i for i, n in enumerate(PART_NAMES) if n.endswith(("thigh", "shin"))
)


@dataclass(frozen=True)
class BodyProportions:
    """Sizes of the parts, in shoulder widths of the pose they are measured on.

    Attributes:
        arm_width: half width of an upper arm (the forearm gets 0.8 of it).
        leg_width: half width of a thigh (the shin gets 0.75 of it).
        head_radius: half width of the head around the neck-to-face bone.
        torso_margin: how far outside the shoulder-hip quadrilateral the torso still reaches.
        hand_length: the hand, as a fraction of the forearm prolonged beyond the wrist.
        foot_length: the foot, as a fraction of the shin prolonged beyond the ankle.
    """

    arm_width: float = 0.16
    leg_width: float = 0.22
    head_radius: float = 0.34
    torso_margin: float = 0.12
    hand_length: float = 0.45
    foot_length: float = 0.25


@dataclass(frozen=True)
class Bone:
    """A part's segment ``start -> end``, with its half width (pixels)."""

    start: np.ndarray
    end: np.ndarray
    half_width: float


@dataclass(frozen=True)
class Body:
    """One pose's parts: the bone of every limb part and the head, the torso's polygon.

    Attributes:
        points: (19, 2) the keypoints with missing hips completed and the face centre
            appended as point 18 (NaN when no face point is present).
        shoulder_width: pixels between the shoulders.
        bones: part name -> its bone (parts whose joints are missing are absent).
        torso_polygon: (4, 2) right shoulder, left shoulder, left hip, right hip.
        proportions: the sizes used.
    """

    points: np.ndarray
    shoulder_width: float
    bones: dict[str, Bone]
    torso_polygon: np.ndarray
    proportions: BodyProportions


def _present(point: np.ndarray) -> bool:
    return bool(np.isfinite(point).all())


def complete_points(keypoints: np.ndarray) -> tuple[np.ndarray, float]:
    """Keypoints with missing hips filled in and the face centre appended (see module doc).

    Returns:
        (19, 2) float64 points and the shoulder width in pixels.

    Raises:
        ValueError: a shoulder is missing, or the shoulders coincide.
    """
    points = validate_keypoints(keypoints).astype(np.float64)
    right, left = points[R_SHOULDER], points[L_SHOULDER]
    if not (_present(right) and _present(left)):
        raise ValueError("both shoulders are needed to place the body's parts")
    across = left - right
    width = float(np.linalg.norm(across))
    if width < 1.0:
        raise ValueError(f"the shoulders are {width:.2f} px apart: the pose is degenerate")
    down = np.array([-across[1], across[0]]) / width
    face = points[[index for index in FACE_POINTS if _present(points[index])]]
    shoulders_mid = (right + left) / 2
    if len(face) and (face.mean(axis=0) - shoulders_mid) @ down > 0:
        down = -down  # "down" points away from the face
    elif not len(face):
        hips = points[[R_HIP, L_HIP]]
        hips = hips[np.isfinite(hips).all(axis=1)]
        if len(hips) and (hips.mean(axis=0) - shoulders_mid) @ down < 0:
            down = -down
    if not _present(points[NECK]):
        points[NECK] = shoulders_mid
    hip_offset = MEAN_TORSO_RATIO * width * down
    for hip, shoulder, other_hip, other_shoulder in (
        (R_HIP, R_SHOULDER, L_HIP, L_SHOULDER),
        (L_HIP, L_SHOULDER, R_HIP, R_SHOULDER),
    ):
        if not _present(points[hip]):
            if _present(points[other_hip]):
                points[hip] = points[other_hip] + 0.8 * (points[shoulder] - points[other_shoulder])
            else:
                points[hip] = points[shoulder] + hip_offset
    centre = face.mean(axis=0) if len(face) else np.full(2, np.nan)
    return np.vstack([points, centre[None]]), width


def complete_arms(keypoints: np.ndarray) -> np.ndarray:
    """Keypoints with missing elbows and wrists placed where a relaxed arm would hang.

    A photo cut at the chest still shows the top of the sleeves; a garment fitted onto it
    needs arms to hang them on. A missing elbow goes 0.79 shoulder widths from its shoulder,
    a missing wrist 0.69 from its elbow (the mean body's proportions), along the body's down
    direction turned 12 degrees outwards (a present elbow keeps its forearm's direction).

    Returns:
        (18, 2) float32; points other than elbows and wrists are unchanged.
    """
    given = validate_keypoints(keypoints).astype(np.float64)
    points, width = complete_points(given)
    out = given.copy()
    across = (points[L_SHOULDER] - points[R_SHOULDER]) / width
    down = points[[R_HIP, L_HIP]].mean(axis=0) - points[[R_SHOULDER, L_SHOULDER]].mean(axis=0)
    down /= max(float(np.linalg.norm(down)), 1e-6)
    for shoulder, elbow, wrist, outward in (
        (R_SHOULDER, R_ELBOW, R_WRIST, -1.0),
        (L_SHOULDER, L_ELBOW, L_WRIST, 1.0),
    ):
        hanging = np.cos(0.21) * down + np.sin(0.21) * outward * across
        if not _present(out[elbow]):
            out[elbow] = out[shoulder] + 0.79 * width * hanging
        if not _present(out[wrist]):
            upper = out[elbow] - out[shoulder]
            direction = upper / max(float(np.linalg.norm(upper)), 1e-6)
            out[wrist] = out[elbow] + 0.69 * width * direction
    return out.astype(np.float32)


def body_from_keypoints(keypoints: np.ndarray, proportions: BodyProportions | None = None) -> Body:
    """The parts of one pose (the bones of the parts whose joints are present)."""
    proportions = proportions or BodyProportions()
    points, width = complete_points(keypoints)
    bones: dict[str, Bone] = {}
    for name, (start, end, is_arm, is_lower) in LIMB_PARTS.items():
        if not (_present(points[start]) and _present(points[end])):
            continue
        a, b = points[start], points[end]
        half = (proportions.arm_width if is_arm else proportions.leg_width) * width
        if is_lower:
            b = b + (proportions.hand_length if is_arm else proportions.foot_length) * (b - a)
            half *= 0.8 if is_arm else 0.75
        bones[name] = Bone(a, b, half)
    if _present(points[18]):
        chin = points[NECK] + HEAD_BONE_START * (points[18] - points[NECK])
        bones["head"] = Bone(chin, points[18], proportions.head_radius * width)
    return Body(
        points=points,
        shoulder_width=width,
        bones=bones,
        torso_polygon=points[list(TORSO_POLYGON)],
        proportions=proportions,
    )


def fit_affine(source: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    """Least-squares 3x3 affine map with ``target ~ A @ source``; None when degenerate."""
    if len(source) < 3:
        return None
    design = np.hstack([source, np.ones((len(source), 1))])
    if np.linalg.matrix_rank(design, tol=1e-6 * max(1.0, np.abs(source).max())) < 3:
        return None
    solution, *_ = np.linalg.lstsq(design, target, rcond=None)
    matrix = np.eye(3)
    matrix[:2] = solution.T
    return matrix


def fit_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares 3x3 similarity (rotation, uniform scale, shift), Umeyama without reflection."""
    mean_s, mean_t = source.mean(axis=0), target.mean(axis=0)
    centred_s, centred_t = source - mean_s, target - mean_t
    variance = float((centred_s**2).sum())
    matrix = np.eye(3)
    if variance < 1e-12:
        matrix[:2, 2] = mean_t - mean_s
        return matrix
    # As complex numbers, the similarity is t = z * s: z = sum(conj(s) t) / sum(|s|^2).
    zs = centred_s[:, 0] + 1j * centred_s[:, 1]
    zt = centred_t[:, 0] + 1j * centred_t[:, 1]
    z = (np.conj(zs) * zt).sum() / variance
    matrix[:2, :2] = [[z.real, -z.imag], [z.imag, z.real]]
    matrix[:2, 2] = mean_t - matrix[:2, :2] @ mean_s
    return matrix


def _bone_map(source: Bone, target: Bone, torso_linear: np.ndarray) -> np.ndarray | None:
    """The forward affine map of a limb part (see the module docstring), None if degenerate."""
    along_s, along_t = source.end - source.start, target.end - target.start
    length = float(np.linalg.norm(along_s))
    if length < 1e-6:
        return None
    length_t = float(np.linalg.norm(along_t))
    if length_t < 1e-6:
        return None
    across_s = np.array([-along_s[1], along_s[0]]) / length
    # Across the limb, the width the torso's map gives it, kept perpendicular to the limb:
    # a raised arm stays as thick as a hanging one.
    across_t = np.array([-along_t[1], along_t[0]]) / length_t
    across_t *= float(np.linalg.norm(torso_linear @ across_s))
    basis_s = np.column_stack([along_s, across_s])
    basis_t = np.column_stack([along_t, across_t])
    linear = basis_t @ np.linalg.inv(basis_s)
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = target.start - linear @ source.start
    return matrix


def part_maps(source: Body, target: Body) -> dict[str, np.ndarray]:
    """Forward (source -> target) 3x3 maps of every part present in both poses.

    Returns:
        part name -> matrix; parts that either pose lacks, or whose map is degenerate, are
        left out (the torso is always there).
    """
    indices = list(TORSO_POINTS)
    torso = fit_affine(source.points[indices], target.points[indices])
    if torso is None:
        shoulders = [R_SHOULDER, L_SHOULDER]
        torso = fit_similarity(source.points[shoulders], target.points[shoulders])
    maps: dict[str, np.ndarray] = {"torso": torso}
    for name in source.bones.keys() & target.bones.keys():
        if name == "head":
            common = [i for i in (*FACE_POINTS, NECK) if _present(source.points[i])]
            common = [i for i in common if _present(target.points[i])]
            if len(common) >= 2:
                moved = apply(torso, source.points[common])
                head = fit_similarity(moved, target.points[common]) @ torso
                maps[name] = _limit_turn(head, torso, target.points[common].mean(axis=0))
            continue
        matrix = _bone_map(source.bones[name], target.bones[name], torso[:2, :2])
        if matrix is not None:
            maps[name] = matrix
    return maps


HEAD_TURN_LIMIT = np.radians(30.0)


def rotation_angle(matrix: np.ndarray) -> float:
    """The rotation (radians) of a 3x3 affine map's linear part (its polar factor)."""
    u, _, vt = np.linalg.svd(matrix[:2, :2])
    rotation = u @ vt
    return float(np.arctan2(rotation[1, 0], rotation[0, 0]))


def _limit_turn(head: np.ndarray, torso: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """The head's map turned back to within +-:data:`HEAD_TURN_LIMIT` of the torso's turn.

    A face far off the line above the neck means the head leans or turns towards the camera
    (a cameraman bent over his viewfinder), not that it lies on its side: fitted as it is,
    the head would rotate 60-90 degrees more than the body. A neck bends about this much, so
    the head turns at most this much against the torso (the whole body turned together
    still maps exactly); the pivot (the target face's centre) stays where it was.
    """
    relative = np.angle(np.exp(1j * (rotation_angle(head) - rotation_angle(torso))))
    excess = float(relative - np.clip(relative, -HEAD_TURN_LIMIT, HEAD_TURN_LIMIT))
    if excess == 0.0:
        return head
    cos, sin = np.cos(-excess), np.sin(-excess)
    back = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    back[:2, 2] = pivot - back[:2, :2] @ pivot
    return back @ head


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """A 3x3 affine map applied to (..., 2) points."""
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def segment_distance(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distance of (..., 2) points to the segment ``start -> end``."""
    (ax, ay), (bx, by) = start, end
    dx, dy = bx - ax, by - ay
    length_sq = dx * dx + dy * dy
    ox, oy = points[..., 0] - ax, points[..., 1] - ay
    t = np.clip((ox * dx + oy * dy) / length_sq, 0.0, 1.0) if length_sq > 0 else 0.0
    return np.sqrt((ox - t * dx) ** 2 + (oy - t * dy) ** 2)


def polygon_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Distance of (..., 2) points to a convex-or-not polygon; 0 inside it."""
    edges = [
        segment_distance(points, polygon[i], polygon[(i + 1) % len(polygon)])
        for i in range(len(polygon))
    ]
    distance = np.min(edges, axis=0)
    return np.where(_inside(points, polygon), 0.0, distance)


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule point-in-polygon for (..., 2) points."""
    x, y = points[..., 0], points[..., 1]
    inside = np.zeros(points.shape[:-1], bool)
    for i in range(len(polygon)):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % len(polygon)]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < x_cross)
    return inside


def part_distances(body: Body, points: np.ndarray) -> dict[str, np.ndarray]:
    """Per part, the distance of (..., 2) points to it in units of its width (<= 1: on it).

    The torso's is the distance to its quadrilateral over the torso margin (0 inside).
    """
    margin = body.proportions.torso_margin * body.shoulder_width
    distances = {"torso": polygon_distance(points, body.torso_polygon) / margin}
    for name, bone in body.bones.items():
        distances[name] = segment_distance(points, bone.start, bone.end) / bone.half_width
    return distances


def label_parts(body: Body, mask: np.ndarray, reach: float = 3.0) -> np.ndarray:
    """Which part every pixel of a person mask belongs to.

    A pixel goes to the frontmost part it lies on (normalised distance <= 1); a pixel on no
    part (loose clothing, hair) goes to the nearest part within ``reach`` of its widths,
    and anything farther to the torso, the body's catch-all. The head ends at the shoulder
    line (a tilted head never takes the collar and the shoulders with it). Off the mask: -1.

    Args:
        body: the pose of the person in this image.
        mask: HxW bool person mask.
        reach: how far off its bones (in its widths) a limb or the head still takes pixels.

    Returns:
        HxW int8 index into :data:`PART_NAMES`, -1 off the person.
    """
    rows, cols = np.nonzero(mask)
    labels = np.full(mask.shape, -1, np.int8)
    if not len(rows):
        return labels
    points = np.stack([cols, rows], axis=1).astype(np.float64)
    distances = part_distances(body, points)
    if "head" in distances:
        neck = body.points[NECK]
        below = (points - neck) @ (body.points[[R_HIP, L_HIP]].mean(axis=0) - neck) > 0
        distances["head"] = np.where(below, np.inf, distances["head"])
    order = [name for name in PART_NAMES if name in distances]
    stacked = np.stack([distances[name] for name in order])
    on_part = stacked <= 1.0
    first_on = np.argmax(on_part, axis=0)
    nearest = np.argmin(stacked, axis=0)
    nearest = np.where(stacked.min(axis=0) <= reach, nearest, order.index("torso"))
    chosen = np.where(on_part.any(axis=0), first_on, nearest)
    index = np.array([PART_NAMES.index(name) for name in order], np.int8)
    labels[rows, cols] = index[chosen]
    return labels


def body_region(body: Body, size: tuple[int, int]) -> np.ndarray:
    """HxW bool: where this pose's parts lie (every part at distance <= 1), the body outline."""
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width]
    points = np.stack([xs, ys], axis=-1).astype(np.float64)
    distances = part_distances(body, points)
    return np.min(np.stack(list(distances.values())), axis=0) <= 1.0
