"""What one try-on returns: the final image, every intermediate, and per-stage timings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STAGES: tuple[str, ...] = (
    "pose",
    "frame",
    "frontalize",
    "parse",
    "garment_mask",
    "warp",
    "composite",
    "repose",
    "paste_back",
)


@dataclass(frozen=True)
class TryOnResult:
    """The outcome of :class:`tryon.pipeline.TryOnPipeline` on one (person, garment) pair.

    Images are uint8 RGB; "frame" images are R x R in the pipeline's square frame
    (:mod:`tryon.pipeline.framing`).

    Attributes:
        image: the final result, HxWx3 in the original person photo's frame.
        frontal: the person moved to the canonical frontal pose by HPN (RxRx3).
        keypoints: (18, 2) keypoints of the person in the original photo (NaN missing).
        garment_region: RxR bool, where the garment goes on the frontal person.
        garment_mask: the garment photo's mask (its own size, bool).
        warped_garment: the garment warped into the region (RxRx3).
        flow_visualization: the appearance flow as a colour wheel image (RxRx3).
        composite: the frontal person wearing the garment (RxRx3, in the frame).
        timings: stage name -> seconds, in the order the stages ran.
        person_frame: the person photo cut to the frame (RxRx3), HPN's input.
        frame_keypoints: (18, 2) the person's keypoints in the frame.
        frontal_keypoints: (18, 2) the frontal template in the frame (HPN's target pose).
        region_source: "parser" or "keypoints": which method drew ``garment_region``.
        alpha: RxR float32 soft compositing mask.
        reposed: the dressed person moved back to the shopper's pose (RxRx3), or None when
            ``return_to_pose`` was off.
        warnings: notes for the user (pose estimator warnings, parser fallback, ...).
    """

    image: np.ndarray
    frontal: np.ndarray
    keypoints: np.ndarray
    garment_region: np.ndarray
    garment_mask: np.ndarray
    warped_garment: np.ndarray
    flow_visualization: np.ndarray
    composite: np.ndarray
    timings: dict[str, float]
    person_frame: np.ndarray
    frame_keypoints: np.ndarray
    frontal_keypoints: np.ndarray
    region_source: str
    alpha: np.ndarray
    reposed: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default=())

    def intermediates(self) -> dict[str, np.ndarray]:
        """Every image a user may inspect, by name, as uint8 (HxWx3 RGB or HxW masks).

        Names: ``person_frame``, ``pose`` (skeleton over the frame), ``frontal_pose``
        (template skeleton), ``frontal``, ``garment_region``, ``garment_mask``,
        ``warped_garment``, ``flow``, ``alpha``, ``composite``, ``reposed`` (if any),
        ``result``.
        """
        from core.images import tensor_to_uint8
        from core.skeleton import draw_skeleton

        size = self.person_frame.shape[0]

        def skeleton_over(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
            drawn = tensor_to_uint8(draw_skeleton(keypoints, size, size))
            lines = drawn.any(axis=2, keepdims=True)
            return np.where(lines, drawn, image // 2)

        images = {
            "person_frame": self.person_frame,
            "pose": skeleton_over(self.person_frame, self.frame_keypoints),
            "frontal_pose": skeleton_over(self.frontal, self.frontal_keypoints),
            "frontal": self.frontal,
            "garment_region": self.garment_region.astype(np.uint8) * 255,
            "garment_mask": self.garment_mask.astype(np.uint8) * 255,
            "warped_garment": self.warped_garment,
            "flow": self.flow_visualization,
            "alpha": np.round(self.alpha * 255).astype(np.uint8),
            "composite": self.composite,
        }
        if self.reposed is not None:
            images["reposed"] = self.reposed
        images["result"] = self.image
        return images
