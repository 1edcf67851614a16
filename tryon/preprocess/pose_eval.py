"""``tryon eval pose``: how well a pose estimator finds the data set's own keypoints.

For each photo with ``openpose_json`` keypoints: whether a person is found, and PCK: the share
of the reference's present joints that the estimate puts within ``threshold`` x the
reference's shoulder width (a joint the estimate misses counts as wrong); a photo counts as
found when the estimator returns at least one joint. Say "PCK@0.5 shoulder width" when quoting
it: PCKh, as the pose-transfer field computes it from a head box, is :mod:`hpn.pckh`, which
``tryon eval hpn --pckh`` uses with :func:`keypoints_or_missing`.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from core.keypoints import NUM_KEYPOINTS
from tryon.data.keypoint_formats import read_openpose_json
from tryon.errors import NoPersonFound
from tryon.imageio import load_image
from tryon.preprocess.parse_data import list_samples
from tryon.preprocess.pose import PoseEstimator

R_SHOULDER, L_SHOULDER = 2, 5


@dataclasses.dataclass(frozen=True)
class PoseEvaluation:
    """Scores of one run (see the module docstring); joints no reference has score None."""

    data: str
    split: str
    photos: int
    found: int
    pck: float
    threshold: float
    pck_per_joint: list[float | None]
    estimate_seconds_median: float


def keypoints_or_missing(estimator: PoseEstimator, image: np.ndarray) -> np.ndarray:
    """The estimator's (18, 2) keypoints, all NaN when it finds nobody (scored as misses)."""
    try:
        return estimator.estimate(image).keypoints
    except NoPersonFound:
        return np.full((NUM_KEYPOINTS, 2), np.nan, np.float32)


def pose_pck(estimate: np.ndarray, reference: np.ndarray, threshold: float) -> np.ndarray:
    """Per-joint correctness (18,) as 1.0 / 0.0, NaN where the reference lacks the joint.

    Raises:
        ValueError: the reference lacks a shoulder (no scale to measure with).
    """
    width = float(np.linalg.norm(reference[R_SHOULDER] - reference[L_SHOULDER]))
    if not np.isfinite(width) or width <= 0:
        raise ValueError("the reference pose needs both shoulders to set the PCK scale")
    distance = np.linalg.norm(estimate - reference, axis=1) / width
    correct = np.where(np.isnan(distance), 0.0, (distance <= threshold).astype(np.float64))
    return np.where(np.isnan(reference).any(axis=1), np.nan, correct)


def evaluate_pose(
    estimator: PoseEstimator,
    data: str | Path,
    split: str = "test",
    limit: int | None = None,
    threshold: float = 0.5,
    show_progress: bool = True,
) -> PoseEvaluation:
    """Run ``estimator`` on the photos of ``split`` that have keypoints and score it."""
    samples = [s for s in list_samples(data, split) if s.keypoints is not None][:limit]
    scores, timings, found = [], [], 0
    for sample in tqdm(samples, desc=f"eval pose ({split})", disable=not show_progress):
        reference = read_openpose_json(sample.keypoints)
        photo = load_image(sample.image)
        started = time.perf_counter()
        estimate = keypoints_or_missing(estimator, photo)
        timings.append(time.perf_counter() - started)
        found += int(not np.isnan(estimate).all())
        try:
            scores.append(pose_pck(estimate, reference, threshold))
        except ValueError:
            continue
    table = np.array(scores) if scores else np.full((1, 18), np.nan)
    scored = (~np.isnan(table)).sum(axis=0)
    per_joint = np.nansum(table, axis=0) / np.maximum(scored, 1)
    return PoseEvaluation(
        data=str(data),
        split=split,
        photos=len(samples),
        found=found,
        pck=float(np.nansum(table) / max(int(scored.sum()), 1)),
        threshold=threshold,
        pck_per_joint=[float(v) if n else None for v, n in zip(per_joint, scored, strict=True)],
        estimate_seconds_median=float(np.median(timings)) if timings else float("nan"),
    )
