"""``tryon eval parser``: the parser against the two network-free regions on a test split.

The number that matters downstream is how well the upper-garment region (LIP upper clothes,
dress, coat: the region the garment is warped onto) is found, so every method is scored by
the IoU of that region against the ground-truth parse map, at the photo's own resolution:

- ``*_iou_mean``: the mean over photos of each photo's IoU (a photo whose truth has no upper
  garment is skipped);
- ``*_iou_pooled``: intersections and unions summed over the split, then divided.

Methods: the parser; the keypoint-geometry fallback (``fallback_*``); the classical region of
:mod:`.garment_region` (``classical_*``: geometry in the person mask, refined by GrabCut). All
get the data set's own keypoints (``openpose_json``) and person mask (``person-mask/``), i.e.
perfect guides: their best case. A photo whose keypoints are missing or lack a shoulder scores
0 for both network-free methods (and the parser then sees no pose).
The parser's per-class IoU (pooled) over the 20 LIP ids is reported too, with the median
parsing time per photo.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tryon.data.lip import LABEL_NAMES, NUM_LABELS
from tryon.errors import InvalidInputError
from tryon.preprocess.body_geometry import GarmentGeometry, upper_clothes_region
from tryon.preprocess.garment_region import classical_garment_region
from tryon.preprocess.parse_data import list_samples, read_sample
from tryon.preprocess.parser import HumanParser, garment_region, parse_image


@dataclasses.dataclass(frozen=True)
class ParserEvaluation:
    """Scores of one evaluation run (see the module docstring for the definitions)."""

    data: str
    split: str
    photos: int
    parser_iou_mean: float
    parser_iou_pooled: float
    fallback_iou_mean: float
    fallback_iou_pooled: float
    fallback_without_keypoints: int
    classical_iou_mean: float
    classical_iou_pooled: float
    parser_class_iou: dict[str, float]
    parser_mean_class_iou: float
    parse_seconds_median: float


class _RegionScore:
    """Accumulates per-photo and pooled IoU of a binary region."""

    def __init__(self) -> None:
        self.per_photo: list[float] = []
        self.intersection = 0
        self.union = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        intersection = int((predicted & truth).sum())
        union = int((predicted | truth).sum())
        self.per_photo.append(intersection / union if union else 1.0)
        self.intersection += intersection
        self.union += union

    def mean(self) -> float:
        return float(np.mean(self.per_photo)) if self.per_photo else float("nan")

    def pooled(self) -> float:
        return self.intersection / self.union if self.union else float("nan")


def evaluate_parser(
    model: HumanParser,
    data: str | Path,
    split: str = "test",
    limit: int | None = None,
    geometry: GarmentGeometry | None = None,
    show_progress: bool = True,
) -> ParserEvaluation:
    """Score the parser and the two network-free regions on ``split`` of ``data``.

    Args:
        model: a trained parser (it is put in eval mode).
        data: `tryon data synth` output or a VITON-HD root.
        split: which split to score.
        limit: score only the first ``limit`` photos (sorted by name).
        geometry: proportions of the fallback garment.
        show_progress: show a tqdm bar.
    """
    model.eval()
    samples = list_samples(data, split)[:limit]
    parser_score, fallback_score, classical_score = _RegionScore(), _RegionScore(), _RegionScore()
    class_intersection = np.zeros(NUM_LABELS, np.int64)
    class_union = np.zeros(NUM_LABELS, np.int64)
    timings: list[float] = []
    without_keypoints = 0
    for sample in tqdm(samples, desc=f"eval parser ({split})", disable=not show_progress):
        photo, truth, person_mask, keypoints = read_sample(sample)
        started = time.perf_counter()
        predicted = parse_image(model, photo, keypoints, person_mask)
        timings.append(time.perf_counter() - started)
        for label in range(NUM_LABELS):
            predicted_label, true_label = predicted == label, truth == label
            class_intersection[label] += int((predicted_label & true_label).sum())
            class_union[label] += int((predicted_label | true_label).sum())
        true_region = garment_region(truth)
        if not true_region.any():
            continue
        parser_score.add(garment_region(predicted), true_region)
        fallback = _fallback_region(keypoints, truth.shape, geometry)
        if fallback is None:
            without_keypoints += 1
            fallback_score.add(np.zeros_like(true_region), true_region)
            classical_score.add(np.zeros_like(true_region), true_region)
            continue
        fallback_score.add(fallback, true_region)
        classical_score.add(classical_garment_region(photo, keypoints, person_mask), true_region)
    present = class_union > 0
    class_iou = {
        LABEL_NAMES[label]: float(class_intersection[label] / class_union[label])
        for label in np.flatnonzero(present)
    }
    return ParserEvaluation(
        data=str(data),
        split=split,
        photos=len(samples),
        parser_iou_mean=parser_score.mean(),
        parser_iou_pooled=parser_score.pooled(),
        fallback_iou_mean=fallback_score.mean(),
        fallback_iou_pooled=fallback_score.pooled(),
        fallback_without_keypoints=without_keypoints,
        classical_iou_mean=classical_score.mean(),
        classical_iou_pooled=classical_score.pooled(),
        parser_class_iou=class_iou,
        parser_mean_class_iou=float(np.mean(list(class_iou.values()))),
        parse_seconds_median=float(np.median(timings)),
    )


def _fallback_region(
    keypoints: np.ndarray, size: tuple[int, int], geometry: GarmentGeometry | None
) -> np.ndarray | None:
    """The keypoint-geometry region, or None when the keypoints lack a shoulder."""
    try:
        return upper_clothes_region(keypoints, size, geometry)
    except InvalidInputError:
        return None
