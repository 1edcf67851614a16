"""The square frame the models work in, and the frontal pose template placed in it.

The frame is a similarity map (scale + shift, no rotation) from the shopper's photo to an
R x R square, chosen so that the person's torso lands where the torso of the frontal template
lies. The template is the synthetic generator's canonical frontal pose of the mean body
(:func:`tryon.data.synthetic.canonical_keypoints`), i.e. the pose the try-on ground truth and
the HPN training targets use. Because the frame normalises the person's torso to the
template's, the template needs no per-person fitting afterwards: in the frame it is fixed.

Torso anchor: the neck (or the shoulders' midpoint) and the hips' midpoint; the scale is the
ratio of the template's neck-to-hips length to the person's. When the hips are missing (a
half-body photo), the shoulder width sets the scale instead. The frame keeps its inverse so
the result can be pasted back into the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from hpn.keypoints import validate_keypoints
from tryon.errors import InvalidInputError
from tryon.preprocess.affine import apply_affine, invert_affine, warp_to_square

NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP = 1, 2, 5, 8, 11


@lru_cache(maxsize=8)
def _template(size: int) -> np.ndarray:
    from tryon.data.synthetic import canonical_keypoints

    return canonical_keypoints(size=size).astype(np.float32)


def frontal_template(size: int) -> np.ndarray:
    """The canonical frontal pose of the mean body in a ``size`` x ``size`` frame.

    Returns:
        (18, 2) float32 pixel (x, y), every joint present (a fresh copy).
    """
    return _template(size).copy()


@dataclass(frozen=True)
class TorsoAnchor:
    """Where a torso is and how big: ``centre`` (x, y) and ``length`` in pixels.

    ``kind`` says which measurement gave the length: "torso" (neck to hips) or "shoulders".
    """

    centre: np.ndarray
    length: float
    kind: str


def torso_anchor(keypoints: np.ndarray, kind: str | None = None) -> TorsoAnchor:
    """The torso centre and size of a pose (see the module docstring).

    Args:
        keypoints: (18, 2) pixel (x, y), NaN missing; both shoulders are required.
        kind: force "torso" or "shoulders"; None picks "torso" when both hips are present.

    Raises:
        InvalidInputError: a shoulder is missing, or the torso is degenerate.
    """
    points = validate_keypoints(keypoints).astype(np.float64)
    shoulders = points[[R_SHOULDER, L_SHOULDER]]
    if np.isnan(shoulders).any():
        raise InvalidInputError(
            "both shoulders must be visible to place the person in the try-on frame; use a "
            "photo that shows the upper body from the front"
        )
    neck = points[NECK] if not np.isnan(points[NECK]).any() else shoulders.mean(axis=0)
    hips = points[[R_HIP, L_HIP]]
    has_hips = not np.isnan(hips).any()
    kind = kind or ("torso" if has_hips else "shoulders")
    if kind == "torso" and has_hips:
        mid_hip = hips.mean(axis=0)
        centre, length = (neck + mid_hip) / 2, float(np.linalg.norm(mid_hip - neck))
    else:
        kind = "shoulders"
        centre, length = neck, float(np.linalg.norm(shoulders[1] - shoulders[0]))
    if length < 2.0:
        raise InvalidInputError(
            f"the detected torso is {length:.1f} px long: too small or degenerate to try on"
        )
    return TorsoAnchor(centre, length, kind)


@dataclass(frozen=True)
class Frame:
    """A photo -> R x R square similarity map and its inverse.

    Attributes:
        to_frame: (2, 3) affine, frame_point = to_frame @ [x, y, 1] (cv2 convention).
        size: R.
        photo_size: (height, width) of the photo the frame was cut from.
    """

    to_frame: np.ndarray
    size: int
    photo_size: tuple[int, int]

    @property
    def to_photo(self) -> np.ndarray:
        return invert_affine(self.to_frame)

    def cut(self, photo: np.ndarray) -> np.ndarray:
        """The R x R frame of ``photo``; outside the photo, the median colour of its border."""
        border = np.concatenate([photo[0], photo[-1], photo[:, 0], photo[:, -1]])
        fill = tuple(float(value) for value in np.median(border, axis=0))
        return warp_to_square(photo, self.to_frame, self.size, fill=fill)

    def keypoints_to_frame(self, keypoints: np.ndarray) -> np.ndarray:
        return apply_affine(self.to_frame, keypoints).astype(np.float32)

    def keypoints_to_photo(self, keypoints: np.ndarray) -> np.ndarray:
        return apply_affine(self.to_photo, keypoints).astype(np.float32)

    def paste(self, frame_image: np.ndarray, photo: np.ndarray, feather: int) -> np.ndarray:
        """Put an R x R frame image back into ``photo`` (a copy), feathering the frame's edge.

        Args:
            frame_image: RxRx3 uint8 in this frame.
            photo: HxWx3 uint8, the photo the frame was cut from.
            feather: width in frame pixels of the linear blend at the frame's border.

        Returns:
            HxWx3 uint8.
        """
        height, width = self.photo_size
        inverse = self.to_photo
        back = cv2.warpAffine(frame_image, inverse, (width, height), flags=cv2.INTER_LINEAR)
        ramp = np.ones((self.size, self.size), np.float32)
        if feather > 0:
            steps = np.minimum(np.arange(self.size) + 1, np.arange(self.size)[::-1] + 1)
            edge = np.clip(steps / (feather + 1), 0, 1).astype(np.float32)
            ramp = np.minimum(edge[:, None], edge[None, :])
        alpha = cv2.warpAffine(ramp, inverse, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        blended = alpha * back.astype(np.float32) + (1 - alpha) * photo.astype(np.float32)
        return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def frame_person(
    keypoints: np.ndarray, photo_size: tuple[int, int], size: int, template: np.ndarray
) -> Frame:
    """The frame that puts the person's torso onto the template's torso.

    Args:
        keypoints: (18, 2) pixel (x, y) of the person in the photo, NaN missing.
        photo_size: (height, width) of the photo.
        size: R, the frame side.
        template: (18, 2) frontal template in the R x R frame.

    Returns:
        The :class:`Frame`.

    Raises:
        InvalidInputError: the shoulders are missing or the torso is degenerate.
    """
    person = torso_anchor(keypoints)
    target = torso_anchor(template, kind=person.kind)
    scale = target.length / person.length
    shift = target.centre - scale * person.centre
    to_frame = np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])
    return Frame(to_frame, size, (int(photo_size[0]), int(photo_size[1])))
