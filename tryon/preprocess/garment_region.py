"""Where the shopper's upper garment is, on a real photo, without a network; and its check.

The classical region starts from what is reliable on real photos (BlazePose's keypoints and
person mask) and lets the photo's colours settle the outline:

1. a prior from keypoint geometry (:func:`~.body_geometry.upper_clothes_region`, sleeves to
   the wrist since the old garment may be long-sleeved), cut to the person mask;
2. GrabCut seeded with the torso's core as sure garment, the prior as probable garment, the
   face box, the hands and the rest of the person as probable non-garment, and everything
   off the person as sure background;
3. the result cut to the person mask, the part connected to the torso core, its enclosed
   holes (a logo, a patch) filled.

:func:`region_plausibility` scores any region with DATA.md's measures (share on the dilated
person mask, share of the torso covered, share of the face box covered); the pipeline uses it
to decide whether to trust a parser's region or fall back to this one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.keypoints import scale_keypoints, validate_keypoints
from tryon.preprocess.body_boxes import face_mask, torso_mask, torso_polygon
from tryon.preprocess.body_geometry import GarmentGeometry, upper_clothes_region
from tryon.preprocess.garment_mask import GRABCUT_SEED, fill_holes

R_WRIST, L_WRIST, R_ELBOW, L_ELBOW = 4, 7, 3, 6


@dataclass(frozen=True)
class ClassicalRegionConfig:
    """Knobs of :func:`classical_garment_region`.

    Attributes:
        working_size: longest side the photo is reduced to for GrabCut.
        core_shrink: the torso polygon shrunk towards its centre by this fraction is sure
            garment.
        hand_radius: radius of the hand seeds around the wrists, in shoulder widths.
        grabcut_iterations: GrabCut iterations.
    """

    working_size: int = 192
    core_shrink: float = 0.35
    hand_radius: float = 0.22
    grabcut_iterations: int = 3


@dataclass(frozen=True)
class RegionScores:
    """DATA.md's plausibility measures of a garment region (fractions in [0, 1]).

    Attributes:
        on_person: share of the region's pixels on the person mask dilated by 2 % of the
            photo's long side.
        torso_covered: share of the torso polygon the region covers.
        face_covered: share of the face box the region covers (0 when there is no face).
    """

    on_person: float
    torso_covered: float
    face_covered: float

    def plausible(self, on_person: float = 0.95, torso: float = 0.6, face: float = 0.05) -> bool:
        """Whether the region passes the given thresholds (the issue's acceptance values)."""
        enough = self.on_person >= on_person and self.torso_covered >= torso
        return enough and self.face_covered <= face


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Bool mask grown by ``radius`` pixels (square structuring element: fast at any size)."""
    if radius <= 0:
        return mask.astype(bool)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def region_plausibility(
    region: np.ndarray, keypoints: np.ndarray, person_mask: np.ndarray
) -> RegionScores:
    """Score a garment region against the person mask, the torso and the face box."""
    size = region.shape
    if person_mask.shape != size:
        raise ValueError(f"region {size} and person mask {person_mask.shape} differ in size")
    region = region.astype(bool)
    total = int(region.sum())
    near_person = dilate(person_mask, max(1, round(0.02 * max(size))))
    torso, face = torso_mask(keypoints, size), face_mask(keypoints, size)
    return RegionScores(
        on_person=float((region & near_person).sum() / total) if total else 0.0,
        torso_covered=float((region & torso).sum() / torso.sum()) if torso.any() else 0.0,
        face_covered=float((region & face).sum() / face.sum()) if face.any() else 0.0,
    )


def classical_garment_region(
    photo: np.ndarray,
    keypoints: np.ndarray,
    person_mask: np.ndarray,
    config: ClassicalRegionConfig | None = None,
) -> np.ndarray:
    """The upper garment's pixels on a photo (see the module docstring).

    Args:
        photo: HxWx3 uint8 RGB.
        keypoints: (18, 2) pixel (x, y) of the person, NaN missing; shoulders required.
        person_mask: HxW bool person mask.
        config: GrabCut and seed settings.

    Returns:
        HxW bool, a subset of ``person_mask``; empty when the photo shows no torso.
    """
    config = config or ClassicalRegionConfig()
    keypoints = validate_keypoints(keypoints)
    height, width = photo.shape[:2]
    factor = min(1.0, config.working_size / max(height, width))
    small_size = (max(1, round(height * factor)), max(1, round(width * factor)))
    small = cv2.resize(photo, small_size[::-1], interpolation=cv2.INTER_AREA)
    points = scale_keypoints(keypoints, (height, width), small_size)
    person = cv2.resize(person_mask.astype(np.uint8), small_size[::-1], cv2.INTER_NEAREST) > 0
    polygon = torso_polygon(points)
    if polygon is None or not person.any():
        return np.zeros((height, width), bool)
    seeds = _seeds(points, person, polygon, small_size, config)
    if not (seeds == cv2.GC_FGD).any():
        return np.zeros((height, width), bool)
    labels = seeds.copy()
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(GRABCUT_SEED)  # GrabCut's k-means start is random: same input, same mask
    cv2.grabCut(
        cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
        labels,
        None,
        *models,
        config.grabcut_iterations,
        cv2.GC_INIT_WITH_MASK,
    )
    garment = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)) & person
    garment = fill_holes(touching(garment, seeds == cv2.GC_FGD))
    soft = cv2.GaussianBlur(garment.astype(np.float32), (0, 0), 0.7)
    full = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
    return full & person_mask.astype(bool)


def _seeds(
    points: np.ndarray,
    person: np.ndarray,
    polygon: np.ndarray,
    size: tuple[int, int],
    config: ClassicalRegionConfig,
) -> np.ndarray:
    """GrabCut's initial labels (see the module docstring)."""
    prior = upper_clothes_region(points, size, GarmentGeometry(sleeve_length=2.0)) & person
    seeds = np.full(size, cv2.GC_BGD, np.uint8)
    seeds[person] = cv2.GC_PR_BGD
    seeds[prior] = cv2.GC_PR_FGD
    centre = polygon.mean(axis=0)
    core = centre + (polygon - centre) * (1.0 - config.core_shrink)
    core_mask = np.zeros(size, np.uint8)
    cv2.fillPoly(core_mask, [np.round(core).astype(np.int32)], 1)
    not_garment = face_mask(points, size)
    shoulder_width = float(np.linalg.norm(polygon[1] - polygon[0]))
    radius = max(1, round(config.hand_radius * shoulder_width))
    for wrist, elbow in ((R_WRIST, R_ELBOW), (L_WRIST, L_ELBOW)):
        if np.isfinite(points[wrist]).all():
            hand = points[wrist]
            if np.isfinite(points[elbow]).all():  # the hand lies beyond the wrist
                hand = hand + 0.35 * (points[wrist] - points[elbow])
            disc = np.zeros(size, np.uint8)
            cv2.circle(disc, tuple(np.round(hand).astype(int).tolist()), radius, 1, -1)
            not_garment |= disc > 0
    seeds[not_garment & person] = cv2.GC_PR_BGD
    seeds[_inner_face(points, size)] = cv2.GC_BGD  # cheeks and nose: surely not the garment
    seeds[(core_mask > 0) & person & ~not_garment] = cv2.GC_FGD
    return seeds


def _inner_face(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The face box down to the mouth, and its inner third: hair and skin, never a collar.

    The box's lower part (chin, neck) stays a probable seed only: a high collar may reach
    into it, and a hard edge there would cut the garment along a straight line.
    """
    from tryon.preprocess.body_boxes import face_box

    inner = np.zeros(size, bool)
    box = face_box(points, size)
    if box is not None:
        x0, y0, x1, y1 = box
        dx, dy = (x1 - x0) // 3, (y1 - y0) // 3
        inner[y0 : y1 - dy, x0:x1] = True
        inner[y0 + dy : y1 - dy, x0 + dx : x1 - dx] = True
    return inner


def touching(mask: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """The connected components of ``mask`` that contain an ``anchor`` pixel."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[anchor & mask])
    keep = keep[keep > 0]
    return np.isin(labels, keep) if count > 1 else mask.astype(bool)


HOLE_RING = 0.01  # of the photo's long side: the garment around a hole its colour is read on
HOLE_TOLERANCE = 18.0  # CIELAB distance (L* in its own units) to that garment colour


def close_garment_holes(
    region: np.ndarray, photo: np.ndarray, tolerance: float = HOLE_TOLERANCE
) -> np.ndarray:
    """``region`` plus the pixels of its enclosed holes that have the garment's colour.

    A parser leaves holes in a garment where it saw something else: a hand or a watch on a
    crossed arm, a shirt cuff, but also dark suit cloth it took for an arm. Left out of the
    region, that cloth is kept when the garment is replaced and shows as a dark blot inside
    a bare forearm. Each enclosed hole is compared with the garment in a ring around it
    (:data:`HOLE_RING`, the light there is the hole's light): its pixels within ``tolerance``
    of that ring's median colour are garment, the rest (skin, metal, a white cuff) stay out.
    """
    region = region.astype(bool)
    holes = fill_holes(region) & ~region
    count, components, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), 8)
    if count <= 1:
        return region
    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0  # OpenCV's 8-bit L* runs to 255; a* and b* are offset only
    ring = max(2, round(HOLE_RING * max(region.shape)))
    closed = region.copy()
    for index in range(1, count):
        x, y, w, h = stats[index, :4]
        rows = slice(max(y - ring, 0), y + h + ring)
        cols = slice(max(x - ring, 0), x + w + ring)
        hole = components[rows, cols] == index
        around = dilate(hole, ring) & region[rows, cols]
        if not around.any():
            continue
        colour = np.median(lab[rows, cols][around], axis=0)
        near = np.linalg.norm(lab[rows, cols] - colour, axis=-1) <= tolerance
        closed[rows, cols] |= hole & near
    return closed
