"""One geometry for every loader: pad to a square, resize, and mirror images, maps and keypoints.

Padding rule: an h x w image is padded symmetrically to a square of side max(h, w) (the odd
pixel goes to the bottom / right), images by repeating their border pixels (published
DeepFashion and VITON-HD photos have plain white or grey backdrops, so this extends the
backdrop), masks and parse maps with 0 (background). The square is then resized to R x R:
images with area averaging when shrinking and bilinear when enlarging, masks and parse maps
with nearest neighbour (labels must not blend). Keypoints follow exactly: shifted by the
padding, then scaled pixel-centre to pixel-centre (core.keypoints.scale_keypoints).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from core.keypoints import scale_keypoints, validate_keypoints


@dataclasses.dataclass(frozen=True)
class SquareFit:
    """Maps an ``height`` x ``width`` picture onto a ``resolution`` x ``resolution`` square."""

    height: int
    width: int
    resolution: int

    def __post_init__(self) -> None:
        if min(self.height, self.width, self.resolution) < 1:
            raise ValueError(f"sizes must be positive, got {self}")

    @property
    def side(self) -> int:
        return max(self.height, self.width)

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) pixels added to make the square."""
        top, left = (self.side - self.height) // 2, (self.side - self.width) // 2
        return top, self.side - self.height - top, left, self.side - self.width - left

    def _check(self, array: np.ndarray, what: str) -> None:
        if array.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"{what} is {array.shape[0]}x{array.shape[1]} but this pair's person image is "
                f"{self.height}x{self.width}; images, masks and parse maps of one sample must "
                "share a size"
            )

    def image(self, image: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 -> RxRx3 uint8 (border-replicated padding, area / bilinear resize)."""
        self._check(image, "an image")
        square = cv2.copyMakeBorder(image, *self.padding, cv2.BORDER_REPLICATE)
        shrinking = self.resolution < self.side
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        return cv2.resize(square, (self.resolution, self.resolution), interpolation=interpolation)

    def labels(self, labels: np.ndarray) -> np.ndarray:
        """HxW integer map (mask or parse ids) -> RxR (zero padding, nearest neighbour)."""
        self._check(labels, "a mask or parse map")
        square = cv2.copyMakeBorder(labels, *self.padding, cv2.BORDER_CONSTANT, value=0)
        size = (self.resolution, self.resolution)
        return cv2.resize(square, size, interpolation=cv2.INTER_NEAREST)

    def keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        """(18, 2) pixel (x, y) of the original picture -> of the R x R square (NaN kept)."""
        top, _, left, _ = self.padding
        shifted = validate_keypoints(keypoints) + np.array([left, top], np.float32)
        size = (self.resolution, self.resolution)
        return scale_keypoints(shifted, (self.side, self.side), size).astype(np.float32)


def mirror(image: np.ndarray) -> np.ndarray:
    """Left-right mirror of an image or mask (contiguous copy).

    Parse maps also need their left/right ids swapped (``tryon.data.lip.flip_parse``) and
    keypoints their left/right joints (``core.keypoints.flip_keypoints``).
    """
    return np.ascontiguousarray(image[:, ::-1])


def check_probability(probability: float) -> float:
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"flip_probability must be within [0, 1], got {probability}")
    return probability


def flip_decision(probability: float, seed: int, epoch: int, index: int) -> bool:
    """Whether sample ``index`` is mirrored in ``epoch``: reproducible, independent per sample."""
    if check_probability(probability) == 0.0:
        return False
    return bool(np.random.default_rng([seed, epoch, index]).random() < probability)
