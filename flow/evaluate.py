"""Evaluation of garment warps: masked SSIM and mask IoU, for the net and the baselines alike.

Protocol (written into every result so numbers are never mixed):

- ``masked_ssim``: the warped garment and the worn garment (person x garment region) are
  converted to uint8 RGB, both multiplied by the binary target mask (Mask-SSIM of DATA.md),
  then compared with SSIM protocol B (:func:`core.metrics.ssim`: scikit-image's
  ``structural_similarity`` with ``gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, channel_axis=-1, data_range=255``). Mean over images.
- ``iou``: the warped garment mask thresholded at 0.5 against the target mask; per-image
  intersection over union, mean over images (an image whose two masks are both empty
  counts as 1).
- ``region_ssim``: the protocol-B SSIM map of the same two images averaged over the target
  mask's pixels only (texture where the garment is, not the black around it).
- ``feature_distance`` (when a function is given): e.g. the VGG-16 feature distance of the
  two masked images (lower is better).

Every method is a function from a batch to (warped garment, warped mask), so the learned
flow and the classical baselines go through the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate
from tqdm.auto import tqdm

from core.images import tensor_to_uint8
from core.metrics import region_ssim as core_region_ssim
from core.metrics import ssim
from flow.baselines import BASELINES, baseline_flow
from flow.model import AppearanceFlowNet, FlowConfig, target_pose_maps
from flow.warp import warp

PROTOCOL = (
    "masked_ssim: uint8 RGB x binary target mask, skimage SSIM gaussian_weights=True sigma=1.5 "
    "use_sample_covariance=False data_range=255 (protocol B); iou: warped mask > 0.5 vs target "
    "mask; both averaged per image"
)

Batch = Mapping[str, torch.Tensor]
WarpMethod = Callable[[Batch], tuple[torch.Tensor, torch.Tensor]]


def masked_ssim(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Mask-SSIM (protocol B) of one image pair.

    Shapes: output, target (3, H, W) in [-1, 1]; mask (1, H, W), inside where > 0.5.
    """
    inside = (mask[0] > 0.5).cpu().numpy()[:, :, None]
    return ssim(tensor_to_uint8(output) * inside, tensor_to_uint8(target) * inside)


def region_ssim(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean protocol-B SSIM map inside ``mask`` (NaN for an empty mask).

    Shapes: output, target (3, H, W) in [-1, 1]; mask (1, H, W), inside where > 0.5.
    """
    inside = (mask[0] > 0.5).cpu().numpy()
    return core_region_ssim(tensor_to_uint8(output), tensor_to_uint8(target), inside)


def mask_iou(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """Intersection over union of two masks thresholded at 0.5 (1.0 when both are empty)."""
    first, second = predicted > 0.5, target > 0.5
    union = (first | second).sum().item()
    return 1.0 if union == 0 else (first & second).sum().item() / union


def worn_garment(batch: Batch) -> torch.Tensor:
    """The ground truth: the person's pixels inside the garment region (zero elsewhere)."""
    return batch["person"] * batch["garment_region"]


def model_inputs(
    config: FlowConfig, batch: Batch
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(garment, garment mask, target mask, pose maps or None) of a batch, for the net.

    The target mask is the batch's ``target_mask`` when it has one (a net refining a
    keypoint fit reads the person's mask there), else the person's garment region; the pose
    maps, when the config uses them, are drawn from ``person_keypoints``.
    """
    garment = batch["garment"]
    pose = None
    if config.pose_channels:
        pose = target_pose_maps(config, batch["person_keypoints"], *garment.shape[-2:])
    target = batch["target_mask"] if "target_mask" in batch else batch["garment_region"]
    return garment, batch["garment_mask"], target, pose


def model_method(model: AppearanceFlowNet) -> WarpMethod:
    """The learned flow as an evaluation method."""

    def run(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        output = model(*model_inputs(model.config, batch))
        return output.warped_garment, output.warped_mask

    return run


def baseline_method(name: str) -> WarpMethod:
    """A classical baseline of :mod:`flow.baselines` as an evaluation method."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")

    def run(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        flow = baseline_flow(name, batch["garment_mask"], batch["garment_region"])
        return warp(batch["garment"], flow), warp(batch["garment_mask"], flow)

    return run


@torch.inference_mode()
def evaluate_warps(
    batches: Iterable[Batch],
    methods: Mapping[str, WarpMethod],
    total: int | None = None,
    feature_distance: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
) -> dict[str, object]:
    """Mean scores (module docstring) of every method over every image of ``batches``.

    Args:
        batches: dicts with ``garment``, ``garment_mask``, ``garment_region`` (the target
            mask) and ``person``, batched (N, C, H, W).
        methods: method name -> function from a batch to (warped garment, warped mask).
        total: number of batches, for the progress bar.
        feature_distance: (output, target) masked (3, H, W) images -> a distance; adds the
            ``feature_distance`` metric.

    Returns:
        ``{"masked_ssim": {method: mean}, "iou": ..., "region_ssim": ...,
        ["feature_distance": ...,] "images": count, "protocol": PROTOCOL,
        "per_image": {metric: {method: [score per image]}}}``.
    """
    metrics = ["masked_ssim", "iou", "region_ssim"]
    if feature_distance is not None:
        metrics.append("feature_distance")
    scores: dict[str, dict[str, list[float]]] = {m: {name: [] for name in methods} for m in metrics}
    for batch in tqdm(batches, total=total, desc="eval flow", unit="batch"):
        worn, target_mask = worn_garment(batch), batch["garment_region"]
        for name, method in methods.items():
            warped_garment, warped_mask = method(batch)
            for index in range(worn.shape[0]):
                output, truth, mask = warped_garment[index], worn[index], target_mask[index]
                scores["masked_ssim"][name].append(masked_ssim(output, truth, mask))
                scores["iou"][name].append(mask_iou(warped_mask[index], mask))
                scores["region_ssim"][name].append(region_ssim(output, truth, mask))
                if feature_distance is not None:
                    inside = (mask > 0.5).to(output.dtype)
                    scores["feature_distance"][name].append(
                        feature_distance(output * inside, truth * inside)
                    )
    images = len(next(iter(scores["iou"].values()), []))
    if images == 0:
        raise ValueError("no images to evaluate: the data split is empty")
    return {
        **{
            metric: {name: float(np.nanmean(values)) for name, values in by_method.items()}
            for metric, by_method in scores.items()
        },
        "images": images,
        "protocol": PROTOCOL,
        "per_image": scores,
    }


def margins_over_baselines(result: Mapping[str, object], method: str = "flow") -> dict:
    """How much ``method`` beats every other method, per metric (positive = better).

    Args:
        result: the output of :func:`evaluate_warps`.
        method: the method compared against the others.

    Returns:
        ``{metric: {other method: score[method] - score[other]}}``.
    """
    table: dict[str, dict[str, float]] = {}
    for metric in ("masked_ssim", "iou"):
        scores = result[metric]
        if not isinstance(scores, Mapping) or method not in scores:
            raise ValueError(f"{metric} has no scores for {method!r}")
        table[metric] = {
            other: float(scores[method] - value)
            for other, value in scores.items()
            if other != method
        }
    return table


def win_rates(result: Mapping[str, object], method: str = "flow") -> dict:
    """Fraction of images on which ``method`` scores strictly higher than each other method.

    A paired view of :func:`margins_over_baselines`: a small mean margin is convincing when
    it holds image by image.

    Returns:
        ``{metric: {other method: fraction in [0, 1]}}``.
    """
    per_image = result["per_image"]
    if not isinstance(per_image, Mapping):
        raise ValueError("result has no per-image scores; use evaluate_warps' output")
    table: dict[str, dict[str, float]] = {}
    for metric, scores in per_image.items():
        mine = np.asarray(scores[method])
        sign = -1.0 if metric == "feature_distance" else 1.0  # a distance: lower is better
        table[metric] = {
            other: float(np.mean(sign * (mine - np.asarray(values)) > 0))
            for other, values in scores.items()
            if other != method
        }
    return table


@torch.inference_mode()
def comparison_rows(
    batch: Batch, methods: Mapping[str, WarpMethod], count: int = 4
) -> list[torch.Tensor]:
    """Rows of a comparison grid: the garment, the worn garment, then each method's warp.

    Warps are shown multiplied by the target mask (what the metrics see). Columns are the
    first ``count`` pairs of the batch; the result goes to ``core.images.save_image_grid``.
    """
    target_mask = batch["garment_region"][:count]
    rows = [batch["garment"][:count], worn_garment(batch)[:count]]
    for method in methods.values():
        warped_garment, _ = method(batch)
        rows.append(warped_garment[:count] * target_mask)
    return rows


def _on_device(batches: Iterable[Mapping], device: torch.device) -> Iterator[Batch]:
    for batch in batches:
        yield {key: value.to(device) for key, value in batch.items() if torch.is_tensor(value)}


def evaluate_flow_model(
    model: AppearanceFlowNet,
    dataset: Dataset,
    batch_size: int = 8,
    limit: int | None = None,
    grid_pairs: int = 0,
) -> tuple[dict[str, object], list[torch.Tensor] | None]:
    """The flow net against every classical baseline on a test set (what ``tryon eval flow``
    reports).

    Args:
        model: the trained net, on the device to evaluate on.
        dataset: test pairs (see :func:`evaluate_warps`), at a multiple of the model's stride.
        batch_size: pairs per forward pass.
        limit: evaluate only the first ``limit`` pairs.
        grid_pairs: also return the rows of a comparison grid of this many pairs spread over
            the set (0: no grid).

    Returns:
        :func:`evaluate_warps`' result plus ``flow_minus_baseline`` and
        ``flow_better_fraction``, and the grid rows (None without a grid).
    """
    if batch_size <= 0 or (limit is not None and limit <= 0):
        raise ValueError("batch_size and limit must be positive")
    device = next(model.parameters()).device
    if limit is not None:
        dataset = Subset(dataset, range(min(limit, len(dataset))))  # type: ignore[arg-type]
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    methods = {"flow": model_method(model)}
    methods.update({name: baseline_method(name) for name in BASELINES})
    result = evaluate_warps(_on_device(loader, device), methods, total=len(loader))
    result.update(
        flow_minus_baseline=margins_over_baselines(result), flow_better_fraction=win_rates(result)
    )
    rows = None
    if grid_pairs:
        count = min(grid_pairs, len(dataset))  # type: ignore[arg-type]
        spread = [index * len(dataset) // count for index in range(count)]  # type: ignore[arg-type]
        batch = next(_on_device([default_collate([dataset[index] for index in spread])], device))
        rows = comparison_rows(batch, methods, count)
    return result, rows
