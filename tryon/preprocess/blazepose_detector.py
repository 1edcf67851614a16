"""BlazePose's person detector (``pose_detection.tflite``): finds people anywhere in a frame.

The model is an SSD over 2254 fixed anchors of a 224x224 letterboxed input in [-1, 1]. Each
anchor regresses a box and four keypoints: 0 the hip centre, 1 a point whose distance from
the hip centre is the radius of a circle around the whole body, 2 the shoulder centre, 3 the
same for the upper body. The anchor layout, box decoding and weighted non-maximum suppression
follow MediaPipe 0.10.14's ``pose_detection_cpu.pbtxt`` (the graph this model was shipped with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tryon.preprocess.affine import apply_affine, crop_affine, invert_affine, warp_to_square

DETECTOR_INPUT_SIZE = 224
# SsdAnchorsCalculator options of the pose detector: strides of the five feature layers;
# each layer gives two anchors per cell (aspect ratio 1 and an interpolated scale), and
# layers sharing a stride share a grid. Anchors have a fixed unit size.
_ANCHOR_STRIDES = (8, 16, 32, 32, 32)
_ANCHORS_PER_LAYER = 2
_NMS_IOU = 0.3
_SCORE_CLIP = 100.0  # MediaPipe clips raw scores to +-100 before the sigmoid


@dataclass(frozen=True)
class PersonDetection:
    """One detected person, in pixels of the image the detector was run on.

    Attributes:
        score: detector confidence in [0, 1].
        box: (x_min, y_min, x_max, y_max) of the detected (face/upper body) box.
        keypoints: (4, 2) hip centre, full-body circle point, shoulder centre, upper-body
            circle point.
    """

    score: float
    box: tuple[float, float, float, float]
    keypoints: np.ndarray

    @property
    def body_radius(self) -> float:
        """Radius of the circle around the whole body (the size used to crop and to rank)."""
        return float(np.linalg.norm(self.keypoints[1] - self.keypoints[0]))


def ssd_anchor_centres(input_size: int = DETECTOR_INPUT_SIZE) -> np.ndarray:
    """Anchor centres (N, 2) as (x, y) fractions of the input, in the model's output order."""
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(_ANCHOR_STRIDES):
        stride = _ANCHOR_STRIDES[layer]
        same_stride = sum(1 for s in _ANCHOR_STRIDES[layer:] if s == stride)
        cells = math.ceil(input_size / stride)
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        per_cell = same_stride * _ANCHORS_PER_LAYER
        centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        layer += same_stride
    return np.concatenate(centres).astype(np.float32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Logistic function in float64, clipped so large logits do not overflow."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, np.float64), -_SCORE_CLIP, _SCORE_CLIP)))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) box with (N, 4) boxes, all (x_min, y_min, x_max, y_max)."""
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return intersection / np.maximum(area + areas - intersection, 1e-9)


def weighted_nms(
    scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray, iou_threshold: float = _NMS_IOU
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """MediaPipe's weighted NMS: overlapping candidates are averaged, weighted by score.

    Args:
        scores: (N,) candidate scores.
        boxes: (N, 4) candidate boxes.
        keypoints: (N, K, 2) candidate keypoints.
        iou_threshold: candidates overlapping the best remaining one by more are merged into it.

    Returns:
        (score, box (4,), keypoints (K, 2)) per person, best first.
    """
    order = np.argsort(-scores)
    remaining = order
    merged = []
    while remaining.size:
        best = remaining[0]
        overlap = _iou(boxes[best], boxes[remaining]) > iou_threshold
        group = remaining[overlap]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        points = (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum()
        merged.append((float(scores[best]), box, points))
        remaining = remaining[~overlap]
    return merged


class BlazePoseDetector:
    """Runs ``pose_detection.tflite`` on a whole image and returns every person found.

    The interpreter is created once per instance and reused for every call (not thread safe:
    give each worker its own instance).
    """

    def __init__(self, model_path: str | Path, score_threshold: float = 0.5) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.score_threshold = score_threshold
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        outputs = {o["shape"][-1]: o["index"] for o in self._interpreter.get_output_details()}
        self._regressors_index, self._scores_index = outputs[12], outputs[1]
        self._anchors = ssd_anchor_centres()

    def detect(
        self, image: np.ndarray, window: tuple[tuple[float, float], float] | None = None
    ) -> list[PersonDetection]:
        """Every person in a square window of ``image``, best score first, in image pixels.

        Args:
            image: HxWx3 uint8 RGB.
            window: ((x, y) centre, side) of the square region to look at, in image pixels;
                default: the whole image, letterboxed. Smaller windows find smaller people.
        """
        height, width = image.shape[:2]
        if window is None:
            window = (((width - 1) / 2, (height - 1) / 2), float(max(height, width)))
        centre, side = window
        to_input = crop_affine(centre, side, 0.0, DETECTOR_INPUT_SIZE)
        square = warp_to_square(image, to_input, DETECTOR_INPUT_SIZE)
        tensor = (square.astype(np.float32) / 127.5 - 1.0)[None]
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._regressors_index)[0]
        logits = self._interpreter.get_tensor(self._scores_index)[0, :, 0]
        scores = sigmoid(logits)
        keep = scores >= self.score_threshold
        if not keep.any():
            return []
        values = raw[keep].reshape(-1, 6, 2) / DETECTOR_INPUT_SIZE + self._anchors[keep][:, None]
        centres, sizes = values[:, 0], raw[keep][:, 2:4] / DETECTOR_INPUT_SIZE
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
        to_image = invert_affine(to_input)
        detections = []
        for score, box, points in weighted_nms(scores[keep], boxes, values[:, 2:]):
            # Model outputs are fractions of the input (edges at 0 and 1); pixel centres sit
            # half a pixel in, the convention of the affine maps.
            corners = apply_affine(to_image, box.reshape(2, 2) * DETECTOR_INPUT_SIZE - 0.5)
            keypoints = apply_affine(to_image, points * DETECTOR_INPUT_SIZE - 0.5)
            detections.append(
                PersonDetection(score, tuple(corners.reshape(-1).tolist()), keypoints)
            )
        return detections
