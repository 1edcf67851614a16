"""Fitting a catalog garment onto a body with the part warp: garment pieces follow the bones.

The product photo's garment gets virtual joints (:func:`~tryon.preprocess.garment_landmarks.
garment_landmarks`); its torso piece and each sleeve are then one part each of
:func:`hpn.part_warp.part_warp`, moved from those joints onto the person's keypoints. So the
torso piece takes the shoulders' width and the torso's tilt, a sleeve follows its arm, a
tank top stays sleeveless and a long sleeve reaches the wrist, in any pose the keypoints
describe, at the output's own resolution (the field is resolution-free; the product photo is
sampled once, with bicubic interpolation).

Joints say where the body is, not how broad: given the person's mask, the garment is also
sized to the body's width at the chest (the run of the mask through the chest's centre,
against the garment's own torso width carried there by the joints), within
:data:`WIDTH_RANGE`, by moving the garment's virtual shoulders and hips closer together. A
run wider than :data:`MAX_CHEST_RUN` shoulder widths is not one body (friends arm in arm
join one person mask): the joints alone size the garment then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from hpn.body_parts import TORSO_PART, complete_points
from hpn.part_warp import PartWarp, PartWarpConfig, part_warp, source_labels
from hpn.repose import spread_colours


@dataclass(frozen=True)
class FittedGarment:
    """A garment fitted onto a person, in pixels of the person's image.

    Attributes:
        image: HxWx3 uint8 garment colours (meaningful where ``alpha`` > 0).
        alpha: HxW float32 in [0, 1], where the garment lies.
        part: HxW int8 body part (:data:`hpn.body_parts.PART_NAMES`) each garment pixel
            belongs to (the torso piece or a sleeve), -1 off the garment.
        warp: the part warp that produced it (product photo pixels per output pixel).
    """

    image: np.ndarray
    alpha: np.ndarray
    part: np.ndarray
    warp: PartWarp


WIDTH_RANGE = (0.9, 1.5)
MAX_CHEST_RUN = 1.6  # shoulder widths: a chest this broad is a neighbour joined to the mask
OUTLINE_SIGMA = 1.5  # product-photo px: the mask's pixel stairs blurred into one smooth edge
OUTLINE_RAMP = 1.2  # output px over which the fitted garment's outline goes from 0 to 1
RIM_FRACTION = 0.008  # the product photo's anti-aliased garment rim, of its long side
CHEST_DEPTH = 0.45  # the chest line, from the shoulder line towards the hips
NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP = 1, 2, 5, 8, 11


def _central_run(mask: np.ndarray, point: np.ndarray) -> float | None:
    """Length of the run of ``mask`` through ``point`` along its row (None off the mask)."""
    from tryon.preprocess.garment_landmarks import central_runs

    x, y = round(float(point[0])), round(float(point[1]))
    if not (0 <= y < mask.shape[0] and 0 <= x < mask.shape[1]) or not mask[y, x]:
        return None
    left, right = central_runs(mask, x)
    return float(right[y] - left[y] + 1)


def _chest(keypoints: np.ndarray) -> tuple[np.ndarray, float]:
    """The chest's centre point and the shoulder width of a pose (hips completed)."""
    points, width = complete_points(keypoints)
    shoulders = points[[R_SHOULDER, L_SHOULDER]].mean(axis=0)
    hips = points[[R_HIP, L_HIP]].mean(axis=0)
    return shoulders + CHEST_DEPTH * (hips - shoulders), width


def body_width_ratio(
    garment_mask: np.ndarray,
    garment_keypoints: np.ndarray,
    person_mask: np.ndarray,
    person_keypoints: np.ndarray,
) -> float:
    """How much broader the body is at the chest than the joints carry the garment, clipped;
    1 where the mask's chest is no single body's (:data:`MAX_CHEST_RUN`)."""
    garment_chest, garment_shoulders = _chest(garment_keypoints)
    person_chest, person_shoulders = _chest(person_keypoints)
    garment_run = _central_run(garment_mask.astype(bool), garment_chest)
    person_run = _central_run(person_mask.astype(bool), person_chest)
    if not garment_run or not person_run or person_run > MAX_CHEST_RUN * person_shoulders:
        return 1.0
    carried = garment_run * person_shoulders / garment_shoulders
    return float(np.clip(person_run / carried, *WIDTH_RANGE))


def widen(garment_keypoints: np.ndarray, ratio: float) -> np.ndarray:
    """The garment's torso joints moved towards its centre line, so the fit widens by ``ratio``."""
    points = np.asarray(garment_keypoints, np.float32).copy()
    centre = points[NECK, 0]
    for joint in (R_SHOULDER, L_SHOULDER, R_HIP, L_HIP):
        if np.isfinite(points[joint]).all():
            points[joint, 0] = centre + (points[joint, 0] - centre) / ratio
    return points


def garment_colours(garment: np.ndarray, garment_mask: np.ndarray) -> np.ndarray:
    """The product photo with the garment's inner colours spread over its anti-aliased rim
    and beyond, so a warped outline never picks up the studio's white (the alpha alone
    draws the outline)."""
    rim = max(1, round(RIM_FRACTION * max(garment.shape[:2])))
    inner = cv2.erode(garment_mask.astype(np.uint8), np.ones((2 * rim + 1,) * 2, np.uint8)) > 0
    return spread_colours(garment, inner, steps=rim + 2)


def fit_garment(
    garment: np.ndarray,
    garment_mask: np.ndarray,
    garment_keypoints: np.ndarray,
    person_keypoints: np.ndarray,
    size: tuple[int, int],
    config: PartWarpConfig | None = None,
    person_mask: np.ndarray | None = None,
) -> FittedGarment:
    """Move a product photo's garment onto a pose.

    Args:
        garment: HxWx3 uint8 product photo.
        garment_mask: its HxW bool mask.
        garment_keypoints: (18, 2) virtual joints of the garment in the product photo.
        person_keypoints: (18, 2) keypoints of the person, in pixels of the output.
        size: (height, width) of the output.
        config: part warp settings.
        person_mask: the person's HxW mask (of the output's size): sizes the garment to the
            body's width (module docstring); None: the joints alone.

    Returns:
        The :class:`FittedGarment`.
    """
    config = config or PartWarpConfig()
    if person_mask is not None:
        ratio = body_width_ratio(garment_mask, garment_keypoints, person_mask, person_keypoints)
        garment_keypoints = widen(garment_keypoints, ratio)
    labels = source_labels(garment_keypoints, garment_mask, config)
    warp = part_warp(garment_keypoints, person_keypoints, garment_mask, size, config, labels)
    image = warp.apply(garment_colours(garment, garment_mask), cv2.INTER_CUBIC)
    alpha, part = outline_alpha(garment_mask, warp), warp.part
    if person_mask is not None:
        alpha, part = close_piece_gaps(alpha, part, person_mask, person_keypoints)
    return FittedGarment(image=image, alpha=alpha, part=part, warp=warp)


GAP_REACH = 0.12  # shoulder widths: half the widest gap between two pieces that is closed
GAP_SIZE = 256  # the gaps are found on the fit drawn at this long side


def close_piece_gaps(
    alpha: np.ndarray, part: np.ndarray, body: np.ndarray, keypoints: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The fit's ``alpha`` and ``part`` with the gaps between a sleeve and the torso piece
    closed, on the ``body`` (the person without the arms), as torso piece.

    Each piece moves with its own bone: a sleeve spread out in the product photo and hanging
    down on the shopper leaves a wedge between its inner edge and the torso piece's side, and
    the own view painted the old garment there as bare skin (a flank under a T-shirt). Worn,
    the fabric runs on to the armpit. A gap is what a closing of radius :data:`GAP_REACH`
    shoulder widths adds to the pieces together but to no piece alone: the neckline's V
    (two edges of the torso piece) stays open, and so does the room between the pieces that
    is not the body (an arm held away from the side).
    """
    height, width = alpha.shape
    factor = min(1.0, GAP_SIZE / max(height, width))
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    _, shoulders = complete_points(keypoints)
    radius = max(1, round(GAP_REACH * shoulders * factor))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    pad = radius + 1  # the closing must not stop at the frame

    def closed(mask: np.ndarray) -> np.ndarray:
        shrunk = cv2.resize(mask.astype(np.float32), small, interpolation=cv2.INTER_AREA) > 0.5
        padded = cv2.copyMakeBorder(shrunk.astype(np.uint8), *(pad,) * 4, cv2.BORDER_CONSTANT)
        return cv2.morphologyEx(padded, cv2.MORPH_CLOSE, disc)[pad:-pad, pad:-pad] > 0

    worn = alpha > 0.5
    together = closed(worn)
    for piece in np.unique(part[worn]):
        together &= ~closed(part == piece)
    if not together.any():
        return alpha, part
    full = cv2.resize(together.astype(np.float32), (width, height), cv2.INTER_LINEAR) > 0.0
    # Grown by one small pixel: the gap's edge meets the pieces' own, slivers left aside.
    grow = math.ceil(1.0 / factor)
    full = cv2.dilate(full.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)) > 0
    gap = full & body.astype(bool)
    closed_part = np.where(gap & ~worn, TORSO_PART, part).astype(part.dtype)
    return np.where(gap, 1.0, alpha).astype(np.float32), closed_part


def outline_alpha(garment_mask: np.ndarray, warp: PartWarp) -> np.ndarray:
    """HxW float32 garment alpha whose outline is smooth at the output's resolution.

    A product photo a few hundred pixels high, enlarged onto a large photo, turns each pixel
    step of its mask's diagonal edges into a visible tooth: the warp's own coverage reads the
    binary mask bilinearly, a soft ramp along the teeth. Blurred by :data:`OUTLINE_SIGMA`
    first, the mask's half level runs along the edge's true line; read through the warp and
    steepened by the local enlargement, it ramps over :data:`OUTLINE_RAMP` output pixels
    (never softer than the blurred mask itself, where the warp shrinks the garment).
    """
    soft = cv2.GaussianBlur(garment_mask.astype(np.float32), (0, 0), OUTLINE_SIGMA)
    value = warp.apply(soft)
    # Source pixels per output pixel: the square root of the grid's Jacobian determinant.
    dx_drow, dx_dcol = np.gradient(warp.grid[..., 0])
    dy_drow, dy_dcol = np.gradient(warp.grid[..., 1])
    shrink = np.sqrt(np.abs(dx_dcol * dy_drow - dx_drow * dy_dcol))
    gain = np.maximum(np.sqrt(2 * np.pi) * OUTLINE_SIGMA / (shrink * OUTLINE_RAMP + 1e-6), 1.0)
    alpha = np.clip(0.5 + gain * (value - 0.5), 0.0, 1.0)
    return np.where(warp.coverage > 0, alpha, 0.0).astype(np.float32)


def carry_fit(
    fitted: FittedGarment,
    from_keypoints: np.ndarray,
    to_keypoints: np.ndarray,
    size: tuple[int, int],
    config: PartWarpConfig | None = None,
) -> FittedGarment:
    """A garment fitted on one pose moved onto another by the part warp.

    The own view's second route (dress in the canonical pose, carry the garment back to the
    photo's): the fitted garment is a product photo whose joints are the pose it was fitted
    on, so it is moved exactly like one, without sizing it to a body again.
    """
    return fit_garment(fitted.image, fitted.alpha > 0.5, from_keypoints, to_keypoints, size, config)


FLOW_SIZE = 256  # the garment flow runs on the canvas letterboxed to this square


@torch.inference_mode()
def refine_fit(
    flow_model: Any,
    fitted: FittedGarment,
    garment: np.ndarray,
    garment_mask: np.ndarray,
    person_mask: np.ndarray,
    person_keypoints: np.ndarray,
) -> FittedGarment:
    """A keypoint fit corrected by a flow net trained on fits (``tryon train flow --prior``).

    The net reads the fitted garment, its alpha, the person's mask and pose maps on the
    canvas letterboxed to :data:`FLOW_SIZE`; its flow (normalised units of that square) comes
    back in canvas pixels and moves where each canvas pixel reads the fit: the product photo
    is sampled once more, at full resolution, through the fit's grid read at the corrected
    point.
    """
    from flow.model import target_pose_maps

    height, width = fitted.alpha.shape
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2

    def square(array: np.ndarray) -> torch.Tensor:
        padded = np.zeros((side, side, *array.shape[2:]), np.float32)
        padded[top : top + height, left : left + width] = array
        tensor = torch.from_numpy(padded)
        tensor = tensor.permute(2, 0, 1) if tensor.ndim == 3 else tensor[None]
        return F.interpolate(tensor[None], size=(FLOW_SIZE, FLOW_SIZE), mode="area")

    alpha = fitted.alpha[..., None]
    colours = square(fitted.image.astype(np.float32) / 127.5 - 1.0) * square(alpha)
    points = (np.asarray(person_keypoints, np.float32) + [left, top] + 0.5) * FLOW_SIZE / side
    maps = target_pose_maps(
        flow_model.config, torch.from_numpy(points - 0.5)[None], FLOW_SIZE, FLOW_SIZE
    )
    device = next(flow_model.parameters()).device
    inputs = [colours, square(fitted.alpha), square(person_mask.astype(np.float32)), maps]
    output = flow_model(*[None if t is None else t.to(device) for t in inputs])
    flow = F.interpolate(output.flow.float().cpu(), size=(side, side), mode="bilinear")
    shift = (flow[0, :, top : top + height, left : left + width] * side / 2).numpy()
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    at_x, at_y = xs + shift[0], ys + shift[1]

    def read(array: np.ndarray) -> np.ndarray:
        return cv2.remap(array, at_x, at_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    grid = np.stack([read(fitted.warp.grid[..., 0]), read(fitted.warp.grid[..., 1])], axis=-1)
    coverage = cv2.remap(fitted.alpha, at_x, at_y, cv2.INTER_LINEAR, borderValue=0.0)
    image = cv2.remap(
        garment_colours(garment, garment_mask), grid[..., 0], grid[..., 1], cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    part = cv2.remap(fitted.part, at_x, at_y, cv2.INTER_NEAREST, borderValue=-1)
    warp = PartWarp(grid=grid, coverage=coverage, part=part)
    return FittedGarment(image=image, alpha=coverage, part=part, warp=warp)
