"""What one try-on returns: the final image, its intermediates and per-stage timings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STAGES: tuple[str, ...] = (
    "pose",
    "garment_mask",
    "parse",
    "repose",
    "fit",
    "composite",
    "frame",
    "frontalize",
    "warp",
    "paste_back",
)
"""Every stage name in running order (a view runs some of them; see TryOnPipeline)."""


@dataclass(frozen=True)
class TryOnResult:
    """The outcome of :class:`tryon.pipeline.TryOnPipeline` on one (person, garment) pair.

    Images are uint8 RGB.

    Attributes:
        image: the result: the shopper's own photo dressed (own view, same size as the
            photo), the dressed canonical view (catalog view), or the paper's route.
        photo: the shopper's photo the result was made from (the caller's array, not a
            copy; the ``pose`` intermediate is drawn on it when asked for).
        view: "own", "catalog" or "paper".
        keypoints: (18, 2) keypoints of the person in the photo (NaN missing).
        person_mask: HxW bool person mask of the photo.
        garment_region: HxW bool, the old garment's region in the photo (empty for "paper").
        region_source: where the region came from: "parser", "classical" or (paper route)
            "keypoints".
        garment_mask: the product photo's mask (its own size).
        garment_keypoints: (18, 2) the joints the product photo's garment is laid on.
        layers: the view's intermediates by name (see :meth:`intermediates`).
        timings: stage name -> seconds, in the order the stages ran.
        warnings: what the user should know about the result (several people in the photo,
            only the largest dressed).
        notes: how it was made, for engineers: a model's output rejected and the fallback
            used (the parser's region implausible, the classical one taken); the storefront
            shows them with the intermediates, not to shoppers.
    """

    image: np.ndarray
    photo: np.ndarray
    view: str
    keypoints: np.ndarray
    person_mask: np.ndarray
    garment_region: np.ndarray
    region_source: str
    garment_mask: np.ndarray
    garment_keypoints: np.ndarray
    layers: dict[str, np.ndarray]
    timings: dict[str, float]
    warnings: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def intermediates(self) -> dict[str, np.ndarray]:
        """Every image a user may inspect, by name, as uint8 (HxWx3 RGB or HxW masks).

        Always: ``pose`` (the skeleton over the photo), ``person_mask``, ``garment_region``
        (own and catalog views), ``garment_mask``, ``result``. Then the view's own layers:
        own and catalog: ``parts`` (body part labels), ``fitted_garment``,
        ``alpha``, ``uncovered`` (old garment re-synthesised); catalog: ``canonical`` (the
        undressed canonical view); paper: ``person_frame``, ``frontal``,
        ``frame_garment_region``, ``warped_garment``, ``flow``, ``composite``.
        """
        images = {"pose": skeleton_over(self.photo, self.keypoints)}
        images["person_mask"] = self.person_mask.astype(np.uint8) * 255
        if self.view != "paper":
            images["garment_region"] = self.garment_region.astype(np.uint8) * 255
        images["garment_mask"] = self.garment_mask.astype(np.uint8) * 255
        images.update(self.layers)
        images["result"] = self.image
        return images


def skeleton_over(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The pose drawn over a darkened copy of ``image``."""
    from core.images import tensor_to_uint8
    from core.skeleton import draw_skeleton

    height, width = image.shape[:2]
    drawn = tensor_to_uint8(draw_skeleton(keypoints, height, width))
    lines = drawn.any(axis=2, keepdims=True)
    return np.where(lines, drawn, image // 2)
