"""Evaluate a trained HPN on a pose-transfer test set, next to the trivial baseline.

The baseline "return the reference image unchanged" is what a model scores if it learns
nothing about pose; a useful model must beat it on SSIM and local-SSIM (both protocol B,
:mod:`core.metrics`, :mod:`hpn.metrics`). Images are scored at the model's resolution (the
data set's images are resized to it by :func:`hpn.pairs.resize_pair_batch` when they differ).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from core.images import as_uint8_image
from core.metrics import ssim
from core.posemaps import pose_maps_batch
from core.skeleton import draw_skeleton
from hpn.metrics import local_ssim
from hpn.model import HPN
from hpn.pairs import resize_pair_batch
from hpn.pckh import pckh_joints, pooled_pckh


@dataclasses.dataclass(frozen=True)
class PoseTransferScores:
    """Mean scores over a test set (local-SSIM averages the samples with any known centre).

    ``ssim_win_rate`` (share of pairs where the model's SSIM beats the baseline's) and
    ``ssim_gain_sem`` (standard error of the mean per-pair SSIM gain) say whether a gap
    between the two means is larger than the pair-to-pair noise. The PCKh fields
    (:mod:`hpn.pckh`) are None unless a keypoint detector was given; ``ground_truth_pckh``
    (the detector on the real target images) is the ceiling the detector itself allows.
    """

    count: int
    resolution: int
    ssim: float
    local_ssim: float
    baseline_ssim: float
    baseline_local_ssim: float
    ssim_win_rate: float
    ssim_gain_sem: float
    protocol: str = "SSIM protocol B (DATA.md), uint8 RGB; local-SSIM over 44 regions"
    pckh: float | None = None
    baseline_pckh: float | None = None
    ground_truth_pckh: float | None = None

    def as_dict(self) -> dict[str, float | int | str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """Scores plus a few example rows (reference | target pose | output | ground truth)."""

    scores: PoseTransferScores
    examples: list[list[torch.Tensor]]


def predict(model: HPN, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's output for a batch already at its resolution (no grad, model's device).

    Shapes: batch images (N, 3, R, R), ``target_keypoints`` (N, 18, 2); returns (N, 3, R, R).
    """
    device = next(model.parameters()).device
    resolution = model.resolution
    maps = pose_maps_batch(
        batch["target_keypoints"].to(device),
        model.pose_map_size,
        model.config.pose_sigma,
        image_size=(resolution, resolution),
    )
    with torch.no_grad():
        return model(batch["reference"].to(device), maps).float().cpu()


def evaluate_pose_transfer(
    model: HPN,
    dataset: Dataset,
    limit: int | None = None,
    batch_size: int = 8,
    num_examples: int = 4,
    show_progress: bool = True,
    detect_keypoints: Callable[[np.ndarray], np.ndarray] | None = None,
) -> EvaluationResult:
    """SSIM / local-SSIM of ``model`` and of the reference-unchanged baseline on ``dataset``.

    Args:
        model: a trained HPN (put in eval mode here); its device is used.
        dataset: items as in :mod:`hpn.pairs`, at any square resolution.
        limit: score only the first ``limit`` items (None = all).
        batch_size: items per forward pass.
        num_examples: rows kept for an evaluation grid.
        show_progress: show a tqdm bar.
        detect_keypoints: HxWx3 uint8 RGB -> (18, 2) pixel keypoints, NaN where missing (all
            NaN when nobody is found); given, PCKh is scored on outputs, references and
            targets.

    Returns:
        The mean scores and ``num_examples`` grid rows.
    """
    model.eval()
    size = len(dataset)  # type: ignore[arg-type]
    if size == 0:
        raise ValueError("the evaluation data set is empty")
    if limit is not None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        dataset = Subset(dataset, range(min(limit, size)))
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    model_scores: list[tuple[float, float]] = []
    baseline_scores: list[tuple[float, float]] = []
    examples: list[list[torch.Tensor]] = []
    pckh_scores: dict[str, list[np.ndarray]] = {"output": [], "reference": [], "target": []}
    resolution = model.resolution
    with tqdm(total=len(dataset), desc="eval", unit="pair", disable=not show_progress) as bar:  # type: ignore[arg-type]
        for raw in loader:
            batch = resize_pair_batch(raw, resolution)
            outputs = predict(model, batch)
            for index, output in enumerate(outputs):
                reference, target = batch["reference"][index], batch["target"][index]
                keypoints = batch["target_keypoints"][index]
                model_scores.append((ssim(output, target), local_ssim(output, target, keypoints)))
                baseline_scores.append(
                    (ssim(reference, target), local_ssim(reference, target, keypoints))
                )
                if detect_keypoints is not None:
                    images = {"output": output, "reference": reference, "target": target}
                    for name, image in images.items():
                        detected = detect_keypoints(as_uint8_image(image))
                        pckh_scores[name].append(pckh_joints(detected, keypoints.numpy()))
                if len(examples) < num_examples:
                    pose = draw_skeleton(keypoints, resolution, resolution)
                    examples.append([reference, pose, output, target])
            bar.update(len(outputs))
    scores = PoseTransferScores(
        count=len(model_scores),
        resolution=resolution,
        ssim=_mean([score[0] for score in model_scores]),
        local_ssim=_mean([score[1] for score in model_scores]),
        baseline_ssim=_mean([score[0] for score in baseline_scores]),
        baseline_local_ssim=_mean([score[1] for score in baseline_scores]),
        **_paired_ssim_gain([score[0] for score in model_scores], [b[0] for b in baseline_scores]),
        **(_pckh_fields(pckh_scores) if detect_keypoints is not None else {}),
    )
    return EvaluationResult(scores=scores, examples=examples)


def _pckh_fields(per_image: dict[str, list[np.ndarray]]) -> dict[str, float]:
    return {
        "pckh": pooled_pckh(per_image["output"]),
        "baseline_pckh": pooled_pckh(per_image["reference"]),
        "ground_truth_pckh": pooled_pckh(per_image["target"]),
    }


def _paired_ssim_gain(model: Sequence[float], baseline: Sequence[float]) -> dict[str, float]:
    gains = np.asarray(model) - np.asarray(baseline)
    sem = float(gains.std(ddof=1) / math.sqrt(len(gains))) if len(gains) > 1 else float("nan")
    return {"ssim_win_rate": float(np.mean(gains > 0)), "ssim_gain_sem": sem}


def _mean(values: Sequence[float]) -> float:
    known = [value for value in values if not math.isnan(value)]
    return float(np.mean(known)) if known else float("nan")
