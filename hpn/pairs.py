"""The batch contract between pose-transfer data sets and HPN's trainer and evaluator.

A data set item is a dict with at least ``reference`` (3, R, R) and ``target`` (3, R, R)
float tensors in [-1, 1] (the same person in two poses) and ``target_keypoints`` (18, 2)
pixel (x, y) of the R x R target, NaN for missing (``tryon.data.DeepFashionPairs`` yields
exactly this). The default DataLoader collation stacks them into (N, ...) batches.
A batch at another resolution than the level being trained is resized here, so one data set
can feed every level of progressive training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from core.keypoints import NUM_KEYPOINTS

PAIR_KEYS: tuple[str, ...] = ("reference", "target", "target_keypoints")


def check_pair_batch(batch: Mapping[str, Any]) -> None:
    """Raise ValueError saying what is wrong when ``batch`` breaks the contract above."""
    missing = [key for key in PAIR_KEYS if key not in batch]
    if missing:
        raise ValueError(
            f"a pose-transfer batch needs keys {list(PAIR_KEYS)}; missing {missing} "
            f"(got {sorted(batch)})"
        )
    reference, target, keypoints = (batch[key] for key in PAIR_KEYS)
    if reference.ndim != 4 or reference.shape[1] != 3 or reference.shape != target.shape:
        raise ValueError(
            f"reference and target must both be (N, 3, R, R) in [-1, 1]; got "
            f"{tuple(reference.shape)} and {tuple(target.shape)}"
        )
    if reference.shape[2] != reference.shape[3]:
        raise ValueError(
            f"images must be square (N, 3, R, R); got {tuple(reference.shape)}: pad or crop the "
            "data set to a square resolution"
        )
    if tuple(keypoints.shape) != (reference.shape[0], NUM_KEYPOINTS, 2):
        raise ValueError(
            f"target_keypoints must be (N, 18, 2) pixel (x, y); got {tuple(keypoints.shape)}"
        )


def resize_pair_batch(
    batch: Mapping[str, Any], resolution: int, device: torch.device | None = None
) -> dict[str, torch.Tensor]:
    """The batch's images at ``resolution`` (antialiased bilinear) with keypoints rescaled.

    Keypoints move pixel-centre to pixel-centre (``x' = (x + 0.5) * s - 0.5``), like
    :func:`core.keypoints.scale_keypoints`. A batch already at ``resolution`` is returned as is
    (moved to ``device``).

    Returns:
        ``{"reference", "target", "target_keypoints"}`` as float32 tensors on ``device``.
    """
    check_pair_batch(batch)
    reference = batch["reference"].to(device=device, dtype=torch.float32)
    target = batch["target"].to(device=device, dtype=torch.float32)
    keypoints = batch["target_keypoints"].to(device=device, dtype=torch.float32)
    source = reference.shape[-1]
    if source != resolution:
        scale = resolution / source

        def resize(images: torch.Tensor) -> torch.Tensor:
            return F.interpolate(
                images, size=(resolution, resolution), mode="bilinear", antialias=True,
                align_corners=False,
            ).clamp(-1.0, 1.0)  # fmt: skip

        reference, target = resize(reference), resize(target)
        keypoints = (keypoints + 0.5) * scale - 0.5
    return {"reference": reference, "target": target, "target_keypoints": keypoints}
