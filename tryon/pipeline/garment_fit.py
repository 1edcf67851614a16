"""Fitting a catalog garment onto a body with the part warp: garment pieces follow the bones.

The product photo's garment gets virtual joints (:func:`~tryon.preprocess.garment_landmarks.
garment_landmarks`); its torso piece and each sleeve are then one part each of
:func:`hpn.part_warp.part_warp`, moved from those joints onto the person's keypoints. So the
torso piece takes the shoulders' width and the torso's tilt, a sleeve follows its arm, a
tank top stays sleeveless and a long sleeve reaches the wrist, in any pose the keypoints
describe, at the output's own resolution (the field is resolution-free; the product photo is
sampled once, with bicubic interpolation).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hpn.part_warp import PartWarp, PartWarpConfig, part_warp, source_labels


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


def fit_garment(
    garment: np.ndarray,
    garment_mask: np.ndarray,
    garment_keypoints: np.ndarray,
    person_keypoints: np.ndarray,
    size: tuple[int, int],
    config: PartWarpConfig | None = None,
) -> FittedGarment:
    """Move a product photo's garment onto a pose.

    Args:
        garment: HxWx3 uint8 product photo.
        garment_mask: its HxW bool mask.
        garment_keypoints: (18, 2) virtual joints of the garment in the product photo.
        person_keypoints: (18, 2) keypoints of the person, in pixels of the output.
        size: (height, width) of the output.
        config: part warp settings.

    Returns:
        The :class:`FittedGarment`.
    """
    config = config or PartWarpConfig()
    labels = source_labels(garment_keypoints, garment_mask, config)
    warp = part_warp(garment_keypoints, person_keypoints, garment_mask, size, config, labels)
    image = warp.apply(garment, cv2.INTER_CUBIC)
    return FittedGarment(image=image, alpha=warp.coverage, part=warp.part, warp=warp)
