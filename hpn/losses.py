"""Perceptual losses (paper eq. 2): sum over VGG-16 layers of a criterion C between features.

``C`` is L2 (mean squared error) or L1 (mean absolute error); the trainer switches from L2 to
L1 at the half of each resolution level's iterations (see :func:`criterion_for_step`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from hpn.vgg import VGG16Features

Criterion = Literal["l1", "l2"]


def feature_distance(
    output: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    criterion: Criterion,
    weights: Mapping[str, float] | None = None,
) -> torch.Tensor:
    """Sum over layers of the mean L1 / L2 distance between two feature dicts (same keys)."""
    if criterion not in ("l1", "l2"):
        raise ValueError(f"criterion must be 'l1' or 'l2', got {criterion!r}")
    distance = F.l1_loss if criterion == "l1" else F.mse_loss
    total = torch.zeros((), device=next(iter(output.values())).device)
    for name, features in output.items():
        weight = 1.0 if weights is None else weights[name]
        total = total + weight * distance(features, target[name].detach())
    return total


class PerceptualLoss(nn.Module):
    """VGG-16 perceptual loss between an output image and its ground truth.

    Shapes: ``output`` and ``target`` (N, 3, H, W) in [-1, 1]; returns a scalar.
    The backbone is frozen; gradients flow only into ``output``.
    """

    def __init__(
        self, backbone: VGG16Features, layer_weights: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        if layer_weights is not None and set(layer_weights) != set(backbone.layers):
            raise ValueError(
                f"layer_weights keys {sorted(layer_weights)} must equal the backbone's "
                f"layers {list(backbone.layers)}"
            )
        self.layer_weights = dict(layer_weights) if layer_weights is not None else None

    def forward(
        self, output: torch.Tensor, target: torch.Tensor, criterion: Criterion = "l1"
    ) -> torch.Tensor:
        if output.shape != target.shape:
            raise ValueError(
                f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape"
            )
        with torch.no_grad():
            target_features = self.backbone(target)
        return feature_distance(
            self.backbone(output), target_features, criterion, self.layer_weights
        )


def criterion_for_step(step_in_level: int, steps_per_level: int) -> Criterion:
    """The paper's schedule: L2 for the first half of a level's iterations, L1 for the second."""
    if steps_per_level <= 0:
        raise ValueError(f"steps_per_level must be positive, got {steps_per_level}")
    if not 0 <= step_in_level < steps_per_level:
        raise ValueError(f"step {step_in_level} is outside the level's {steps_per_level} steps")
    return "l2" if step_in_level < steps_per_level // 2 else "l1"
