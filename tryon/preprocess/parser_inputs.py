"""What the parser sees: the photo, the person mask and the pose, letterboxed into one square.

Real photos break a parser that sees colours only; BlazePose's person mask and keypoints,
trained on real photos, stay right on them. So the parser is fed all three, in the same
letterbox (aspect kept, centred, padding is background: black image, empty mask, no joints):

- ``image``: (1, 3, R, R) RGB in [-1, 1];
- ``person_mask``: (1, 1, R, R) in {0, 1};
- ``pose_maps``: (1, 18, R, R) Gaussian maps of the COCO-18 keypoints
  (:func:`core.posemaps.pose_maps`), sigma ``pose_sigma * R`` cells; a missing joint is zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.images import uint8_to_tensor
from core.keypoints import NUM_KEYPOINTS
from core.posemaps import pose_maps


@dataclass(frozen=True)
class Letterbox:
    """Where a photo of ``source = (height, width)`` sits inside the square input."""

    top: int
    left: int
    height: int
    width: int
    source: tuple[int, int]

    @classmethod
    def fit(cls, shape: tuple[int, int], size: int) -> Letterbox:
        """The letterbox of an image of ``shape = (height, width)`` in a ``size`` square."""
        height, width = shape
        scale = size / max(height, width)
        new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
        return cls((size - new_h) // 2, (size - new_w) // 2, new_h, new_w, (height, width))

    def place(self, tensor: torch.Tensor, size: int, value: float) -> torch.Tensor:
        """(N, C, height, width) -> (N, C, size, size), padded with ``value``."""
        pad = (self.left, size - self.width - self.left, self.top, size - self.height - self.top)
        return F.pad(tensor, pad, value=value)


def letterbox_tensor(image: np.ndarray, size: int) -> tuple[torch.Tensor, Letterbox]:
    """An HxWx3 uint8 photo -> (1, 3, size, size) in [-1, 1] and its letterbox."""
    box = Letterbox.fit(image.shape[:2], size)
    tensor = uint8_to_tensor(image)[None]
    resized = F.interpolate(tensor, size=(box.height, box.width), mode="bilinear", antialias=True)
    return box.place(resized, size, -1.0), box


def letterbox_mask(mask: np.ndarray, box: Letterbox, size: int) -> torch.Tensor:
    """An HxW bool mask -> (1, 1, size, size) float in {0, 1}, in the photo's letterbox."""
    tensor = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    resized = F.interpolate(tensor, size=(box.height, box.width), mode="area")
    return box.place((resized >= 0.5).float(), size, 0.0)


def letterbox_keypoints(keypoints: np.ndarray, box: Letterbox) -> np.ndarray:
    """(18, 2) pixel (x, y) of the photo -> cells of the square input (pixel centres kept)."""
    points = np.asarray(keypoints, np.float64)
    if points.shape != (NUM_KEYPOINTS, 2):
        raise ValueError(f"keypoints must be (18, 2) pixel (x, y), got {points.shape}")
    scale_x, scale_y = box.width / box.source[1], box.height / box.source[0]
    cells = (points + 0.5) * (scale_x, scale_y) - 0.5 + (box.left, box.top)
    return cells.astype(np.float32)


def parser_inputs(
    photo: np.ndarray,
    keypoints: np.ndarray,
    person_mask: np.ndarray,
    size: int,
    pose_sigma: float,
) -> tuple[dict[str, torch.Tensor], Letterbox]:
    """The parser's named inputs for one photo (see the module docstring) and its letterbox.

    Args:
        photo: HxWx3 uint8 RGB.
        keypoints: (18, 2) pixel (x, y), NaN for missing.
        person_mask: HxW bool.
        size: the parser's input side.
        pose_sigma: Gaussian sigma as a fraction of ``size``.
    """
    if person_mask.shape != photo.shape[:2]:
        raise ValueError(
            f"person mask is {person_mask.shape}, photo is {photo.shape[:2]}: they must match"
        )
    image, box = letterbox_tensor(np.asarray(photo, np.uint8), size)
    maps = pose_maps(letterbox_keypoints(keypoints, box), size, sigma=pose_sigma * size)
    inputs = {
        "image": image,
        "person_mask": letterbox_mask(person_mask, box, size),
        "pose_maps": maps[None],
    }
    return inputs, box
