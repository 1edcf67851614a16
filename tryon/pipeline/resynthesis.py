"""What shows where the old garment was and the new one does not reach: skin or background.

A tank top over a long-sleeved shirt leaves the old sleeves uncovered; a fitted shirt over a
loose jacket leaves the jacket's outline. Those pixels must not keep the old garment:

- inside the body's outline (the part capsules of :func:`hpn.body_parts.body_region`: arms,
  neck, a belly under a crop top) they become skin: the shopper's own skin colour, measured
  on the face (or on bare arms), with a soft cylinder shading across each limb;
- outside it they become background: a background plate made by inpainting the person away
  (at a reduced resolution: the plate only has to be right in narrow strips next to the
  real background).

Pixels of the old garment's region that already look like the shopper's skin (a region that
strayed onto the chin or neck, an open collar) keep their own pixels: real skin beats a
painted one.
"""

from __future__ import annotations

import cv2
import numpy as np

from tryon.preprocess.body_boxes import face_box

DEFAULT_SKIN = (196, 152, 128)  # used only when the photo shows no skin to measure
PLATE_SIZE = 160


def skin_colour(photo: np.ndarray, keypoints: np.ndarray, skin_hint: np.ndarray) -> np.ndarray:
    """The shopper's skin colour (RGB float32).

    Measured as the median of the inner half of the face box (cheeks, nose: little hair),
    on pixels that ``skin_hint`` allows (the person, not the garment); when there is no face,
    the median of ``skin_hint`` itself; else a neutral default.
    """
    height, width = photo.shape[:2]
    box = face_box(keypoints, (height, width))
    candidates = np.zeros((height, width), bool)
    if box is not None:
        x0, y0, x1, y1 = box
        dx, dy = (x1 - x0) // 4, (y1 - y0) // 4
        candidates[y0 + dy : y1 - dy, x0 + dx : x1 - dx] = True
        candidates &= skin_hint
    if candidates.sum() < 16:
        candidates = skin_hint
    if candidates.sum() < 16:
        return np.array(DEFAULT_SKIN, np.float32)
    return np.median(photo[candidates].astype(np.float32), axis=0)


def background_plate(photo: np.ndarray, person_mask: np.ndarray) -> np.ndarray:
    """The photo with the person inpainted away (HxWx3 uint8); exact off the person."""
    height, width = photo.shape[:2]
    factor = min(1.0, PLATE_SIZE / max(height, width))
    small_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(photo, small_size, interpolation=cv2.INTER_AREA)
    hole = cv2.resize(person_mask.astype(np.uint8), small_size, interpolation=cv2.INTER_NEAREST)
    hole = cv2.dilate(hole, np.ones((5, 5), np.uint8))
    plate = cv2.inpaint(small, hole, 5, cv2.INPAINT_TELEA)
    plate = cv2.resize(plate, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(person_mask[..., None], plate, photo)


SKIN_CHROMA_TOLERANCE = 14.0  # CIELAB a*b* distance to the measured skin colour
SKIN_LIGHTNESS_TOLERANCE = 30.0  # CIELAB L* distance (shading darkens skin a lot)


def looks_like_skin(photo: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """HxW bool, pixels within the CIELAB tolerances of the skin ``colour`` (RGB)."""
    lab = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float32)
    swatch = np.clip(np.round(colour), 0, 255).astype(np.uint8)[None, None]
    reference = cv2.cvtColor(swatch, cv2.COLOR_RGB2LAB).astype(np.float32)[0, 0]
    # OpenCV's 8-bit Lab: L* scaled by 255/100, a* and b* offset by 128.
    lightness = np.abs(lab[..., 0] - reference[0]) * (100.0 / 255.0)
    chroma = np.hypot(lab[..., 1] - reference[1], lab[..., 2] - reference[2])
    return (lightness <= SKIN_LIGHTNESS_TOLERANCE) & (chroma <= SKIN_CHROMA_TOLERANCE)


def shaded_skin(region: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """HxWx3 float32 skin over ``region``: ``colour`` darkened towards the region's edges."""
    depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
    scale = max(float(np.percentile(depth[region], 90)), 1.0) if region.any() else 1.0
    shade = 0.82 + 0.18 * np.sqrt(np.clip(depth / scale, 0.0, 1.0))
    return shade[..., None] * colour[None, None, :]
