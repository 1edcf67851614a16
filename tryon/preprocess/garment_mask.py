"""Garment masks for catalog product photos shot on a plain background.

A bare threshold against the background colour fails on the hardest and most common case, a
white shirt on a white sweep: the shirt differs from the background only by a faint outline
and shadow. So the mask is built from three cues and settled by GrabCut:

1. background model: the median colour of the photo's border;
2. colour cue: pixels clearly far from that colour (Lab distance) are garment;
3. edge cue: Canny edges at a low threshold, closed morphologically; the regions they enclose
   that are not connected to the border are garment (the white shirt's outline encloses it);
4. GrabCut, seeded with the border as sure background and the two cues as probable garment,
   then the largest connected component with its holes filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tryon.errors import InvalidInputError
from tryon.preprocess.pose import check_rgb_image

GRABCUT_SEED = 0


@dataclass(frozen=True)
class GarmentMaskConfig:
    """Knobs of :func:`garment_mask` (defaults tuned for catalog photos on plain backgrounds).

    Attributes:
        working_size: the longest side the photo is reduced to while segmenting.
        border_fraction: width of the border strip taken as sure background.
        colour_distance: Lab distance from the background colour that counts as garment.
        canny_low: lower Canny threshold; low so a faint outline still counts.
        canny_high: upper Canny threshold.
        close_fraction: morphological closing size (fraction of the working size) that joins
            a broken outline.
        grabcut_iterations: GrabCut iterations.
        min_area_fraction: a result smaller than this fraction of the photo is an error.
    """

    working_size: int = 384
    border_fraction: float = 0.02
    colour_distance: float = 18.0
    canny_low: int = 8
    canny_high: int = 24
    close_fraction: float = 0.02
    grabcut_iterations: int = 5
    min_area_fraction: float = 0.01


def garment_mask(image: np.ndarray, config: GarmentMaskConfig | None = None) -> np.ndarray:
    """Mask of the garment in a product photo on a plain background.

    Args:
        image: HxWx3 uint8 RGB product photo; the garment must not touch all four borders.
        config: thresholds; the defaults suit studio catalog shots.

    Returns:
        HxW bool mask, True on the garment.

    Raises:
        InvalidInputError: nothing distinguishable from the background was found.
    """
    config = config or GarmentMaskConfig()
    image = check_rgb_image(image)
    height, width = image.shape[:2]
    scale = min(1.0, config.working_size / max(height, width))
    small = cv2.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))), cv2.INTER_AREA
    )
    border = max(2, round(config.border_fraction * max(small.shape[:2])))
    seeds = _seed_mask(small, border, config)
    if not (seeds == cv2.GC_PR_FGD).any():
        raise InvalidInputError(
            "no garment found: the product photo looks like plain background everywhere"
        )
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    labels = seeds.copy()
    cv2.setRNGSeed(GRABCUT_SEED)  # GrabCut's k-means start is random: same input, same mask
    cv2.grabCut(
        cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
        labels,
        None,
        background_model,
        foreground_model,
        config.grabcut_iterations,
        cv2.GC_INIT_WITH_MASK,
    )
    garment = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    garment = fill_holes(_largest_component(garment))
    if garment.mean() < config.min_area_fraction:
        raise InvalidInputError(
            f"no garment found: the largest foreground region covers {garment.mean():.1%} of "
            "the photo; is the background plain and the garment fully in frame?"
        )
    return cv2.resize(garment.astype(np.uint8), (width, height), cv2.INTER_NEAREST) > 0


def _seed_mask(small: np.ndarray, border: int, config: GarmentMaskConfig) -> np.ndarray:
    """GrabCut's initial labels: border = sure background, colour/edge cues = probable garment."""
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    ring = np.ones(small.shape[:2], bool)
    ring[border:-border, border:-border] = False
    background = np.median(lab[ring], axis=0)
    far_from_background = np.linalg.norm(lab - background, axis=2) > config.colour_distance

    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (3, 3), 0)
    edges = cv2.Canny(grey, config.canny_low, config.canny_high) > 0
    size = max(3, round(config.close_fraction * max(small.shape[:2])) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    outline = cv2.morphologyEx(
        (edges | far_from_background).astype(np.uint8), cv2.MORPH_CLOSE, kernel
    )
    outline[ring] = 0
    enclosed = fill_holes(outline > 0)

    seeds = np.full(small.shape[:2], cv2.GC_PR_BGD, np.uint8)
    seeds[enclosed | far_from_background] = cv2.GC_PR_FGD
    seeds[ring] = cv2.GC_BGD
    return seeds


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` plus every region it encloses (not reachable from the border through ~mask)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((flood.shape[0] + 2, flood.shape[1] + 2), np.uint8), (0, 0), 1)
    return (padded.astype(bool) | (flood == 0))[1:-1, 1:-1]


def _largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask.astype(bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest
