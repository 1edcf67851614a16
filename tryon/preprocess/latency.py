"""Per-photo CPU latency of the preprocessing steps (median of repeated runs).

Models are loaded once, as the batch runner and the app do; one warm-up call is not timed.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def median_seconds(work: Callable[[], object], runs: int, warmup: int = 1) -> float:
    """Median wall time of ``work()`` over ``runs`` calls after ``warmup`` untimed ones."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    for _ in range(warmup):
        work()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def preprocess_latency(
    photo: np.ndarray, runs: int, parser_dir: str | Path | None = None
) -> dict[str, float | int | str | None]:
    """Median milliseconds per photo of pose estimation, garment parsing and its fallback.

    Args:
        photo: HxWx3 uint8 RGB photo with a person.
        runs: timed calls per step.
        parser_dir: a trained parser's model directory; without it parsing is not timed.
    """
    import torch

    from tryon.preprocess.blazepose import BlazePoseEstimator
    from tryon.preprocess.body_geometry import upper_clothes_region

    estimator = BlazePoseEstimator()
    pose = estimator.estimate(photo)
    report: dict[str, float | int | str | None] = {
        "photo": f"{photo.shape[1]}x{photo.shape[0]}",
        "runs": runs,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "pose_ms": 1000 * median_seconds(lambda: estimator.estimate(photo), runs),
        "geometry_region_ms": 1000
        * median_seconds(lambda: upper_clothes_region(pose.keypoints, photo.shape[:2]), runs),
        "parse_ms": None,
    }
    if parser_dir is not None:
        from tryon.preprocess.parser import HumanParser, parse_image
        from tryon.preprocess.person_mask import person_mask

        model = HumanParser.from_pretrained(parser_dir)
        mask = person_mask(photo, pose)
        report["parser_resolution"] = model.config.resolution
        report["parse_ms"] = 1000 * median_seconds(
            lambda: parse_image(model, photo, pose.keypoints, mask), runs
        )
    return report
