"""The flow net's training objective: what the warped garment must match, and how smooth.

Pure functions for each term, and :class:`FlowLoss` that sums them over the cascade's scales
with the weights of :class:`flow.model.FlowLossConfig`:

- L1 between the warped garment and the worn garment, inside the target mask (every scale);
- VGG-16 perceptual loss (``core.perceptual.PerceptualLoss``, L1 criterion) between the two
  garments multiplied by the target mask (full scale only: it is the expensive term);
- L1 between the warped garment mask and the target mask (every scale);
- second-order Charbonnier smoothness of each flow, measured in pixels of its own grid.

Coarser scales weigh ``scale_decay`` times the next finer one. Each scale warps the
garment average-pooled to that scale, which is possible without rescaling the flow because
flows are in normalised units (see :mod:`flow.warp`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.perceptual import PerceptualLoss
from flow.model import FlowLossConfig
from flow.warp import warp

CHARBONNIER_EPSILON = 1e-3


def masked_l1(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the pixels inside ``mask`` (and all channels).

    Shapes: output, target (N, C, H, W); mask (N, 1, H, W) in [0, 1]; returns a scalar. An
    empty mask gives 0 rather than NaN (the denominator is at least one pixel).
    """
    if output.shape != target.shape:
        raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ")
    if mask.shape != (output.shape[0], 1, *output.shape[2:]):
        raise ValueError(f"mask must be (N, 1, H, W) like the images, got {tuple(mask.shape)}")
    error = ((output - target).abs() * mask).sum()
    return error / (mask.sum() * output.shape[1]).clamp_min(output.shape[1])


def charbonnier(values: torch.Tensor, epsilon: float = CHARBONNIER_EPSILON) -> torch.Tensor:
    """Mean of ``sqrt(x^2 + eps^2) - eps``: L1-like for large x, smooth at 0, zero at 0."""
    return (values.square() + epsilon**2).sqrt().mean() - epsilon


def second_order_smoothness(
    flow: torch.Tensor, epsilon: float = CHARBONNIER_EPSILON
) -> torch.Tensor:
    """Charbonnier penalty on the flow's second differences along x and along y.

    Affine flows (translation, scale, shear) cost nothing, so the term fights folds and
    noise without pulling the warp towards the identity. Measured in pixels of the flow's
    own grid so that the penalty means the same at every cascade level.

    Shapes: flow (N, 2, H, W) in normalised units, H and W at least 3; returns a scalar.
    """
    if flow.ndim != 4 or flow.shape[1] != 2 or min(flow.shape[-2:]) < 3:
        raise ValueError(f"flow must be (N, 2, H>=3, W>=3), got {tuple(flow.shape)}")
    height, width = flow.shape[-2:]
    to_pixels = torch.tensor([width / 2.0, height / 2.0], dtype=flow.dtype, device=flow.device)
    pixels = flow * to_pixels.view(1, 2, 1, 1)
    along_x = pixels[..., :, 2:] - 2 * pixels[..., :, 1:-1] + pixels[..., :, :-2]
    along_y = pixels[..., 2:, :] - 2 * pixels[..., 1:-1, :] + pixels[..., :-2, :]
    return charbonnier(along_x, epsilon) + charbonnier(along_y, epsilon)


def _downsample(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    factor = image.shape[-1] // size[1]
    return image if factor == 1 else F.avg_pool2d(image, factor)


class FlowLoss(nn.Module):
    """Multi-scale objective of the appearance-flow net; returns every term and their total.

    Args:
        config: the loss weights.
        perceptual: the shared perceptual loss (needed when ``config.perceptual_weight > 0``).
    """

    def __init__(self, config: FlowLossConfig, perceptual: PerceptualLoss | None = None) -> None:
        super().__init__()
        if config.perceptual_weight > 0 and perceptual is None:
            raise ValueError(
                "perceptual_weight > 0 needs a PerceptualLoss (VGG-16); pass one or set the "
                "weight to 0"
            )
        self.config = config
        self.perceptual = perceptual

    def forward(
        self,
        flows: Sequence[torch.Tensor],
        garment: torch.Tensor,
        garment_mask: torch.Tensor,
        worn: torch.Tensor,
        target_mask: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Weighted loss terms of one batch.

        Args:
            flows: the cascade's flows, coarsest first, the last at full resolution.
            garment: the flat product photo (N, 3, H, W) in [-1, 1].
            garment_mask: its mask (N, 1, H, W).
            worn: the garment as worn, the ground truth (N, 3, H, W) in [-1, 1].
            target_mask: where the worn garment is (N, 1, H, W).

        Returns:
            ``l1``, ``perceptual``, ``mask``, ``smoothness`` (each already weighted) and
            ``total``, all scalars.
        """
        if not flows or flows[-1].shape[-2:] != garment.shape[-2:]:
            raise ValueError("the last flow must be at the garment's full resolution")
        weights = self.config
        terms = {name: garment.new_zeros(()) for name in ("l1", "mask", "smoothness")}
        for depth, flow in enumerate(reversed(flows)):
            scale_weight = weights.scale_decay**depth
            size = (flow.shape[-2], flow.shape[-1])
            level_target_mask = _downsample(target_mask, size)
            warped = warp(_downsample(garment, size), flow)
            warped_mask = warp(_downsample(garment_mask, size), flow)
            level_l1 = masked_l1(warped, _downsample(worn, size), level_target_mask)
            terms["l1"] = terms["l1"] + scale_weight * weights.l1_weight * level_l1
            level_mask = F.l1_loss(warped_mask, level_target_mask)
            terms["mask"] = terms["mask"] + scale_weight * weights.mask_weight * level_mask
            if min(size) >= 3:
                level_smooth = second_order_smoothness(flow)
                terms["smoothness"] = (
                    terms["smoothness"] + scale_weight * weights.smoothness_weight * level_smooth
                )
        terms["perceptual"] = garment.new_zeros(())
        if self.perceptual is not None and weights.perceptual_weight > 0:
            warped_full = warp(garment, flows[-1])
            terms["perceptual"] = weights.perceptual_weight * self.perceptual(
                warped_full * target_mask, worn * target_mask, criterion="l1"
            )
        terms["total"] = terms["l1"] + terms["perceptual"] + terms["mask"] + terms["smoothness"]
        return terms
