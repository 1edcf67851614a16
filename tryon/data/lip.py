"""LIP / CIHP human-parsing ids as VITON-HD's ``image-parse-v3`` maps use them (DATA.md).

Left and right are the person's own sides, as in COCO keypoints: ``LEFT_ARM`` is the arm whose
wrist is keypoint 7. Mirroring an image therefore swaps the left/right ids (:data:`FLIP_LUT`).
"""

from __future__ import annotations

import numpy as np

NUM_LABELS = 20
LABEL_NAMES: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress", "coat",
    "socks", "pants", "neck", "scarf", "skirt", "face", "left_arm", "right_arm", "left_leg",
    "right_leg", "left_shoe", "right_shoe",
)  # fmt: skip

BACKGROUND, HAIR, UPPER_CLOTHES, DRESS, COAT, PANTS, NECK, SKIRT, FACE = (
    0,
    2,
    5,
    6,
    7,
    9,
    10,
    12,
    13,
)
LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE = 14, 15, 16, 17, 18, 19

# The try-on garment region: what the appearance-flow net warps the product photo onto.
UPPER_GARMENT_IDS: tuple[int, ...] = (UPPER_CLOTHES, DRESS, COAT)

# Mirroring an image swaps the person's left and right: arms, legs and shoes.
FLIP_LUT: np.ndarray = np.arange(256, dtype=np.uint8)  # ids >= 20 (invalid) stay as they are
FLIP_LUT[[LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE]] = (
    RIGHT_ARM, LEFT_ARM, RIGHT_LEG, LEFT_LEG, RIGHT_SHOE, LEFT_SHOE,
)  # fmt: skip

# A fixed palette (the one LIP's and CIHP's visualisations use) for parse PNGs and overlays.
PALETTE: np.ndarray = np.array(
    [
        (0, 0, 0), (128, 0, 0), (254, 0, 0), (0, 85, 0), (169, 0, 51), (254, 85, 0),
        (0, 0, 85), (0, 119, 221), (85, 85, 0), (0, 85, 85), (85, 51, 0), (52, 86, 128),
        (0, 128, 0), (0, 0, 254), (51, 169, 220), (0, 254, 254), (85, 254, 169),
        (169, 254, 85), (254, 254, 0), (254, 169, 0),
    ],
    dtype=np.uint8,
)  # fmt: skip


def flip_parse(parse: np.ndarray) -> np.ndarray:
    """Parse map of the horizontally mirrored image: mirror columns and swap left/right ids."""
    array = np.asarray(parse)
    if array.ndim != 2:
        raise ValueError(f"a parse map must be HxW of LIP ids, got shape {array.shape}")
    return FLIP_LUT[array[:, ::-1]]


def colorize_parse(parse: np.ndarray) -> np.ndarray:
    """HxW LIP ids -> HxWx3 uint8 RGB with :data:`PALETTE` (ids >= 20 are drawn white)."""
    array = np.asarray(parse).astype(np.int64)
    colours = np.vstack([PALETTE, np.full((256 - NUM_LABELS, 3), 255, np.uint8)])
    return colours[np.clip(array, 0, 255)]
