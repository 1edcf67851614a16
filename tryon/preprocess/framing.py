"""Framing: crop and pad a person into the models' square frame, and map results back.

A :class:`Framing` is the scale-and-shift that takes the photo to a ``size x size`` frame in
which the person (box from keypoints or mask, plus a margin) is centred. It keeps both
directions, so keypoints go in with :meth:`Framing.to_frame`, model outputs come back with
:meth:`Framing.from_frame`, and a generated frame is pasted into the original photo with
:meth:`Framing.paste_back`.

Convention: points are pixel (x, y) with pixel centres at integers (as everywhere in the
project); NaN points stay NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tryon.preprocess.affine import apply_affine, crop_affine, invert_affine, warp_to_square
from tryon.preprocess.pose import keypoint_bbox, mask_bbox


@dataclass(frozen=True)
class Framing:
    """Photo -> square frame: ``frame = scale * (photo - centre) + (size - 1) / 2``.

    Attributes:
        centre: (x, y) of the photo that lands in the middle of the frame.
        side: side, in photo pixels, of the square region the frame shows.
        size: frame side in pixels (the model resolution).
        photo_size: (height, width) of the photo.
    """

    centre: tuple[float, float]
    side: float
    size: int
    photo_size: tuple[int, int]

    @classmethod
    def around_box(
        cls,
        box: tuple[float, float, float, float],
        photo_size: tuple[int, int],
        size: int,
        margin: float = 0.1,
    ) -> Framing:
        """The frame centred on ``box``, its longer side plus ``margin`` of it on each side
        filling the frame.

        ``box`` is (x_min, y_min, x_max, y_max) of the first and last pixel inside, so it
        spans ``x_max - x_min + 1`` pixels (the convention of :func:`~.pose.mask_bbox`).
        """
        x_min, y_min, x_max, y_max = box
        if x_max < x_min or y_max < y_min:
            raise ValueError(f"box must be (x_min, y_min, x_max, y_max), got {box}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        side = max(x_max - x_min + 1.0, y_max - y_min + 1.0) * (1.0 + 2.0 * margin)
        centre = ((x_min + x_max) / 2.0, (y_min + y_max) / 2.0)
        return cls(centre, float(side), size, (int(photo_size[0]), int(photo_size[1])))

    @classmethod
    def from_keypoints(
        cls, keypoints: np.ndarray, photo_size: tuple[int, int], size: int, margin: float = 0.15
    ) -> Framing:
        """Frame the present keypoints (joints sit inside the body, hence a larger margin)."""
        return cls.around_box(keypoint_bbox(np.asarray(keypoints)), photo_size, size, margin)

    @classmethod
    def from_mask(cls, mask: np.ndarray, size: int, margin: float = 0.05) -> Framing:
        """Frame the True pixels of an HxW person mask."""
        box = mask_bbox(mask)
        if box is None:
            raise ValueError("the person mask is empty; there is nothing to frame")
        return cls.around_box(box, mask.shape[:2], size, margin)

    @property
    def matrix(self) -> np.ndarray:
        """(2, 3) photo -> frame affine."""
        return crop_affine(self.centre, self.side, 0.0, self.size)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) photo pixels -> frame pixels (float32)."""
        return apply_affine(self.matrix, points).astype(np.float32)

    def from_frame(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) frame pixels -> photo pixels (float32)."""
        return apply_affine(invert_affine(self.matrix), points).astype(np.float32)

    def crop(self, image: np.ndarray, fill: int | tuple = 255) -> np.ndarray:
        """The frame of a photo (HxW or HxWxC): ``size x size``, ``fill`` outside the photo."""
        self._check_photo(image)
        if image.ndim == 3 and not isinstance(fill, tuple):
            fill = (fill,) * image.shape[2]
        return warp_to_square(image, self.matrix, self.size, fill)

    def paste_back(
        self, frame_image: np.ndarray, original: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """The original photo with ``frame_image`` pasted where the frame came from.

        Args:
            frame_image: ``size x size`` (x C) result in the frame, same dtype as ``original``.
            original: the photo the framing was made for.
            mask: optional ``size x size`` weights in [0, 1] (or bool): paste only there,
                e.g. the garment region, so the rest of the photo keeps its own pixels.

        Returns:
            A new array shaped like ``original``.
        """
        self._check_photo(original)
        if frame_image.shape[:2] != (self.size, self.size):
            raise ValueError(
                f"frame_image must be {self.size}x{self.size}, got {frame_image.shape[:2]}"
            )
        height, width = self.photo_size
        to_photo = invert_affine(self.matrix)
        weights = np.ones((self.size, self.size), np.float32) if mask is None else mask
        # Coverage falls to zero over one pixel at the frame's edge, so the seam is blended.
        coverage = cv2.warpAffine(
            np.asarray(weights, np.float32), to_photo, (width, height), flags=cv2.INTER_LINEAR
        )
        pasted = cv2.warpAffine(
            frame_image, to_photo, (width, height), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        if original.ndim == 3:
            coverage = coverage[:, :, None]
        blended = (
            original.astype(np.float32) * (1 - coverage) + pasted.astype(np.float32) * coverage
        )
        if np.issubdtype(original.dtype, np.integer):
            blended = np.clip(np.rint(blended), 0, np.iinfo(original.dtype).max)
        return blended.astype(original.dtype)

    def _check_photo(self, image: np.ndarray) -> None:
        if tuple(image.shape[:2]) != self.photo_size:
            raise ValueError(
                f"this framing was made for a {self.photo_size} photo, got {image.shape[:2]}"
            )
