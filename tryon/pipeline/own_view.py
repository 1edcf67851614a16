"""The shopper's own view: the fitted garment composited into the photo, nothing else changed.

Layers, back to front:

1. the photo itself;
2. where the old garment is left uncovered by the new one: re-synthesised skin inside the
   body's outline, background plate outside it (:mod:`tryon.pipeline.resynthesis`); the
   legs are never re-synthesised (a long jacket and the trousers look alike), nor is the
   old garment below the new one's hem (what a coat hides under a shirt's hem is trousers
   or a skirt, never skin: the coat's own pixels are the least wrong guess), nor what
   already looks like the shopper's skin, nor old garment joined to a shirt worn under it
   (:func:`uncovered_old_garment`);
3. the new garment, cut to the person mask grown by ``spill`` of the photo's long side (a
   looser garment may stand a little off the body, never over the room behind), carried
   over the old garment on the torso's flanks beside it (:func:`garment_flanks`), lit by the
   old garment's shading: its smoothed brightness relative to its median, so the folds and
   the light of the photo fall on the new fabric (not on re-synthesised skin: a white shirt
   under a dark suit is albedo, not light, and would bleach the skin painted over it);
4. in front of it, the photo's own pixels that lie in front of the garment piece there: the
   head (face, hair, neck) over every piece where it is not old garment, and the arms and
   hands over the garment's torso piece (an arm held in front of the body stays in front;
   where it wore the old garment's sleeve, that sleeve is re-synthesised as skin), and the
   real skin near a wrist (:func:`hands`: fingers tucked beside a crossed arm), the bare
   forearms painted up to those hands (:func:`reach_hands`). Flecks of the photo left alone
   amid all that (:func:`crumbs`) take what surrounds them.

Every pixel outside the grown person mask is the photo's, bit for bit, and so is every pixel
of the face box (:func:`tryon.preprocess.body_boxes.face_box`: face, hair, chin): the shopper's
face is never edited. A collar or a raised sleeve that reaches into the box keeps its own
pixels there, the bare old garment joined to it off the arms is not re-synthesised either
(the old shirt shows in the new neckline, as if worn under it), and the new garment fades
out over ``face_fade`` just outside the box. Users of generative try-on complain first of a
changed face; here it cannot change.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hpn.body_parts import (
    ARM_PARTS,
    HEAD_PART,
    L_ELBOW,
    L_HIP,
    L_SHOULDER,
    L_WRIST,
    LEG_PARTS,
    NECK,
    PART_NAMES,
    R_ELBOW,
    R_HIP,
    R_SHOULDER,
    R_WRIST,
    TORSO_PART,
    BodyProportions,
    Bone,
    body_from_keypoints,
    complete_points,
    part_distances,
)
from tryon.pipeline.garment_fit import FittedGarment
from tryon.pipeline.resynthesis import (
    background_plate,
    camera_grain,
    grain_level,
    has_skin_hue,
    light_from_face,
    looks_like_skin,
    missing_grain,
    nearby_skin_colour,
    shaded_skin,
    shadowed_skin_colour,
    skin_colour,
    soften_seams,
)
from tryon.preprocess.body_boxes import face_mask
from tryon.preprocess.garment_region import dilate, touching

BODY_SIZE = 320  # the body outline is drawn at this long side, then upsampled


@dataclass(frozen=True)
class OwnViewConfig:
    """Knobs of :func:`compose_own_view`.

    Attributes:
        spill: how far off the person mask the garment may reach, as a fraction of the
            photo's long side.
        feather: Gaussian blur of the garment's alpha, as a fraction of the long side.
        resynthesise: fill the uncovered old garment with skin / background (off: leave it).
        shading: how much of the old garment's shading falls on the new garment (0: none,
            1: all of it).
        shading_blur: the shading's smoothing (Gaussian sigma) as a fraction of the long side;
            it keeps folds and light, and blurs away prints and seams of the old garment.
        face_fade: width of the new garment's fade-out around the face box, as a fraction of
            the long side (inside the box nothing is ever drawn).
        skin_reach: how far from re-synthesised skin the shopper's real skin is sampled for
            its colour, as a fraction of the long side.
        seam_width: the rim of re-synthesised pixels blurred into their neighbours, as a
            fraction of the long side.
        plate_reach: how deep inside the person mask (fraction of the long side) bare old
            garment off the body's outline is still painted as background.
        rim_reach: the person mask's outer rim (fraction of the long side) next to old garment
            painted as background that is painted as background too (:func:`silhouette_rim`).
    """

    spill: float = 0.015
    feather: float = 0.0012
    resynthesise: bool = True
    shading: float = 0.7
    shading_blur: float = 0.008
    face_fade: float = 0.025
    skin_reach: float = 0.05
    seam_width: float = 0.003
    plate_reach: float = 0.04
    rim_reach: float = 0.012

    def __post_init__(self) -> None:
        if not 0 <= self.spill <= 0.04 or min(self.feather, self.face_fade) < 0:
            raise ValueError("spill must be in [0, 0.04], feather and face_fade >= 0")
        if self.skin_reach <= 0 or min(self.seam_width, self.plate_reach, self.rim_reach) < 0:
            raise ValueError("skin_reach must be > 0, seam_width, plate_reach, rim_reach >= 0")
        if not 0 <= self.shading <= 1 or self.shading_blur <= 0:
            raise ValueError("shading must be in [0, 1] and shading_blur > 0")


@dataclass(frozen=True)
class OwnViewLayers:
    """The own view and how it was made (all in pixels of the photo).

    Attributes:
        image: HxWx3 uint8 result.
        alpha: HxW float32, how much of the new garment each pixel shows.
        uncovered: HxW bool, old garment the new one leaves bare (re-synthesised).
        kept_in_front: HxW bool, the photo's pixels kept over the garment.
    """

    image: np.ndarray
    alpha: np.ndarray
    uncovered: np.ndarray
    kept_in_front: np.ndarray


# Bare arms are slimmer than sleeves: an upper arm 0.24 shoulder widths across, a forearm 0.19
# (the mean adult's), where the part warp's default proportions are sized to clothed arms.
BARE_BODY = BodyProportions(arm_width=0.12)


# The body's surfaces front to back (the order of PART_NAMES), each limb's bones together.
LIMBS = (
    ("right_forearm", "right_upper_arm"),
    ("left_forearm", "left_upper_arm"),
    ("head",),
    ("right_shin", "right_thigh"),
    ("left_shin", "left_thigh"),
    ("torso",),
)


@dataclass(frozen=True)
class BareBody:
    """The body under its clothes, from its keypoints (drawn small, upsampled).

    Attributes:
        outline: HxW bool, on some part (the bare body's outline).
        arms: HxW bool, on a bare arm.
        roundness: HxW float32 in [0, 1], how far a pixel faces the camera on the frontmost
            limb or torso it lies on: 1 on a bone's axis, falling like a cylinder's cosine to
            0 at the part's edge (flat inside the torso's quadrilateral).
        sideways: HxW float32 in [-1, 1], the image-x part of the surface's normal there
            (-1 facing left at a vertical limb's left edge; 0 on the torso and off the body).
    """

    outline: np.ndarray
    arms: np.ndarray
    roundness: np.ndarray
    sideways: np.ndarray


def _sideways(bone: Bone, points: np.ndarray) -> np.ndarray:
    """The image-x part of a cylinder's normal round ``bone`` at (..., 2) ``points``."""
    along_bone = bone.end - bone.start
    across = np.array([-along_bone[1], along_bone[0]]) / max(float(np.hypot(*along_bone)), 1e-6)
    offset = np.clip((points - bone.start) @ across / bone.half_width, -1.0, 1.0)
    return offset * across[0]


def bare_body(keypoints: np.ndarray, size: tuple[int, int]) -> BareBody:
    """The :class:`BareBody` of a pose on an image of ``size``."""
    height, width = size
    factor = min(1.0, BODY_SIZE / max(height, width))
    small = (max(1, round(height * factor)), max(1, round(width * factor)))
    scaled = (np.asarray(keypoints, np.float64) + 0.5) * factor - 0.5
    body = body_from_keypoints(scaled.astype(np.float32), BARE_BODY)
    rows, cols = np.mgrid[0 : small[0], 0 : small[1]]
    grid = np.stack([cols, rows], axis=-1).astype(np.float64)
    distances = part_distances(body, grid)
    arm_names = {PART_NAMES[i] for i in ARM_PARTS}

    def full(distance: np.ndarray) -> np.ndarray:
        # Distances are smooth, so they are upsampled and only then cut or compared: a
        # smooth outline and crossing, not the small grid's stair steps.
        capped = np.minimum(distance, 4.0).astype(np.float32)
        return cv2.resize(capped, (width, height), interpolation=cv2.INTER_LINEAR)

    nearest = full(np.min(np.stack(list(distances.values())), axis=0))
    arms = [d for name, d in distances.items() if name in arm_names]
    nearest_arm = full(np.min(np.stack(arms), axis=0)) if arms else np.full(size, np.inf)
    # Each pixel is shaded on the frontmost limb it lies on (PART_NAMES runs front to back; a
    # limb's two bones are one surface, or the elbow would show the forearm's round end): a
    # forearm crossing the other darkens towards its own edge over it, so the two read as
    # two limbs, not one slab.
    frontmost, sideways = nearest.copy(), np.zeros(size, np.float32)
    decided = np.zeros(size, bool)
    for names in LIMBS:
        names = [name for name in names if name in distances]
        if not names:
            continue
        bones = np.stack([distances[name] for name in names])
        limb = full(bones.min(axis=0))
        on = ~decided & (limb <= 1.0)
        frontmost[on], decided = limb[on], decided | on
        if names != ["torso"]:  # each pixel on its nearest bone's cylinder
            facing = np.stack([_sideways(body.bones[name], grid) for name in names])
            nearest_bone = np.take_along_axis(facing, bones.argmin(axis=0)[None], 0)[0]
            smooth = cv2.resize(nearest_bone.astype(np.float32), (width, height))
            sideways[on] = smooth[on]
    roundness = np.sqrt(np.clip(1.0 - frontmost**2, 0.0, 1.0)).astype(np.float32)
    return BareBody(
        outline=nearest <= 1.0, arms=nearest_arm <= 1.0, roundness=roundness, sideways=sideways
    )


def torso_axis(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The neck and the unit "down" direction from it to the hips' midpoint, of completed
    points (:func:`hpn.body_parts.complete_points`)."""
    neck = points[NECK]
    down = points[[R_HIP, L_HIP]].mean(axis=0) - neck
    return neck, down / max(float(np.linalg.norm(down)), 1e-6)


def along(size: tuple[int, int], origin: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """HxW, every pixel's coordinate along the unit ``direction`` from ``origin``."""
    rows, cols = np.indices(size, dtype=np.float32)
    return (cols - origin[0]) * direction[0] + (rows - origin[1]) * direction[1]


def below_hem(keypoints: np.ndarray, alpha: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """HxW bool, the non-arm pixels farther down the torso's axis than the garment reaches.

    The axis runs from the neck to the hips' midpoint; the hem is the garment's lowest point
    on it among its non-arm pixels (a sleeve hanging below the waist does not lengthen it).
    Nothing is below a garment that shows no body piece.
    """
    points, _ = complete_points(keypoints)
    neck, down = torso_axis(points)
    depth = along(alpha.shape, neck, down)
    body = ~np.isin(labels, ARM_PARTS)
    worn = (alpha >= 0.5) & body
    if not worn.any():
        return np.zeros(alpha.shape, bool)
    return body & (depth > depth[worn].max())


HANGING = np.deg2rad(35.0)  # an upper arm this close to the torso's down direction hangs
RAISED = np.deg2rad(100.0)  # a forearm farther than this from "down" is raised: no side edge
ARMS = ((R_SHOULDER, R_ELBOW, R_WRIST, R_HIP), (L_SHOULDER, L_ELBOW, L_WRIST, L_HIP))


def _angle_to(vector: np.ndarray, direction: np.ndarray) -> float:
    length = max(float(np.linalg.norm(vector)), 1e-6)
    return float(np.arccos(np.clip(vector @ direction / length, -1.0, 1.0)))


def _outermost_bone(
    levels: np.ndarray, heights: np.ndarray, sides: np.ndarray, half_width: float
) -> np.ndarray:
    """At each of ``levels`` (heights down the torso), how far out the chain of joints at
    ``heights`` / ``sides`` (outward distance) reaches, its bones ``half_width`` thick;
    -inf where no bone is."""
    reach = np.full(len(levels), -np.inf)
    for bone in range(len(heights) - 1):
        (h0, h1), (s0, s1) = heights[bone : bone + 2], sides[bone : bone + 2]
        on = (levels >= min(h0, h1) - half_width) & (levels <= max(h0, h1) + half_width)
        if abs(h1 - h0) > 1.0:
            along = s0 + np.clip((levels - h0) / (h1 - h0), 0.0, 1.0) * (s1 - s0)
        else:  # a level bone: all of it lies at its height
            along = np.full(len(levels), max(s0, s1))
        reach = np.where(on, np.maximum(reach, along), reach)
    return reach


def beyond_hanging_arms(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxW bool, what lies farther out from the torso's axis than a hanging arm and the torso.

    An arm hanging at the side is, with the torso, the body's outermost part from the
    shoulder down to the hand: a bulky jacket or a space suit that reaches beyond both is
    cloth, not body, so it is background under a slimmer garment however deep inside the
    person mask it lies. An arm hangs when its upper arm lies within :data:`HANGING` of the
    torso's down direction and its forearm is not raised (:data:`RAISED`: a cameraman's arms
    lifted to the camera leave his back beside them, which is body: the arm does not count).
    From the shoulder down to the hand below the wrist the edge is, at each height, the
    farther of the arm's bones (plus the bare arm's half width, :data:`BARE_BODY`) and the
    torso's side (shoulder to hip, plus its margin). Only joints inside the image count (an
    arm the photo does not show is a guess).
    """
    points, width = complete_points(keypoints)
    neck, down = torso_axis(points)
    across = np.array([-down[1], down[0]])
    height_of, side_of = along(size, neck, down), along(size, neck, across)
    arm_half = BARE_BODY.arm_width * width
    beyond = np.zeros(size, bool)

    def shown(index: int) -> bool:
        x, y = points[index]
        return bool(np.isfinite(points[index]).all() and 0 <= x < size[1] and 0 <= y < size[0])

    for shoulder, elbow, wrist, hip in ARMS:
        if not (shown(shoulder) and shown(elbow)):
            continue
        if _angle_to(points[elbow] - points[shoulder], down) > HANGING:
            continue
        chain = [shoulder, elbow] + ([wrist] if shown(wrist) else [])
        if len(chain) == 3 and _angle_to(points[wrist] - points[elbow], down) > RAISED:
            continue
        joints = points[chain] - neck
        heights, sides = joints @ down, joints @ across
        outward = 1.0 if sides[0] >= 0 else -1.0
        hand = BARE_BODY.hand_length * float(np.linalg.norm(joints[-1] - joints[-2]))
        hand *= len(chain) == 3  # the hand hangs below the wrist, beside the hip
        levels = np.arange(np.floor(heights.min()), np.ceil(heights.max() + hand) + 1.0)
        arm = _outermost_bone(levels, heights, outward * sides, arm_half)
        ends = points[[shoulder, hip]] - neck
        torso_t = np.clip((levels - ends[0] @ down) / max((ends[1] - ends[0]) @ down, 1.0), 0, 1)
        torso = outward * (ends[0] @ across + torso_t * ((ends[1] - ends[0]) @ across))
        edge = np.maximum(arm + arm_half, torso + BARE_BODY.torso_margin * width)
        index = np.round(height_of - levels[0]).astype(np.int64)
        between = (index >= 0) & (index < len(levels))
        limit = edge.astype(np.float32)[np.clip(index, 0, len(levels) - 1)]
        beyond |= between & (outward * side_of > limit)
    return beyond


def face_guard(keypoints: np.ndarray, size: tuple[int, int], fade: float) -> np.ndarray:
    """HxW float32: 0 on the face box, rising linearly to 1 over ``fade`` pixels off it."""
    face = face_mask(keypoints, size)
    if not face.any():
        return np.ones(size, np.float32)
    distance = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 3)
    return np.clip(distance / max(fade, 1.0), 0.0, 1.0).astype(np.float32)


SHADING_RANGE = (0.55, 1.3)
PRINT_CHROMATICITY = 0.05  # farther from the garment's own rgb chromaticity: print, not light
ALBEDO_RANGE = (0.4, 1.8)  # brightness ratios to the garment's median beyond it: not light
DARK_SUM = 60  # r + g + b below it: chromaticity is noise, only the brightness is checked
COARSE_SCALE = 4.0  # the coarse shading's sigma over the fine one's
COARSE_WEIGHT = 0.1  # support below which the fine shading gives way to the coarse one
SHADING_SIZE = 1024  # long side above which the shading is computed on a shrunk copy


def wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of ``sigma`` computed at the size where sigma is 4 pixels (when that
    is smaller): a 50-pixel blur of a 2000-pixel photo costs what a 4-pixel one does."""
    height, width = image.shape[:2]
    scale = min(1.0, 4.0 / sigma)
    if scale == 1.0:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.GaussianBlur(cv2.resize(image, size, interpolation=cv2.INTER_AREA), (0, 0), 4.0)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def light_pixels(photo: np.ndarray, region: np.ndarray) -> np.ndarray:
    """HxW bool: the pixels of ``region`` whose colour differs from the garment's only by light.

    A badge, a name tag, a printed logo or a white shirt under an open jacket is albedo: its
    chromaticity (r, g, b over their sum, unchanged by brighter or dimmer light) lies more
    than :data:`PRINT_CHROMATICITY` from the region's median, or its brightness outside
    :data:`ALBEDO_RANGE` of the region's median. A region that is all print (fewer than a
    tenth of its pixels pass) counts whole.
    """
    pixels = photo.astype(np.float32)
    total = pixels.sum(axis=-1)
    chroma = pixels / np.maximum(total, 1.0)[..., None]
    bright = region & (total >= DARK_SUM)
    reference = np.median(chroma[bright], axis=0) if bright.any() else np.full(3, 1 / 3)
    same_colour = np.abs(chroma - reference).max(axis=-1) <= PRINT_CHROMATICITY
    same_colour |= total < DARK_SUM
    ratio = total / max(float(np.median(total[region])), 1.0)
    lit = region & same_colour & (ratio >= ALBEDO_RANGE[0]) & (ratio <= ALBEDO_RANGE[1])
    return lit if lit.sum() >= 0.1 * region.sum() else region


def shading_field(
    photo: np.ndarray, region: np.ndarray, sigma: float, strength: float
) -> np.ndarray:
    """HxW float32 light multiplier from ``region``'s smoothed brightness (1 off the region).

    Normalised convolution over the region's :func:`light_pixels` only (the background's
    brightness never leaks in, and a white badge on an orange suit is no highlight: printed
    on the new garment it would be a ghost of the old one), relative to their median; where
    those pixels are too sparse for ``sigma`` (inside a large badge) a
    :data:`COARSE_SCALE` times wider blur stands in. Clipped to :data:`SHADING_RANGE`, mixed
    with 1 by ``strength``; it fades to 1 over ``sigma`` outside the region. A photo longer
    than :data:`SHADING_SIZE` is lit from a copy shrunk to it (the field is smooth over
    ``sigma``, 0.8 % of the long side by default; on a 9-megapixel photo it took 3.4 s).
    """
    if strength <= 0 or not region.any():
        return np.ones(region.shape, np.float32)
    height, width = region.shape
    factor = SHADING_SIZE / max(height, width)
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        small_photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        small_region = cv2.resize(region.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        field = shading_field(small_photo, small_region > 0.5, sigma * factor, strength)
        return cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    weight = light_pixels(photo, region).astype(np.float32)
    total = cv2.GaussianBlur(grey * weight, (0, 0), sigma)
    support = cv2.GaussianBlur(weight, (0, 0), sigma)
    coarse_total = wide_blur(grey * weight, COARSE_SCALE * sigma)
    coarse_support = wide_blur(weight, COARSE_SCALE * sigma)
    median = max(float(np.median(grey[weight > 0])), 1.0)
    coarse = np.where(
        coarse_support > 1e-3, coarse_total / np.maximum(coarse_support, 1e-3), median
    )
    smooth = (total + COARSE_WEIGHT * coarse) / (support + COARSE_WEIGHT)
    relative = np.clip(smooth / median, *SHADING_RANGE)
    near = cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigma)
    reach = np.clip(near * 2.0, 0.0, 1.0)  # 1 on the region, fading off it
    return (1.0 + strength * reach * (relative - 1.0)).astype(np.float32)


FLANK_REACH = 0.2  # shoulder widths beside the new garment's torso piece
ARMPITS = 0.3  # of the way from the shoulders down to the hips: a top's cut is its own above


def garment_flanks(
    bare_torso: np.ndarray,
    alpha: np.ndarray,
    torso_piece: np.ndarray,
    keypoints: np.ndarray,
    labels: np.ndarray,
) -> np.ndarray:
    """HxW bool, the old garment on the torso beside the new garment's torso piece, which the
    new garment covers.

    Under a top the body's flanks are the top's. The bare body's torso (the shoulder-hip
    quadrilateral and its margin) is wider than a garment sized to the chest, and the old
    suit left between the two was painted as two strips of bare skin down the sides of a
    T-shirt (Obama, Biden). ``bare_torso`` (old garment on the torso's outline, off the bare
    arms, not in front, not real skin) within :data:`FLANK_REACH` shoulder widths of the
    torso piece, farther out from the torso's axis than the piece reaches at its height (the
    neckline between the piece's two edges stays open), below the armpits (:data:`ARMPITS`:
    a tank top's narrow shoulders are its cut) and above its hem (:func:`below_hem`) is
    flank.
    """
    worn = torso_piece & (alpha >= 0.5)
    flank = np.zeros(alpha.shape, bool)
    if not worn.any() or not bare_torso.any():
        return flank
    points, width = complete_points(keypoints)
    near = dilate(worn, max(1, round(FLANK_REACH * width)))
    candidates = bare_torso & (alpha < 0.5) & near & ~below_hem(keypoints, alpha, labels)
    neck, down = torso_axis(points)
    across = np.array([-down[1], down[0]])

    def axis_coordinates(mask: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
        # Only the pixels asked about: two full-size projections cost more than the rest.
        at = np.nonzero(mask)
        offset = np.stack([at[1] - neck[0], at[0] - neck[1]], axis=1)
        return at, np.round(offset @ down).astype(np.int64), offset @ across

    _, worn_height, worn_side = axis_coordinates(worn)
    at, height, side = axis_coordinates(candidates)
    low = min(int(worn_height.min()), int(height.min()) if height.size else 0)
    levels = max(int(worn_height.max()), int(height.max()) if height.size else 0) - low + 1
    inner, outer = np.full(levels, np.inf), np.full(levels, -np.inf)
    np.minimum.at(inner, worn_height - low, worn_side)
    np.maximum.at(outer, worn_height - low, worn_side)
    level = height - low
    beyond = (side < inner[level]) | (side > outer[level])  # never, at a height not worn
    shoulders = float((points[[R_SHOULDER, L_SHOULDER]].mean(axis=0) - neck) @ down)
    hips = float((points[[R_HIP, L_HIP]].mean(axis=0) - neck) @ down)
    below_armpits = height > shoulders + ARMPITS * (hips - shoulders)
    keep = np.isfinite(inner[level]) & beyond & below_armpits
    flank[at[0][keep], at[1][keep]] = True
    return flank


def carried_garment(
    image: np.ndarray, alpha: np.ndarray, where: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The fitted garment's ``image`` and ``alpha`` carried over ``where``: alpha 1 there, and
    the garment's own pixels mirrored across its edge (:func:`background_plate` on the
    garment: its weave goes on) where it showed none."""
    if not where.any():
        return image, alpha
    return background_plate(image, alpha < 0.5, where), np.where(where, 1.0, alpha).astype(
        np.float32
    )


def uncovered_old_garment(
    old: np.ndarray,
    bare: np.ndarray,
    alpha: np.ndarray,
    labels: np.ndarray,
    arms: np.ndarray,
    keypoints: np.ndarray,
    real_skin: np.ndarray,
    body: BareBody,
    guard: np.ndarray,
    deep: np.ndarray,
) -> np.ndarray:
    """HxW bool, the old garment the new one leaves bare that is to be re-synthesised.

    ``arms``: the arms the photo shows (the part labels' arms and the forearms
    :func:`reach_hands` moved).

    Not the legs (what a jacket shares in colour with the trousers is not skin), nor below
    the new garment's hem, nor what already looks like skin (``real_skin``), nor ``deep``
    inside the person off the bare body's outline (the back of a figure in profile: an
    inpainted plate there would leave a ghost). Layering: bare old garment off the arms
    joined to a collar reaching into the face box (``guard`` < 1), or to a garment worn
    under it (a shirt the old jacket was open over: bare torso, inside the outline, not
    skin), keeps its pixels too: what shows in the new neckline is the shirt and tie, not
    skin painted up to the box's straight edge or between the shirt's halves.
    """
    uncovered = old & (alpha < 0.5) & ~np.isin(labels, LEG_PARTS)
    uncovered &= ~below_hem(keypoints, alpha, labels) & ~real_skin
    uncovered &= body.outline | ~deep
    under = bare & (labels == TORSO_PART) & body.outline & deep & ~real_skin
    anchor = (guard < 1) | dilate(under, 1)
    return uncovered & ~touching(uncovered & ~arms, anchor)


CRUMB_AREA = 0.002  # square shoulder widths: a piece of the photo smaller than this is a crumb


def crumbs(shown: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """HxW bool, the pieces of ``shown`` (where the photo's pixels would stay) smaller than
    :data:`CRUMB_AREA`.

    The old garment's region leaves out its badges' white borders, piping and buttons, and
    once the garment around them is re-synthesised they stood alone: a dashed white line in
    the skin painted on the astronaut's arm. A piece enclosed by painted pixels and the new
    garment is part of what was painted over; the background, the head, a hand or a watch
    are large pieces (the background is one piece with everything off the person).
    """
    _, width = complete_points(keypoints)
    _, pieces, stats, _ = cv2.connectedComponentsWithStats(shown.astype(np.uint8), 8)
    small = stats[:, cv2.CC_STAT_AREA] < CRUMB_AREA * width**2
    small[0] = False
    return small[pieces]


def enclosed_by(pieces: np.ndarray, around: np.ndarray) -> np.ndarray:
    """HxW bool, the pieces of ``pieces`` more than half of whose one-pixel ring is ``around``."""
    count, labels = cv2.connectedComponents(pieces.astype(np.uint8), connectivity=8)
    # Each ring pixel belongs to the piece next to it (pieces never touch: they are apart).
    owner = cv2.dilate(labels.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int64)
    ring = (owner > 0) & ~pieces
    votes = np.bincount(owner[ring], weights=around[ring], minlength=count)
    share = votes / np.maximum(np.bincount(owner[ring], minlength=count), 1)
    share[0] = 0.0
    return (share > 0.5)[labels]


def silhouette_rim(
    backdrop: np.ndarray, person: np.ndarray, inside: np.ndarray, keep: np.ndarray, reach: float
) -> np.ndarray:
    """HxW bool, the band along the person mask's edge beside old garment painted as background.

    A garment region stops a few pixels short of the person mask's edge (a parser at 256 px,
    a GrabCut border), and the mask itself a few pixels short of a dark jacket's edge, so
    painting a loose jacket's outline as background left its last pixels standing: a dark
    contour of the old silhouette around the new one. The band is every pixel less than
    ``reach`` px from the mask's edge, on either side, within ``reach`` of ``backdrop``, less
    ``keep`` (head, the bare body, the new garment). ``inside``: the person pixels' distance
    to the mask's edge (the caller has it already).
    """
    if reach < 1 or not backdrop.any():
        return np.zeros(backdrop.shape, bool)
    outside = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 3)
    band = np.where(person, inside, outside) <= reach
    return band & ~keep & dilate(backdrop, round(reach))


def nearer_garment_than_backdrop(
    pixels: np.ndarray, plate: np.ndarray, garment: np.ndarray
) -> np.ndarray:
    """(N,) bool: which of the (N, 3) ``pixels`` lie nearer in colour to the old garment
    (the median of its (M, 3) ``garment`` pixels) than to the background ``plate`` puts
    behind them.

    Off the person mask the rim is the jacket's last pixels only where they look like the
    jacket; the real background there keeps its pixels (a mirrored plate is close to it, but
    never equal).
    """
    if not len(garment) or not len(pixels):
        return np.zeros(len(pixels), bool)
    pixels = pixels.astype(np.float32)
    to_garment = np.abs(pixels - np.median(garment, axis=0)).sum(axis=-1)
    return to_garment < np.abs(pixels - plate.astype(np.float32)).sum(axis=-1)


STRAY_FRACTION = 0.003  # of the largest piece on a known backdrop: smaller ones are strays
STRAY_LEVEL = 6  # grey levels off the backdrop that count as something drawn on it


def stray_pieces(drawn: np.ndarray) -> np.ndarray:
    """HxW bool: the pieces of ``drawn`` smaller than :data:`STRAY_FRACTION` of the largest.

    On the catalog view's studio backdrop the old garment leaves crumbs where it is painted
    away: a fleck of the canonical view that no garment region reached, a sleeve's edge cut
    off from the body. Each is a speck of colour on an empty backdrop.
    """
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(drawn.astype(np.uint8), 8)
    if count <= 2:
        return np.zeros(drawn.shape, bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return np.concatenate([[False], areas < STRAY_FRACTION * areas.max()])[pieces]


HAND_REACH = 0.6  # shoulder widths round a wrist: a hand, and the keypoint's error on it
MIN_HAND_AREA = 0.005  # square shoulder widths: smaller skin-coloured specks are not a hand


def hands(skin: np.ndarray, keypoints: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """HxW bool, the shopper's real skin (``skin``) within :data:`HAND_REACH` of a wrist.

    COCO-18 has no hand points, so fingers tucked beside a crossed arm fall outside the
    forearm's part and the new garment's torso piece covered them, cutting the hand at its
    edge; they stay in front of it. In a grey photo every grey pixel "looks like skin", so
    there (:func:`~tryon.pipeline.resynthesis.has_skin_hue`) none are taken; nor specks
    smaller than :data:`MIN_HAND_AREA` (a medal ribbon, the rim of a helmet).
    """
    near = np.zeros(skin.shape, np.uint8)
    if not has_skin_hue(colour):
        return near.astype(bool)
    points, width = complete_points(keypoints)
    for wrist in (R_WRIST, L_WRIST):
        if np.isfinite(points[wrist]).all():
            centre = tuple(int(v) for v in np.round(points[wrist]))
            cv2.circle(near, centre, max(1, round(HAND_REACH * width)), 1, -1)
    found = (skin & (near > 0)).astype(np.uint8)
    _, pieces, stats, _ = cv2.connectedComponentsWithStats(found, 8)
    large = stats[:, cv2.CC_STAT_AREA] >= MIN_HAND_AREA * width**2
    large[0] = False
    return large[pieces]


HAND_BEND = np.deg2rad(60.0)  # a hand continues its forearm, bent at the wrist by at most this


FOREARMS = ((R_ELBOW, R_WRIST, PART_NAMES.index("right_forearm")),
            (L_ELBOW, L_WRIST, PART_NAMES.index("left_forearm")))  # fmt: skip


def reach_hands(keypoints: np.ndarray, hand: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(18, 2) keypoints with each wrist moved onto the shopper's real hand next to it.

    BlazePose often puts the wrist of a forearm hidden in crossed arms on the other forearm
    (Obama's right wrist lies on his left forearm, his hand 230 px away on the left
    biceps), and a bare forearm painted from elbow to that wrist lies on the other one while
    the real hand floats beside it. Each wrist moves to the pixel nearest the elbow of the
    nearest piece of ``hand`` (:func:`hands`: real skin near a wrist) that lies within
    :data:`HAND_REACH` of it, no nearer to the other wrist, and onwards from the wrist within
    :data:`HAND_BEND` of its forearm's direction (the other hand, lying on the forearm
    itself, and the chest in a neckline beside the wrist are not its hand); a wrist on its
    hand stays where it is, and so does the wrist of a forearm the part ``labels`` do not
    show (an arm completed beyond the frame is a guess).
    """
    moved = np.array(keypoints, np.float32, copy=True)
    count, pieces = cv2.connectedComponents(hand.astype(np.uint8), connectivity=8)
    shown = set(np.unique(labels).tolist())
    arms = [(e, w) for e, w, part in FOREARMS if part in shown]
    arms = [(e, w) for e, w in arms if np.isfinite(keypoints[[e, w]]).all()]
    if count <= 1 or not arms:
        return moved
    _, width = complete_points(keypoints)
    rows, cols = np.nonzero(pieces)
    pixels, piece_of = np.stack([cols, rows], axis=1).astype(np.float32), pieces[rows, cols]
    on_piece = [piece_of == piece for piece in range(1, count)]
    nearest = {}  # wrist -> per piece (distance, pixel index) of its nearest pixel
    for _, wrist in arms:
        distance = np.hypot(*(pixels - keypoints[wrist]).T)
        at = [int(np.argmin(np.where(on, distance, np.inf))) for on in on_piece]
        nearest[wrist] = [(float(distance[i]), i) for i in at]
    for elbow, wrist in arms:
        forearm = keypoints[wrist] - keypoints[elbow]
        forearm = forearm / max(float(np.linalg.norm(forearm)), 1e-6)
        best, best_distance = None, HAND_REACH * width
        for piece, (distance, index) in enumerate(nearest[wrist]):
            onward = (pixels[index] - keypoints[wrist]) @ forearm
            ahead = distance == 0 or onward >= np.cos(HAND_BEND) * distance
            theirs = any(nearest[other][piece][0] < distance for other in nearest if other != wrist)
            if distance <= best_distance and ahead and not theirs:
                best, best_distance = piece, distance
        if best is not None and best_distance > 0:  # the forearm joins the hand nearest the elbow
            to_elbow = np.hypot(*(pixels - keypoints[elbow]).T)
            moved[wrist] = pixels[int(np.argmin(np.where(on_piece[best], to_elbow, np.inf)))]
    return moved


def reached_forearms(keypoints: np.ndarray, moved: np.ndarray, body: BareBody) -> np.ndarray:
    """HxW bool, the bare forearms (of ``body``, drawn on ``moved``) whose wrists
    :func:`reach_hands` moved: arms the part labels do not place there."""
    reached = np.zeros(body.arms.shape, np.uint8)
    _, width = complete_points(moved)
    thickness = max(1, round(4 * BARE_BODY.arm_width * width))  # wider than the bare arm
    for elbow, wrist, _ in FOREARMS:
        if np.isfinite(moved[wrist]).all() and not np.array_equal(moved[wrist], keypoints[wrist]):
            ends = [tuple(int(v) for v in np.round(moved[i])) for i in (elbow, wrist)]
            cv2.line(reached, ends[0], ends[1], 1, thickness)
    return (reached > 0) & body.arms


def compose_own_view(
    photo: np.ndarray,
    keypoints: np.ndarray,
    person_mask: np.ndarray,
    person_labels: np.ndarray,
    old_garment: np.ndarray,
    garment: FittedGarment,
    config: OwnViewConfig | None = None,
    long_side: int | None = None,
    backdrop: np.ndarray | None = None,
) -> OwnViewLayers:
    """Dress the shopper in the fitted garment in their own photo (see the module docstring).

    Args:
        photo: HxWx3 uint8 RGB.
        keypoints: (18, 2) the shopper's keypoints.
        person_mask: HxW bool.
        person_labels: HxW int8 body part per person pixel (:func:`hpn.part_warp.source_labels`).
        old_garment: HxW bool region of the garment being replaced.
        garment: the new garment fitted to ``keypoints`` at the photo's size.
        config: spill, feather, re-synthesis.
        long_side: the long side the config's fractions refer to (default: the photo's; a
            crop of a larger photo passes the whole photo's).
        backdrop: HxWx3 the background behind the person when it is known (the catalog
            view's studio backdrop): it is painted where the old garment stood off the body,
            and off the person mask the whole rim is repainted (its soft outline blends the
            old garment into the backdrop); None: a photo's, mirrored from beside the person.

    Returns:
        :class:`OwnViewLayers`.
    """
    config = config or OwnViewConfig()
    size = photo.shape[:2]
    long_side = long_side or max(size)
    person = person_mask.astype(bool)
    old = old_garment.astype(bool) & person
    alpha = garment.alpha * dilate(person, round(config.spill * long_side))
    bare = person & ~old
    head = bare & (person_labels == HEAD_PART)
    colour = skin_colour(photo, keypoints, bare & ~(person_labels == TORSO_PART))
    real_skin = looks_like_skin(photo, colour)
    hand = hands(bare & real_skin, keypoints, colour) & ~head
    # The bare body is painted with its forearms reaching the real hands (reach_hands).
    reaching = reach_hands(keypoints, hand, person_labels)
    body = bare_body(reaching, size)
    reached = reached_forearms(keypoints, reaching, body)
    # An arm held over the body stays in front of the new garment's torso piece: bare, or
    # where its old sleeve lies on the bare arm's outline (that sleeve becomes skin below);
    # the rest of a wide sleeve shows the new garment behind the arm.
    # So does a hand lying on the body; a new sleeve covers what was a bare wrist.
    torso_piece = garment.part == TORSO_PART
    arm_labels = np.isin(person_labels, ARM_PARTS) | reached
    arms = person & arm_labels & torso_piece
    front = head | (arms & (bare | body.arms)) | (hand & torso_piece)
    alpha = np.where(front, 0.0, alpha).astype(np.float32)
    bare_torso = old & ~front & (person_labels == TORSO_PART) & body.outline & ~body.arms
    flank = garment_flanks(bare_torso & ~real_skin, alpha, torso_piece, keypoints, person_labels)
    garment_image, alpha = carried_garment(garment.image, alpha, flank)
    sigma = config.feather * long_side
    if sigma > 0.3:
        alpha = np.where(front, 0.0, cv2.GaussianBlur(alpha, (0, 0), sigma)).astype(np.float32)
    guard = face_guard(keypoints, size, config.face_fade * long_side)
    alpha = (alpha * guard).astype(np.float32)
    # Deep inside the person mask lies body the keypoints may not describe (module docstring).
    inside = cv2.distanceTransform(person.astype(np.uint8), cv2.DIST_L2, 3)
    deep = (inside > config.plate_reach * long_side) & ~beyond_hanging_arms(keypoints, size)
    uncovered = uncovered_old_garment(
        old, bare, alpha, person_labels, arm_labels, keypoints, real_skin, body, guard, deep
    )
    crumb = crumbs(~uncovered & (alpha < 0.5), keypoints) & (guard >= 1)
    inside_garment = crumb & enclosed_by(crumb, alpha >= 0.5)
    if inside_garment.any():  # a fleck of the old shirt in the new garment: the garment's,
        # with the soft edge the hole left round it, or a faint ring of the fleck stays
        filled = dilate(inside_garment, max(1, round(3 * sigma))) & (alpha >= 0.5)
        garment_image, alpha = carried_garment(garment_image, alpha, inside_garment | filled)
    uncovered |= crumb & ~inside_garment
    # The rim is background beyond the bare body: the head, the body's outline (skin painted
    # or real) and the new garment keep theirs (a region stopping short of the mask leaves
    # "bare" arm pixels there, and in a grey photo every pixel "looks like skin").
    keep = head | body.outline | (guard < 1) | (alpha >= 0.5) | np.isin(person_labels, LEG_PARTS)
    rim = silhouette_rim(
        uncovered & ~body.outline, person, inside, keep, config.rim_reach * long_side
    )
    if backdrop is not None:
        plate = np.clip(np.round(backdrop), 0, 255).astype(np.uint8)
        uncovered |= rim
    else:
        # The plate is needed where background may be painted: off the bare body, near them.
        near = dilate(uncovered | rim, max(2, round(3 * sigma)) + 1) & ~body.outline
        plate = background_plate(photo, person | rim, near) if config.resynthesise else photo
        outside = rim & ~person
        uncovered |= rim & person
        uncovered[outside] = nearer_garment_than_backdrop(
            photo[outside], plate[outside], photo[old]
        )
    light = shading_field(photo, old, config.shading_blur * long_side, config.shading)[..., None]
    grain = grain_level(photo, keypoints)
    base = photo.astype(np.float32)
    if config.resynthesise and uncovered.any():
        # Under the new garment's soft edge next to them the same fill is painted too: the
        # old garment showing through that edge would draw a rim of its colour.
        edge = old & (alpha > 0) & (alpha < 1) & ~uncovered
        paint = uncovered | (edge & dilate(uncovered, max(2, round(3 * sigma))))
        skin = paint & body.outline
        if skin.any():
            reach = round(config.skin_reach * long_side)
            nearby = nearby_skin_colour(photo, skin, bare & real_skin & (guard > 0), reach)
            fill = shadowed_skin_colour(colour, nearby)
            side_light = light_from_face(photo, keypoints)
            shaded = shaded_skin(body.roundness, fill, grain, body.sideways, side_light)
            base[skin] = shaded[skin]
        off_body = paint & ~body.outline
        if off_body.any():
            base[off_body] = plate[off_body]
        base = soften_seams(base, uncovered, config.seam_width * long_side)
    lit = garment_image.astype(np.float32) * light
    if backdrop is None:  # a photo's grain; the catalog view's studio canvas is clean
        lit += camera_grain(size, missing_grain(lit, alpha > 0.5, grain))[..., None]
    mixed = alpha[..., None] * lit + (1 - alpha[..., None]) * base
    image = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    untouched = (alpha <= 0) & ~uncovered
    image[untouched] = photo[untouched]
    if backdrop is not None:
        strays = stray_pieces(np.abs(image.astype(np.int16) - plate).max(axis=-1) > STRAY_LEVEL)
        image[strays], uncovered = plate[strays], uncovered | strays
    return OwnViewLayers(image=image, alpha=alpha, uncovered=uncovered, kept_in_front=front)
