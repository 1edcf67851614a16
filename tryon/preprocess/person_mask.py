"""Person masks: BlazePose's own mask when there is one, else MediaPipe selfie segmentation.

The selfie model marks any foreground it is unsure of as "person" (a coffee cup scores 21% of
its pixels), so it is only asked once a pose estimator has confirmed a person is there.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tryon.preprocess.affine import crop_affine, invert_affine, warp_to_square
from tryon.preprocess.pose import PoseResult, check_rgb_image

SELFIE_INPUT_SIZE = 256


class SelfieSegmenter:
    """``selfie_segmentation.tflite`` on the letterboxed photo; the interpreter is loaded once.

    Args:
        model_path: the .tflite file; default: the fetched ``blazepose`` asset.
    """

    def __init__(self, model_path: str | Path | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        if model_path is None:
            from tryon.assets import get_asset

            model_path = get_asset("blazepose").path("selfie_segmentation.tflite")
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        self._output_index = self._interpreter.get_output_details()[0]["index"]

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Per-pixel person probability, HxW float32 in [0, 1], for an HxWx3 uint8 RGB photo."""
        height, width = check_rgb_image(image).shape[:2]
        to_input = crop_affine(
            ((width - 1) / 2, (height - 1) / 2), max(height, width), 0.0, SELFIE_INPUT_SIZE
        )
        square = warp_to_square(image, to_input, SELFIE_INPUT_SIZE).astype(np.float32) / 255.0
        self._interpreter.set_tensor(self._input_index, square[None])
        self._interpreter.invoke()
        output = self._interpreter.get_tensor(self._output_index)[0, :, :, 0]
        return cv2.warpAffine(
            np.ascontiguousarray(output, np.float32),
            invert_affine(to_input),
            (width, height),
            flags=cv2.INTER_LINEAR,
        )

    def mask(self, image: np.ndarray, threshold: float = 0.5) -> np.ndarray:
        """HxW bool person mask."""
        return self.probabilities(image) > threshold


def person_mask(
    image: np.ndarray, pose: PoseResult, segmenter: SelfieSegmenter | None = None
) -> np.ndarray:
    """The person's HxW bool mask: the pose backend's own, else selfie segmentation.

    Args:
        image: the HxWx3 uint8 RGB photo the pose was estimated on.
        pose: its pose (it confirms someone is there; BlazePose results carry a mask).
        segmenter: used when ``pose`` has no mask (file backends); default: a new one.
    """
    if pose.person_mask is not None:
        return pose.person_mask
    return (segmenter or SelfieSegmenter()).mask(image)
