"""Pose transfer by moving pixels: the part warp, hole filling and a studio backdrop.

:func:`repose` moves the person of a photo into a target pose at the photo's own pixel
density: the part warp (:mod:`hpn.part_warp`) samples the photo at full resolution, the
parts of the target the photo does not show (the torso behind an arm that now hangs aside,
a seam between two parts) are filled, and everything that is not the person becomes a plain
studio backdrop (a street does not belong in a catalog view). The warp-and-refine HPN
(:mod:`hpn.warp_refine`) learns to do the filling and to correct the warp; without it the
holes are inpainted (OpenCV's Telea), each from the pixels of the part it belongs to (a
torso hole from the torso, never from the hand beside it), which is the "part warp alone"
variant.

:func:`canonical_target` chooses the canonical pose and the canvas for a photo: the person's
own canonical pose (:func:`hpn.canonical.canonical_pose`) on a canvas just large enough for
every part the photo shows (so a waist-up photo gives an upper-body view, a full-body photo a
full-body one), at the photo's scale, the neck centred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from hpn.body_parts import (
    PART_NAMES,
    Body,
    body_from_keypoints,
    label_parts,
    part_distances,
    part_maps,
)
from hpn.canonical import canonical_pose
from hpn.part_warp import (
    FitDirection,
    PartWarp,
    PartWarpConfig,
    backward_maps,
    part_warp,
    source_labels,
)

BACKDROP_TOP, BACKDROP_BOTTOM = 240.0, 222.0
FILL_SIZE = 384  # holes are inpainted at this long side
FILL_BAND = 24  # pixels (at FILL_SIZE) around a hole that Telea fills from the part itself
MIN_OWN_PIXELS = 32  # fewer known pixels of a hole's part in its band: from every part
CANVAS_MARGIN = 0.06
MAX_CANVAS_SIDE = 2048


@dataclass(frozen=True)
class Reposed:
    """A person moved to a new pose.

    Attributes:
        image: HxWx3 uint8, the person in the target pose on the studio backdrop.
        person_mask: HxW bool, where the person is (warped or filled).
        labels: HxW int8 body part of every person pixel (:data:`PART_NAMES`), -1 elsewhere.
        keypoints: (18, 2) the target pose in pixels of ``image``.
        warp: the part warp (source pixel per target pixel, its coverage).
        filled: HxW bool, person pixels no source pixel showed (filled, not copied).
    """

    image: np.ndarray
    person_mask: np.ndarray
    labels: np.ndarray
    keypoints: np.ndarray
    warp: PartWarp
    filled: np.ndarray


def studio_backdrop(size: tuple[int, int]) -> np.ndarray:
    """HxWx3 float32 light grey backdrop, a little darker towards the floor."""
    height, width = size
    ramp = np.linspace(BACKDROP_TOP, BACKDROP_BOTTOM, height, dtype=np.float32)
    return np.broadcast_to(ramp[:, None, None], (height, width, 3)).copy()


def _forward_points(
    keypoints: np.ndarray, mask: np.ndarray, labels: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """(N, 2) target positions of a sample of the person's pixels (each by its part's map)."""
    maps = part_maps(body_from_keypoints(keypoints), body_from_keypoints(target))
    step = max(1, round(max(mask.shape) / 256))
    rows, cols = np.nonzero(mask[::step, ::step])
    points = np.stack([cols, rows], axis=1).astype(np.float64) * step
    part = labels[rows * step, cols * step]
    moved = [
        points[part == index] @ maps[name][:2, :2].T + maps[name][:2, 2]
        for index, name in enumerate(PART_NAMES)
        if name in maps
    ]
    return np.concatenate(moved) if moved else np.zeros((0, 2))


def canonical_target(
    keypoints: np.ndarray,
    mask: np.ndarray,
    labels: np.ndarray,
    template: np.ndarray,
) -> tuple[np.ndarray, tuple[int, int]]:
    """The person's canonical pose and the canvas that shows what the photo shows of them.

    Args:
        keypoints: (18, 2) of the photo; mask: HxW bool person; labels: its part labels.
        template: (18, 2) the canonical pose (any scale).

    Returns:
        (18, 2) float32 target keypoints in canvas pixels, and the canvas (height, width):
        long side at most 2048 (the pose is scaled down to fit when it would be larger).
    """
    target = canonical_pose(keypoints, template, (0.0, 0.0)).astype(np.float64)
    moved = _forward_points(keypoints, mask, labels, target)
    if not len(moved):
        moved = target
    low, high = moved.min(axis=0), moved.max(axis=0)
    pad = CANVAS_MARGIN * (high - low).max()
    low, high = low - pad, high + pad
    half_width = max(-low[0], high[0])  # the neck (x = 0) in the middle
    width, height = 2 * half_width, high[1] - low[1]
    factor = min(1.0, MAX_CANVAS_SIDE / max(width, height))
    offset = np.array([half_width, -low[1]])
    target = (target + offset) * factor
    size = (max(32, round(height * factor)), max(32, round(width * factor)))
    return target.astype(np.float32), size


def _fill_region(
    coverage: np.ndarray,
    source: Body,
    target: Body,
    maps: dict[str, np.ndarray],
    source_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Where the target person should be but nothing landed (holes to fill), and the
    person's closed interior (where a partial coverage is a crack, not an outline).

    A hole is a pixel on a part both poses have (limbs, torso; not the head, whose outline
    the hair decides) whose source point lies inside the source photo (the photo shows that
    part there, something only hid it), or a gap enclosed by what landed (a seam).
    """
    size = coverage.shape
    covered = coverage > 0.5
    factor = min(1.0, FILL_SIZE / max(size))
    small = (max(1, round(size[0] * factor)), max(1, round(size[1] * factor)))
    ys, xs = np.mgrid[0 : small[0], 0 : small[1]]
    points = (np.stack([xs, ys], axis=-1) + 0.5) / factor - 0.5
    distances = part_distances(target, points)
    height, width = source_size
    inside = np.zeros(small, bool)
    for name, matrix in maps.items():
        if name == "head":
            continue
        at = points @ matrix[:2, :2].T + matrix[:2, 2]
        in_photo = (at[..., 0] >= 0) & (at[..., 0] <= width - 1)
        in_photo &= (at[..., 1] >= 0) & (at[..., 1] <= height - 1)
        inside |= (distances[name] <= 1.0) & in_photo
    inside = cv2.resize(inside.astype(np.uint8), size[::-1], cv2.INTER_NEAREST) > 0
    radius = max(1, round(0.03 * target.shoulder_width))
    closed = cv2.morphologyEx(covered.astype(np.uint8), cv2.MORPH_CLOSE, _disc(radius)) > 0
    return (inside | closed) & ~covered, closed


def holes_to_fill(
    warp: PartWarp,
    keypoints: np.ndarray,
    target_keypoints: np.ndarray,
    source_size: tuple[int, int],
    config: PartWarpConfig | None = None,
    fitted_from: FitDirection = "source",
) -> tuple[np.ndarray, np.ndarray]:
    """The holes of a part warp (person pixels no source pixel showed) and the person's
    closed interior, as :func:`repose` fills them (see :func:`_fill_region`).

    Public so that training data (:mod:`tryon.data.prior_pairs`) marks the same pixels
    invalid as the canonical view does.
    """
    config = config or PartWarpConfig()
    source = body_from_keypoints(keypoints, config.proportions)
    target = body_from_keypoints(target_keypoints, config.proportions)
    maps = backward_maps(source, target, fitted_from)
    return _fill_region(warp.coverage, source, target, maps, source_size)


def canvas_validity(coverage: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """(2, H, W) float32 validity of a canvas prior: the person coverage, and the backdrop
    (every pixel neither covered nor a hole: the studio backdrop is valid everywhere)."""
    background = (coverage <= 0) & ~holes
    return np.stack([coverage, background]).astype(np.float32)


def spread_colours(image: np.ndarray, mask: np.ndarray, steps: int = 3) -> np.ndarray:
    """``image`` with the colours of ``mask`` spread a few pixels beyond it.

    Sampling a warp near the person's outline with bilinear or bicubic weights mixes in
    the pixels just outside; spreading the person's own colours there keeps the backdrop
    (or the street) out of the person, and the coverage alone then draws the outline.
    """
    colours = image.astype(np.float32) * mask[..., None]
    weight = mask.astype(np.float32)
    for _ in range(steps):
        blurred = cv2.blur(colours, (5, 5))
        blurred_weight = cv2.blur(weight, (5, 5))
        fresh = (weight == 0) & (blurred_weight > 0)
        colours[fresh] = blurred[fresh] / blurred_weight[fresh][:, None]
        weight = np.where(fresh, 1.0, weight).astype(np.float32)
    out = image.copy()
    spread = (weight > 0) & ~mask
    out[spread] = np.clip(colours[spread], 0, 255).astype(image.dtype)
    return out


def blend_seams(image: np.ndarray, parts: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """``image`` softened (Gaussian ``sigma``) on the one-pixel seams between parts.

    Where two parts (or a part and a filled hole) meet, their pixels came from different
    places of the source; a hard step there is a seam no camera took.
    """
    codes = (parts.astype(np.int16) + 1).astype(np.uint8)  # 0 off the person
    grown = cv2.dilate(codes, np.ones((3, 3), np.uint8))
    shrunk = cv2.erode(codes, np.ones((3, 3), np.uint8))
    seams = (grown != shrunk) & (shrunk > 0)  # both sides are the person
    if not seams.any():
        return image
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    return np.where(seams[..., None], blurred, image)


def _inpaint(image: np.ndarray, holes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Telea inpainting of ``holes`` from the ``known`` pixels, at a reduced size.

    Only the person's own pixels are known (a hole next to the backdrop is filled with the
    person's colours, not the studio's), and the reduction averages known pixels only.
    The result is pasted into the holes only.
    """
    height, width = holes.shape
    small_size = _reduced_size(holes.shape, _fill_factor(holes.shape))
    colours, wholly_known = _known_colours(image, known & ~holes, small_size)
    small = np.clip(colours, 0, 255).astype(np.uint8)
    filled = cv2.inpaint(small, (~wholly_known).astype(np.uint8), 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(holes[..., None], filled, image)


def _fill_factor(size: tuple[int, int]) -> float:
    """The reduction at which holes are inpainted: long side at most :data:`FILL_SIZE`."""
    return min(1.0, FILL_SIZE / max(size))


def _reduced_size(size: tuple[int, int], factor: float) -> tuple[int, int]:
    """(width, height) of a (height, width) image reduced by ``factor``."""
    return max(1, round(size[1] * factor)), max(1, round(size[0] * factor))


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def fill_holes_by_part(
    image: np.ndarray,
    holes: np.ndarray,
    hole_parts: np.ndarray,
    known: np.ndarray,
    known_parts: np.ndarray,
) -> np.ndarray:
    """Inpaint each hole from the known pixels of its own part only.

    The torso a crossed arm hid, once the arm hangs aside, is suit, not the hand that now
    borders the hole: filled from every known pixel (:func:`_inpaint`), Telea smears the
    hand's skin across it. Per part, at the reduced size: Telea fills the hole and a band of
    :data:`FILL_BAND` pixels around it from the part's known pixels, everything beyond the
    band standing in as the nearest of them (so no other part ever borders the hole). A part
    with fewer than :data:`MIN_OWN_PIXELS` known pixels in that band (legs a table hid, an
    arm hidden whole: its own pixels elsewhere are no guess for the hole) is filled from
    every known pixel instead.
    """
    factor = _fill_factor(holes.shape)
    margin = math.ceil((FILL_BAND + 2) / factor)
    out = image.copy()
    for part in np.unique(hole_parts[holes]):
        rows, cols = np.nonzero(holes & (hole_parts == part))
        window = (
            slice(max(0, rows.min() - margin), rows.max() + margin + 1),
            slice(max(0, cols.min() - margin), cols.max() + margin + 1),
        )
        for place in (window, (slice(None), slice(None))):  # the canvas if the window is bare
            filled = _fill_part(
                out[place], holes[place], holes[place] & (hole_parts[place] == part),
                known[place], known_parts[place] == part, factor,
            )  # fmt: skip
            if filled is not None:
                out[place] = filled
                break
    return out


def _fill_part(
    image: np.ndarray,
    holes: np.ndarray,
    wanted: np.ndarray,
    known: np.ndarray,
    own: np.ndarray,
    factor: float,
) -> np.ndarray | None:
    """:func:`fill_holes_by_part` for one part in a window: ``wanted`` (its holes) filled
    from ``own`` known pixels (or from every ``known`` one), reduced by ``factor``; None
    when the window holds no known pixel at all."""
    height, width = holes.shape
    small_size = _reduced_size(holes.shape, factor)
    target = cv2.resize(wanted.astype(np.float32), small_size, cv2.INTER_AREA) > 0
    band = cv2.dilate(target.astype(np.uint8), _disc(FILL_BAND)) > 0
    colours, sources = _known_colours(image, known & ~holes & own, small_size)
    if (sources & band).sum() < MIN_OWN_PIXELS:
        colours, sources = _known_colours(image, known & ~holes, small_size)
    if not sources.any():
        return None
    _, (rows, cols) = ndimage.distance_transform_edt(~sources, return_indices=True)
    extended = np.clip(colours[rows, cols], 0, 255).astype(np.uint8)
    filled = cv2.inpaint(extended, (band & ~sources).astype(np.uint8), 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(wanted[..., None], filled, image)


def _known_colours(
    image: np.ndarray, known: np.ndarray, small_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``image`` reduced to ``small_size`` averaging ``known`` pixels only, and where the
    reduced pixels are wholly known."""
    weight = cv2.resize(known.astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    total = cv2.resize(image.astype(np.float32) * known[..., None], small_size, cv2.INTER_AREA)
    return total / np.maximum(weight, 1e-6)[..., None], weight >= 0.999


def _nearest_labels(labels: np.ndarray, known: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``labels`` extended to ``wanted`` pixels by the label of the nearest ``known`` pixel."""
    if not known.any():
        return np.where(wanted, labels, -1).astype(np.int8)
    _, (rows, cols) = ndimage.distance_transform_edt(~known, return_indices=True)
    return np.where(wanted, labels[rows, cols], -1).astype(np.int8)


def _refined(
    refiner: Any,
    colours: np.ndarray,
    warp: PartWarp,
    holes: np.ndarray,
    backdrop: np.ndarray,
    target_keypoints: np.ndarray,
    alone: np.ndarray | None,
) -> np.ndarray:
    """The learned composition: m * (corrected warp or backdrop) + (1 - m) * generated, the
    generated colours being a correction of ``alone`` (the part warp alone, given only to a
    ``fill="inpainted"`` refiner)."""
    from hpn.warp_refine import refine_canvas

    coverage = warp.coverage
    validity = canvas_validity(coverage, holes)
    background = validity[1]
    prior = (
        coverage[..., None] * warp.apply(colours, cv2.INTER_CUBIC)
        + (1 - coverage[..., None]) * backdrop
    )
    prior = np.clip(np.round(prior), 0, 255).astype(np.uint8)
    colour = tuple(float(v) for v in backdrop.reshape(-1, 3).mean(axis=0))
    refined = refine_canvas(refiner, prior, validity, target_keypoints, colour)
    generated = refined.generated
    if alone is not None:
        generated = np.clip(alone + generated, 0, 255)
    grid = warp.grid + refined.residual * (coverage[..., None] > 0)
    person = cv2.remap(
        colours, grid[..., 0], grid[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    ).astype(np.float32)
    keep_person = (refined.visibility * coverage)[..., None]
    keep_backdrop = (refined.visibility * background)[..., None]
    generated_share = 1 - keep_person - keep_backdrop
    return keep_person * person + keep_backdrop * backdrop + generated_share * generated


def repose(
    image: np.ndarray,
    keypoints: np.ndarray,
    mask: np.ndarray,
    target_keypoints: np.ndarray,
    size: tuple[int, int],
    labels: np.ndarray | None = None,
    fitted_from: FitDirection = "source",
    config: PartWarpConfig | None = None,
    refiner: Any | None = None,
    fill_by_part: bool = True,
) -> Reposed:
    """Move the person of ``image`` to ``target_keypoints`` on a ``size`` studio canvas.

    Args:
        image: HxWx3 uint8 RGB source.
        keypoints: (18, 2) its keypoints; mask: its HxW bool person mask.
        target_keypoints: (18, 2) the target pose in pixels of the output.
        size: (height, width) of the output.
        labels: the source's part labels (default: from its keypoints and mask).
        fitted_from: which pose the part maps are fitted from (see
            :func:`hpn.part_warp.backward_maps`; a round trip's way back uses "target").
        config: part warp settings.
        refiner: a trained :class:`hpn.warp_refine.WarpRefineHPN`: it corrects the warp and
            fills the holes; None: the part warp alone, holes inpainted.
        fill_by_part: inpaint each hole from its own part's pixels
            (:func:`fill_holes_by_part`); False: from every known pixel (the baseline of
            ``bench/repose_holes.py``).

    Returns:
        :class:`Reposed`.
    """
    config = config or PartWarpConfig()
    if labels is None:
        labels = source_labels(keypoints, mask, config)
    warp = part_warp(keypoints, target_keypoints, mask, size, config, labels, fitted_from)
    holes, interior = holes_to_fill(
        warp, keypoints, target_keypoints, mask.shape, config, fitted_from
    )
    # Inside the person a partial coverage is a crack between parts, not an outline: solid.
    solid = np.where(interior | holes, 1.0, warp.coverage).astype(np.float32)
    colours = spread_colours(image, mask.astype(bool))
    backdrop = studio_backdrop(size)
    composed = None
    hole_parts = label_parts(body_from_keypoints(target_keypoints, config.proportions), holes)
    if refiner is None or refiner.config.fill == "inpainted":  # the part warp alone
        moved = warp.apply(colours, cv2.INTER_CUBIC)
        known = warp.coverage > 0.5
        if fill_by_part:
            moved = fill_holes_by_part(moved, holes, hole_parts, known, warp.part)
        else:
            moved = _inpaint(moved, holes, known)
        moved = blend_seams(moved, np.where(holes, len(PART_NAMES), warp.part))
        coverage = solid[..., None]
        composed = coverage * moved.astype(np.float32) + (1 - coverage) * backdrop
    if refiner is not None:
        composed = _refined(refiner, colours, warp, holes, backdrop, target_keypoints, composed)
    person = (warp.coverage > 0.5) | holes
    person_labels = np.where(holes, hole_parts, warp.part).astype(np.int8)
    return Reposed(
        image=np.clip(np.round(composed), 0, 255).astype(np.uint8),
        person_mask=person,
        labels=_nearest_labels(person_labels, person_labels >= 0, person),
        keypoints=np.asarray(target_keypoints, np.float32),
        warp=warp,
        filled=holes,
    )
