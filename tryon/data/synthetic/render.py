"""Rasterise a posed person (or a flat garment) with exact parse labels and keypoints.

How it works: every body part is a *layer* with a LIP label and a material (a flat colour or a
garment texture seen through a homography). Layers are filled back to front with OpenCV into
one layer-index map at twice the output size, so whatever is drawn later covers what is under
it in the image and in the parse map alike (an arm folded in front of the torso hides the
garment in both). Colours come from one lookup of that map, textured layers are warped in their
bounding box only, soft edge shading darkens part boundaries, and a 2x2 area downsample
anti-aliases. The parse map is the majority label of each 2x2 cell of the same index map.

Garment textures live in the frame of the flat product photo. Each garment piece (torso,
upper sleeve, lower sleeve) is a quadrilateral there and on the body, and one homography per
piece maps the fabric onto the posed body: the worn garment and the product photo show the
same fabric, which is what the appearance-flow net learns to reproduce.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import cv2
import numpy as np

from tryon.data import lip
from tryon.data.synthetic import photo
from tryon.data.synthetic.params import (
    CANONICAL_POSE,
    MEAN_BODY,
    BodyShape,
    GarmentParams,
    IdentityParams,
    Pose,
)
from tryon.data.synthetic.skeleton import (
    Skeleton,
    crop_skeleton,
    frame_skeleton,
    place_skeleton,
    transform_skeleton,
)
from tryon.data.synthetic.style import Occluder, Shot
from tryon.data.synthetic.textures import background_image, garment_texture

SUPERSAMPLE = 2
_SHIFT = 4  # fixed-point bits for sub-pixel OpenCV drawing
_ONE = 1 << _SHIFT

# The product photo: the garment laid flat in the canonical arm pose of the mean body,
# PRODUCT_SCALE frame widths per body unit, centred.
PRODUCT_SCALE = 1.5
PRODUCT_CENTRE_UNITS = -0.105  # mid-hip -> garment centre, body units (up is negative)
PRODUCT_BACKGROUND = (255, 255, 255)

HEM_DROP = {"tshirt": 0.035, "long_sleeve": 0.04, "tank": 0.025, "jacket": 0.10}
NECK_DIP = {"crew": 0.03, "v": 0.11}
EDGE_SHADE_DEPTH = 0.28  # darkening at a part boundary
EDGE_SHADE_WIDTH = 0.018  # body units over which the darkening fades


@dataclasses.dataclass(frozen=True)
class RenderedSample:
    """One rendered person photo with its exact ground truth.

    Attributes:
        image: HxWx3 uint8 RGB.
        keypoints: (18, 2) float32 pixel (x, y), NaN for face points turned away.
        parse: HxW uint8 LIP ids (tryon.data.lip).
        person_mask: HxW bool, parse != background.
    """

    image: np.ndarray
    keypoints: np.ndarray
    parse: np.ndarray
    person_mask: np.ndarray


@dataclasses.dataclass(frozen=True)
class ProductPhoto:
    """The garment alone, flat and frontal on white: image HxWx3 uint8, mask HxW bool."""

    image: np.ndarray
    mask: np.ndarray


@dataclasses.dataclass(frozen=True)
class _Shape:
    kind: str  # "polygon" | "ellipse"
    points: np.ndarray  # polygon: (n, 2); ellipse: centre (2,)
    axes: tuple[float, float] = (0.0, 0.0)
    angle: float = 0.0  # degrees
    arc: tuple[int, int] = (0, 360)

    def bounds(self) -> np.ndarray:
        if self.kind == "polygon":
            return np.concatenate([self.points.min(axis=0), self.points.max(axis=0)])
        reach = max(self.axes)
        return np.concatenate([self.points - reach, self.points + reach])


@dataclasses.dataclass(frozen=True)
class _Piece:
    """A garment piece: its shapes and the quadrilateral that carries its texture mapping."""

    shapes: tuple[_Shape, ...]
    quad: np.ndarray  # (4, 2)


def _polygon(points: list[np.ndarray] | np.ndarray) -> _Shape:
    return _Shape("polygon", np.asarray(points, dtype=np.float64))


def _circle(centre: np.ndarray, radius: float) -> _Shape:
    return _Shape("ellipse", np.asarray(centre, np.float64), (radius, radius))


def _ellipse(centre: np.ndarray, axes: tuple[float, float], direction: np.ndarray) -> _Shape:
    angle = math.degrees(math.atan2(direction[1], direction[0]))
    return _Shape("ellipse", np.asarray(centre, np.float64), axes, angle)


def _capsule(start: np.ndarray, end: np.ndarray, start_radius: float, end_radius: float) -> _Piece:
    """A tapered limb segment: a quad with round caps; its quad orients the texture."""
    direction = end - start
    length = float(np.hypot(*direction))
    direction = direction / length if length > 1e-9 else np.array([0.0, 1.0])
    normal = np.array([-direction[1], direction[0]])
    quad = np.array(
        [
            start + normal * start_radius,
            start - normal * start_radius,
            end - normal * end_radius,
            end + normal * end_radius,
        ]
    )
    return _Piece((_polygon(quad), _circle(start, start_radius), _circle(end, end_radius)), quad)


@dataclasses.dataclass
class _Layer:
    label: int
    colour: tuple[int, int, int]
    group: int
    texture: np.ndarray | None = None
    homography: np.ndarray | None = None  # texture pixel -> canvas pixel
    bounds: np.ndarray | None = None


class _Canvas:
    """A layer-index map plus the layers' labels and materials (index 0 is the backdrop)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.index = np.zeros((size, size), np.uint8)
        self.layers: list[_Layer] = [_Layer(lip.BACKGROUND, (0, 0, 0), 0)]

    def add(
        self,
        label: int,
        colour: tuple[int, int, int],
        shapes: tuple[_Shape, ...] | list[_Shape],
        *,
        group: int | None = None,
        texture: np.ndarray | None = None,
        homography: np.ndarray | None = None,
    ) -> int:
        """Draw ``shapes`` as a new top layer; returns its index (usable as a shading group)."""
        number = len(self.layers)
        if number > 255:
            raise RuntimeError("more than 255 layers in one picture")
        bounds = np.stack([shape.bounds() for shape in shapes])
        self.layers.append(
            _Layer(
                label,
                colour,
                number if group is None else group,
                texture,
                homography,
                np.concatenate([bounds[:, :2].min(axis=0), bounds[:, 2:].max(axis=0)]),
            )
        )
        for shape in shapes:
            self._fill(shape, number)
        return number

    def _fill(self, shape: _Shape, value: int) -> None:
        if shape.kind == "polygon":
            points = np.round(shape.points * _ONE).astype(np.int32)
            cv2.fillPoly(self.index, [points], value, cv2.LINE_8, _SHIFT)
            return
        centre = tuple(round(float(c) * _ONE) for c in shape.points)
        axes = tuple(max(round(float(a) * _ONE), 1) for a in shape.axes)
        cv2.ellipse(
            self.index, centre, axes, shape.angle, shape.arc[0], shape.arc[1], value, -1,
            cv2.LINE_8, _SHIFT,
        )  # fmt: skip

    def labels(self) -> np.ndarray:
        """The output-size parse map: the majority label of each pixel's subpixels.

        A majority vote is centred on the pixel like the area-averaged image (a fixed
        subsample would shift labels by a quarter pixel); a tie goes to the label of the
        layer drawn last among the tied ones (the occluder).
        """
        lookup = np.zeros(256, np.uint8)
        lookup[: len(self.layers)] = [layer.label for layer in self.layers]
        labels, step = lookup[self.index], SUPERSAMPLE
        offsets = [(y, x) for y in range(step) for x in range(step)]
        candidates = [labels[y::step, x::step] for y, x in offsets]
        scores = []
        for (y, x), candidate in zip(offsets, candidates, strict=True):
            votes = sum((candidate == other).astype(np.int16) for other in candidates)
            scores.append(votes * 256 + self.index[y::step, x::step])
        best_label, best_score = candidates[0], scores[0]
        for candidate, score in zip(candidates[1:], scores[1:], strict=True):
            best_label = np.where(score > best_score, candidate, best_label)
            best_score = np.maximum(score, best_score)
        return np.ascontiguousarray(best_label)

    def coverage(self, labels: tuple[int, ...], size: int) -> np.ndarray:
        """The share of each output pixel's subpixels that layers labelled ``labels`` cover
        (``size`` x ``size`` float32 in [0, 1])."""
        lookup = np.zeros(256, np.float32)
        lookup[: len(self.layers)] = [layer.label in labels for layer in self.layers]
        return cv2.resize(lookup[self.index], (size, size), interpolation=cv2.INTER_AREA)

    def compose(self, backdrop: np.ndarray, size: int, shade_width: float) -> np.ndarray:
        """The finished ``size`` x ``size`` uint8 photo of this canvas.

        Flat colours come from one lookup of the index map, textured layers are warped inside
        their bounding boxes, the backdrop fills index 0; then a 2x2 area downsample and soft
        shading along part boundaries (``shade_width`` output pixels wide).
        """
        table = np.zeros((1, 256, 3), np.uint8)
        table[0, : len(self.layers)] = [layer.colour for layer in self.layers]
        image = cv2.LUT(cv2.merge([self.index] * 3), table)
        for number, layer in enumerate(self.layers):
            if layer.texture is not None:
                self._paint_texture(image, number, layer)
        background = (self.index == 0).view(np.uint8)
        cv2.copyTo(backdrop, background, image)
        small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        groups = np.zeros(256, np.uint8)
        groups[: len(self.layers)] = [layer.group for layer in self.layers]
        step = self.size // size
        shade = _edge_shading(groups[self.index[::step, ::step]], shade_width)
        return np.clip(small * shade[..., None] + 0.5, 0, 255).astype(np.uint8)

    def _paint_texture(self, image: np.ndarray, number: int, layer: _Layer) -> None:
        low = np.clip(np.floor(layer.bounds[:2]).astype(int) - 1, 0, self.size)
        high = np.clip(np.ceil(layer.bounds[2:]).astype(int) + 2, 0, self.size)
        if (high <= low).any():
            return
        inside = self.index[low[1] : high[1], low[0] : high[0]] == number
        if not inside.any():
            return
        to_box = np.array([[1, 0, -low[0]], [0, 1, -low[1]], [0, 0, 1]], np.float64)
        warped = cv2.warpPerspective(
            layer.texture,
            to_box @ layer.homography,
            (int(high[0] - low[0]), int(high[1] - low[1])),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        np.copyto(image[low[1] : high[1], low[0] : high[0]], warped, where=inside[..., None])


def _edge_shading(groups: np.ndarray, width: float) -> np.ndarray:
    """Per-pixel brightness factor darkening the person near part boundaries (not backdrop)."""
    horizontal, vertical = groups[:, 1:] != groups[:, :-1], groups[1:] != groups[:-1]
    edge = np.zeros(groups.shape, bool)
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:] |= vertical
    edge[:-1] |= vertical
    distance = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 3)
    fade = 1 - np.minimum(distance / max(width, 1e-6), 1)
    shade = 1 - EDGE_SHADE_DEPTH * fade * fade
    shade[groups == 0] = 1
    return shade


def _supersampled(skeleton: Skeleton) -> Skeleton:
    """The skeleton in canvas pixels (output pixel x -> SUPERSAMPLE * x + 0.5 at 2x)."""
    return transform_skeleton(skeleton, SUPERSAMPLE, (SUPERSAMPLE - 1) / 2)


class _BodyFrame:
    """Points in the torso's frame: ``across`` units towards the person's left, ``down`` units
    below the neck keypoint, widths narrowed by the turn."""

    def __init__(self, skeleton: Skeleton) -> None:
        self.skeleton = skeleton
        self.width = math.cos(skeleton.yaw)

    def point(self, across: float, down: float) -> np.ndarray:
        sk = self.skeleton
        offset = sk.across * across * self.width - sk.up * down
        return sk.joints[1] + offset * sk.px_per_unit


def _garment_pieces(
    sk: Skeleton, body: BodyShape, garment: GarmentParams
) -> dict[str, list[_Piece]]:
    """Torso and sleeve pieces of ``garment`` fitted to ``body`` posed as ``sk``."""
    frame, unit, ease = _BodyFrame(sk), sk.px_per_unit, garment.ease
    tank = garment.cut == "tank"
    shoulder = body.shoulder_half * 0.55 if tank else body.shoulder_half + 0.012
    neck = body.neck_half * (1.6 if tank else 1.3)
    dip = 0.07 if tank else NECK_DIP[garment.neckline]
    armpit = (
        (body.waist_half + ease + 0.008, 0.12) if tank else (body.shoulder_half * 0.93 + ease, 0.10)
    )
    hem = (body.hip_outline_half + ease, body.torso_length + HEM_DROP[garment.cut])
    waist = (body.waist_half + ease, body.torso_length * 0.6)
    right = [
        (-neck, -0.015),
        (-shoulder, -0.008),
        (-armpit[0], armpit[1]),
        (-waist[0], waist[1]),
        (-hem[0], hem[1]),
    ]
    outline = right + [(-a, b) for a, b in reversed(right)] + [(0.0, dip)]
    torso_points = np.array([frame.point(a, b) for a, b in outline])
    quad = np.array([torso_points[1], torso_points[8], torso_points[5], torso_points[4]])
    pieces: dict[str, list[_Piece]] = {"torso": [_Piece((_polygon(torso_points),), quad)]}
    for side, first in (("right", 2), ("left", 5)):
        shoulder_px, elbow, wrist = sk.joints[first], sk.joints[first + 1], sk.joints[first + 2]
        sleeves: list[_Piece] = []
        if garment.cut == "tshirt":
            end = shoulder_px + (elbow - shoulder_px) * 0.5
            sleeves.append(
                _capsule(shoulder_px, end, body.arm_half * 1.45 * unit, body.arm_half * 1.3 * unit)
            )
        elif garment.cut in ("long_sleeve", "jacket"):
            sleeves.append(
                _capsule(
                    shoulder_px, elbow, body.arm_half * 1.45 * unit, body.arm_half * 1.25 * unit
                )
            )
            cuff = elbow + (wrist - elbow) * 0.93
            sleeves.append(
                _capsule(elbow, cuff, body.arm_half * 1.25 * unit, body.forearm_half * 1.35 * unit)
            )
        pieces[side] = sleeves
    return pieces


@dataclasses.dataclass(frozen=True)
class _GarmentMaterial:
    label: int
    texture: np.ndarray
    product_pieces: dict[str, list[_Piece]]


def _product_skeleton(canvas_size: int) -> Skeleton:
    scale = PRODUCT_SCALE * canvas_size
    origin = np.array([(canvas_size - 1) / 2, (canvas_size - 1) / 2 - PRODUCT_CENTRE_UNITS * scale])
    return place_skeleton(MEAN_BODY, CANONICAL_POSE, origin, scale)


def product_keypoints(size: int) -> np.ndarray:
    """The body joints a product photo of ``size`` px is laid out on (the mean body, flat).

    Only the joints a garment has are given (neck, shoulders, elbows, wrists, hips); the
    others are NaN. This is the exact answer that a product photo's estimated landmarks
    (:mod:`tryon.preprocess.garment_landmarks`) are scored against.

    Returns:
        (18, 2) float32 pixel (x, y) in the product photo.
    """
    joints = _product_skeleton(size * SUPERSAMPLE).joints
    keypoints = np.full((18, 2), np.nan, np.float32)
    garment_joints = [1, 2, 3, 4, 5, 6, 7, 8, 11]
    keypoints[garment_joints] = (joints[garment_joints] + 0.5) / SUPERSAMPLE - 0.5
    return keypoints


def _chest(canvas_size: int) -> tuple[float, float, float]:
    """Where prints go, as fractions of the product frame: (x, y, width)."""
    sk = _product_skeleton(canvas_size)
    centre = _BodyFrame(sk).point(0.0, 0.11) / canvas_size
    return (
        round(float(centre[0]), 4),
        round(float(centre[1]), 4),
        round(MEAN_BODY.waist_half * 2 * PRODUCT_SCALE, 4),
    )


@functools.lru_cache(maxsize=8)
def _garment_material(garment: GarmentParams, canvas_size: int) -> _GarmentMaterial:
    """The garment's label, fabric (zip included) and flat pieces; cached per garment and size."""
    label = lip.COAT if garment.cut == "jacket" else lip.UPPER_CLOTHES
    texture = garment_texture(garment.texture, canvas_size, _chest(canvas_size))
    if garment.cut == "jacket":  # a zip down the middle of the front
        texture = texture.copy()
        centre, half = canvas_size // 2, max(canvas_size // 256, 1)
        texture[:, centre - half : centre + half + 1] = (
            texture[:, centre - half : centre + half + 1] * 0.45
        ).astype(np.uint8)
    pieces = _garment_pieces(_product_skeleton(canvas_size), MEAN_BODY, garment)
    return _GarmentMaterial(label, texture, pieces)


def _add_garment_pieces(
    canvas: _Canvas, material: _GarmentMaterial, pieces: list[_Piece], product: list[_Piece]
) -> None:
    for piece, flat in zip(pieces, product, strict=True):
        homography = cv2.getPerspectiveTransform(
            flat.quad.astype(np.float32), piece.quad.astype(np.float32)
        )
        canvas.add(
            material.label,
            (0, 0, 0),
            piece.shapes,
            texture=material.texture,
            homography=homography.astype(np.float64),
        )


def _draw_arm(
    canvas: _Canvas, sk: Skeleton, identity: IdentityParams, side: str,
    material: _GarmentMaterial, garment_pieces: dict[str, list[_Piece]],
) -> None:  # fmt: skip
    body, unit = identity.body, sk.px_per_unit
    first, label = (2, lip.RIGHT_ARM) if side == "right" else (5, lip.LEFT_ARM)
    shoulder, elbow, wrist = sk.joints[first], sk.joints[first + 1], sk.joints[first + 2]
    hand_direction = sk.hand_tips[0 if side == "right" else 1] - wrist
    hand_centre = wrist + hand_direction * 0.45
    shapes = [
        *_capsule(shoulder, elbow, body.arm_half * unit, body.forearm_half * 1.1 * unit).shapes,
        *_capsule(
            elbow, wrist, body.forearm_half * 1.05 * unit, body.forearm_half * 0.85 * unit
        ).shapes,
        _ellipse(
            hand_centre, (body.hand * 0.55 * unit, body.forearm_half * 1.05 * unit), hand_direction
        ),
    ]
    canvas.add(label, identity.skin, shapes)
    _add_garment_pieces(canvas, material, garment_pieces[side], material.product_pieces[side])


# (hip keypoint, leg label, shoe label), right then left; knee and ankle follow the hip.
_LEGS: tuple[tuple[int, int, int], ...] = (
    (8, lip.RIGHT_LEG, lip.RIGHT_SHOE),
    (11, lip.LEFT_LEG, lip.LEFT_SHOE),
)


def _bottom_shapes(sk: Skeleton, body: BodyShape, kind: str) -> list[_Shape]:
    """Trousers, shorts (a waistband polygon plus leg tubes) or a skirt (a trapezoid)."""
    frame, unit = _BodyFrame(sk), sk.px_per_unit
    waist_down, hips_down = body.torso_length - 0.06, body.torso_length + 0.01
    waist_half = body.waist_half + 0.004
    right_waist, left_waist = (
        frame.point(-waist_half, waist_down),
        frame.point(waist_half, waist_down),
    )
    right_hip = frame.point(-body.hip_outline_half, hips_down)
    left_hip = frame.point(body.hip_outline_half, hips_down)
    if kind == "skirt":
        knees = (sk.joints[9] + sk.joints[12]) / 2
        half = max(
            abs(sk.joints[9][0] - sk.joints[12][0]) / 2 + body.thigh_half * 1.3 * unit,
            body.hip_outline_half * 1.25 * unit,
        )
        hem_y = knees[1] + 0.02 * unit
        right_hem, left_hem = np.array([knees[0] - half, hem_y]), np.array([knees[0] + half, hem_y])
        return [_polygon([right_waist, left_waist, left_hip, left_hem, right_hem, right_hip])]
    crotch = (sk.joints[8] + sk.joints[11]) / 2 + np.array([0.0, 0.07 * unit])
    shapes = [_polygon([right_waist, left_waist, left_hip, crotch, right_hip])]
    for hip, _, _ in _LEGS:
        top, knee, ankle = sk.joints[hip], sk.joints[hip + 1], sk.joints[hip + 2]
        thigh, shin = body.thigh_half * unit, body.shin_half * unit
        if kind == "shorts":
            shapes += _capsule(top, top + (knee - top) * 0.6, thigh * 1.3, thigh * 1.22).shapes
        else:
            shapes += _capsule(top, knee, thigh * 1.25, shin * 1.45).shapes
            shapes += _capsule(knee, ankle, shin * 1.45, shin * 1.3).shapes
    return shapes


def _draw_lower_body(canvas: _Canvas, sk: Skeleton, identity: IdentityParams) -> None:
    """Bare legs, then bottoms over them, then shoes."""
    body, unit, bottom = identity.body, sk.px_per_unit, identity.bottom
    thigh, shin = body.thigh_half * unit, body.shin_half * unit
    for hip, label, _ in _LEGS:
        top, knee, ankle = sk.joints[hip], sk.joints[hip + 1], sk.joints[hip + 2]
        shapes = [
            *_capsule(top, knee, thigh, shin * 1.15).shapes,
            *_capsule(knee, ankle, shin * 1.1, shin * 0.75).shapes,
        ]
        canvas.add(label, identity.skin, shapes)
    label = lip.SKIRT if bottom.kind == "skirt" else lip.PANTS
    canvas.add(label, bottom.colour, _bottom_shapes(sk, body, bottom.kind))
    foot_axes = (body.foot * 0.62 * unit, body.foot * 0.36 * unit)
    for side, (_, _, shoe_label) in enumerate(_LEGS):
        foot = _ellipse(sk.foot_centres[side], foot_axes, np.array([1.0, 0.0]))
        canvas.add(shoe_label, bottom.shoe_colour, [foot])


def _draw_torso_skin(
    canvas: _Canvas, sk: Skeleton, body: BodyShape, skin: tuple[int, int, int]
) -> None:
    frame, unit = _BodyFrame(sk), sk.px_per_unit
    neck_top = sk.joints[1] + sk.up * (body.neck_length + body.head_ry * 0.4) * unit
    right = [
        (-body.shoulder_half, 0.0),
        (-body.shoulder_half * 0.95, 0.1),
        (-body.waist_half, body.torso_length * 0.6),
        (-body.hip_outline_half, body.torso_length),
    ]
    outline = right + [(-a, b) for a, b in reversed(right)]
    shapes = [
        *_capsule(sk.joints[1], neck_top, body.neck_half * unit, body.neck_half * unit).shapes,
        _polygon([frame.point(a, b) for a, b in outline]),
    ]
    canvas.add(lip.NECK, skin, shapes)


def _draw_head(canvas: _Canvas, sk: Skeleton, identity: IdentityParams) -> None:
    body, unit = identity.body, sk.px_per_unit
    rx, ry = body.head_rx * unit, body.head_ry * unit
    centre, up, across = sk.head_centre, sk.head_up, sk.head_across
    turn = math.sin(sk.yaw)
    head_angle = math.degrees(math.atan2(across[1], across[0]))
    if identity.hair_style == "bun":
        canvas.add(lip.HAIR, identity.hair, [_circle(centre + up * ry * 1.05, rx * 0.45)])
    face_shapes = [
        _ellipse(sk.joints[ear], (rx * 0.24, ry * 0.3), across)
        for ear in (16, 17)
        if sk.visible[ear]
    ]
    face_shapes.append(_Shape("ellipse", centre, (rx, ry), head_angle))
    face = canvas.add(lip.FACE, identity.skin, face_shapes)
    eyes = [
        _ellipse(sk.joints[eye], (rx * 0.13, ry * 0.075), across)
        for eye in (14, 15)
        if sk.visible[eye]
    ]
    if eyes:
        canvas.add(lip.FACE, identity.eye, eyes, group=face)
    mouth = centre - up * ry * 0.52 + across * rx * 0.9 * turn
    canvas.add(
        lip.FACE, identity.lips, [_ellipse(mouth, (rx * 0.27, ry * 0.07), across)], group=face
    )
    cap_axes = (rx * 1.04, ry * 0.92) if identity.hair_style == "buzz" else (rx * 1.1, ry * 1.02)
    cap_centre = centre + up * ry * 0.2 - across * rx * 0.3 * turn
    canvas.add(
        lip.HAIR, identity.hair, [_Shape("ellipse", cap_centre, cap_axes, head_angle, (180, 360))]
    )


def _draw_person(
    canvas: _Canvas, sk: Skeleton, identity: IdentityParams, garment: GarmentParams, pose: Pose
) -> None:
    body, unit = identity.body, sk.px_per_unit
    material = _garment_material(garment, canvas.size)
    pieces = _garment_pieces(sk, body, garment)
    arms = {"right": pose.right_arm, "left": pose.left_arm}
    if identity.hair_style == "long":
        below = sk.head_centre - sk.head_up * body.head_ry * 1.7 * unit
        canvas.add(
            lip.HAIR,
            identity.hair,
            _capsule(
                sk.head_centre, below, body.head_rx * 1.15 * unit, body.head_rx * 1.05 * unit
            ).shapes,
        )
    for side, limb in arms.items():
        if limb.behind:
            _draw_arm(canvas, sk, identity, side, material, pieces)
    _draw_lower_body(canvas, sk, identity)
    _draw_torso_skin(canvas, sk, body, identity.skin)
    _add_garment_pieces(canvas, material, pieces["torso"], material.product_pieces["torso"])
    _draw_head(canvas, sk, identity)
    order = ("left", "right") if pose.right_arm_on_top else ("right", "left")
    for side in order:
        if not arms[side].behind:
            _draw_arm(canvas, sk, identity, side, material, pieces)


def _draw_occluder(canvas: _Canvas, sk: Skeleton, occluder: Occluder) -> None:
    """The occluder over everything, labelled background: the parse and the person mask
    exclude it exactly where the image shows it."""
    group = None
    for part in photo.occluder_parts(occluder, sk, canvas.size):
        shapes = [_polygon(points) for points in part.polygons] + [
            _Shape("ellipse", np.asarray(centre, np.float64), axes, angle)
            for centre, axes, angle in part.ellipses
        ]
        homography = None
        if part.texture is not None:
            height, width = part.texture.shape[:2]
            corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
            homography = cv2.getPerspectiveTransform(corners, part.quad.astype(np.float32))
        number = canvas.add(
            lip.BACKGROUND,
            part.colour,
            shapes,
            group=group,
            texture=part.texture,
            homography=None if homography is None else homography.astype(np.float64),
        )
        group = number if group is None else group


def _check_size(size: int) -> None:
    if not 16 <= size <= 2048:
        raise ValueError(f"size must be between 16 and 2048 pixels, got {size}")


def render_person(
    identity: IdentityParams,
    garment: GarmentParams,
    pose: Pose,
    size: int,
    shot: Shot | None = None,
    backdrop: np.ndarray | None = None,
) -> RenderedSample:
    """Render ``identity`` wearing ``garment`` in ``pose`` as a ``size`` x ``size`` photo.

    Args:
        identity: body, looks, bottoms and backdrop (``sample_identity``).
        garment: the upper garment (``sample_garment``); any identity can wear any garment.
        pose: joint angles and framing (``sample_pose`` or ``CANONICAL_POSE``).
        size: output side in pixels (64 to 1024 are the supported data-set sizes).
        shot: None for the flat style; else how the photo was taken (``style.sample_shot``):
            framing, scene, occluder, garment folds, light and camera (see :mod:`.photo`).
            The identity's own backdrop is then unused.
        backdrop: optional ``size`` x ``size`` x 3 uint8 image that replaces the scene (the
            canonical view's studio backdrop): the same person, framing, folds, light and
            camera, no occluder, laid over this image by their coverage, so the backdrop
            itself is left exactly as given (untouched by the shot's light and noise).

    Returns:
        The photo with its keypoints (NaN outside the frame), LIP parse map and person mask.
    """
    _check_size(size)
    skeleton = frame_skeleton(identity.body, pose, size)
    window = (-0.5, -0.5, float(size))
    if shot is not None:
        window = photo.framing_window(shot.framing, skeleton, identity.body, size)
        skeleton = crop_skeleton(skeleton, window, size)
    canvas = _Canvas(size * SUPERSAMPLE)
    big = _supersampled(skeleton)
    _draw_person(canvas, big, identity, garment, pose)
    if backdrop is not None:
        if backdrop.shape != (size, size, 3):
            raise ValueError(f"backdrop must be {size}x{size}x3, got {backdrop.shape}")
        scene = cv2.resize(backdrop, (canvas.size, canvas.size), interpolation=cv2.INTER_LINEAR)
    elif shot is None:
        scene = background_image(identity.background, canvas.size)
    else:
        if shot.occluder is not None:
            _draw_occluder(canvas, big, shot.occluder)
        scene = photo.backdrop_image(shot.backdrop, window, size, canvas.size)
    image = canvas.compose(scene, size, EDGE_SHADE_WIDTH * skeleton.px_per_unit)
    parse = canvas.labels()
    keypoints = skeleton.keypoints
    if shot is not None:
        shading = photo.garment_shading(skeleton, identity.body, shot.folds, size)
        coverage = canvas.coverage(lip.UPPER_GARMENT_IDS, size)
        image = photo.develop(image, shot, size, shading, coverage)
        keypoints = photo.keypoints_in_frame(keypoints, size)
    if backdrop is not None:
        person = (1 - canvas.coverage((lip.BACKGROUND,), size))[..., None]
        laid = person * image + (1 - person) * backdrop.astype(np.float32)
        image = np.clip(laid + 0.5, 0, 255).astype(np.uint8)
    return RenderedSample(image, keypoints, parse, parse != lip.BACKGROUND)


def render_product(
    garment: GarmentParams, size: int, gains: tuple[float, float, float] | None = None
) -> ProductPhoto:
    """The garment alone, laid flat and frontal on white (the catalogue photo) and its mask.

    The flat layout is the garment on the mean body in the canonical arm pose, so a worn
    garment relates to its product photo by a smooth, piecewise-projective warp.

    Args:
        garment: the garment (``sample_garment``).
        size: output side in pixels.
        gains: optional RGB gains on the garment (the photographic style's mild exposure and
            white-balance jitter of a studio shot); the white backdrop stays white.

    Returns:
        The photo (size x size x 3 uint8, white backdrop) and the garment's mask.
    """
    _check_size(size)
    canvas = _Canvas(size * SUPERSAMPLE)
    material = _garment_material(garment, canvas.size)
    _add_garment_pieces(
        canvas, material, material.product_pieces["torso"], material.product_pieces["torso"]
    )
    for side in ("right", "left"):
        _add_garment_pieces(
            canvas, material, material.product_pieces[side], material.product_pieces[side]
        )
    backdrop = np.full((canvas.size, canvas.size, 3), PRODUCT_BACKGROUND, np.uint8)
    image = canvas.compose(backdrop, size, EDGE_SHADE_WIDTH * PRODUCT_SCALE * size)
    if gains is not None:
        image = photo.tint_product(image, canvas.coverage(lip.UPPER_GARMENT_IDS, size), gains)
    mask = canvas.labels() != lip.BACKGROUND
    return ProductPhoto(image, mask)
