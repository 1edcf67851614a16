"""The square frame the models work in, and the frontal pose template placed in it.

The frame is a similarity map (scale + shift, no rotation) from the shopper's photo to an
R x R square, chosen so that the person's torso lands where the torso of the frontal template
lies. The template is the canonical pose the models folder records (its ``model_index.json``,
:mod:`tryon.pipeline.manifest`; by default :data:`core.keypoints.DEFAULT_CANONICAL_POSE`, the
synthetic generator's canonical frontal pose of the mean body, i.e. the pose the try-on ground
truth and the HPN training targets use). Because the frame normalises the person's torso to
the template's, the template needs no per-person fitting afterwards: in the frame it is fixed.

Torso anchor: the neck (or the shoulders' midpoint) and the hips' midpoint; the scale is the
ratio of the template's neck-to-hips length to the person's. When the hips are missing (a
half-body photo), the shoulder width sets the scale instead. The frame is a
:class:`tryon.preprocess.framing.Framing` (crop, inverse map, paste back).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.keypoints import DEFAULT_CANONICAL_POSE, CanonicalPose, validate_keypoints
from tryon.errors import InvalidInputError
from tryon.preprocess.framing import Framing

NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP = 1, 2, 5, 8, 11


def frontal_template(size: int, pose: CanonicalPose | None = None) -> np.ndarray:
    """The canonical frontal pose (default: the shipped models') in a ``size`` x ``size`` frame.

    Returns:
        (18, 2) float32 pixel (x, y), every joint present (a fresh copy).
    """
    return (pose or DEFAULT_CANONICAL_POSE).in_frame(size)


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


def border_colour(photo: np.ndarray) -> tuple[float, ...]:
    """Median colour of a photo's outermost pixels: the fill where a frame leaves the photo."""
    border = np.concatenate([photo[0], photo[-1], photo[:, 0], photo[:, -1]])
    return tuple(float(value) for value in np.median(border, axis=0))


def edge_feather(size: int, width: int) -> np.ndarray:
    """size x size weights rising linearly from the frame's border over ``width`` pixels.

    Used as the paste-back mask, so the pasted frame blends into the photo without a seam.
    """
    if width <= 0:
        return np.ones((size, size), np.float32)
    steps = np.minimum(np.arange(size) + 1, np.arange(size)[::-1] + 1)
    edge = np.clip(steps / (width + 1), 0, 1).astype(np.float32)
    return np.minimum(edge[:, None], edge[None, :])


def frame_person(
    keypoints: np.ndarray, photo_size: tuple[int, int], size: int, template: np.ndarray
) -> Framing:
    """The frame that puts the person's torso onto the template's torso.

    Args:
        keypoints: (18, 2) pixel (x, y) of the person in the photo, NaN missing.
        photo_size: (height, width) of the photo.
        size: R, the frame side.
        template: (18, 2) frontal template in the R x R frame.

    Returns:
        The :class:`tryon.preprocess.framing.Framing` (crop, to/from frame, paste back).

    Raises:
        InvalidInputError: the shoulders are missing or the torso is degenerate.
    """
    person = torso_anchor(keypoints)
    target = torso_anchor(template, kind=person.kind)
    scale = target.length / person.length
    # Framing maps frame = (size / side) * (photo - centre) + (size - 1) / 2.
    centre = person.centre + ((size - 1) / 2 - target.centre) / scale
    return Framing(
        (float(centre[0]), float(centre[1])),
        size / scale,
        size,
        (int(photo_size[0]), int(photo_size[1])),
    )
