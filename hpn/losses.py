"""HPN's losses (paper eq. 2-4) on the base layer's perceptual loss (:mod:`core.perceptual`).

The global term is :class:`core.perceptual.PerceptualLoss` with criterion C, L2 (mean squared
error) or L1 (mean absolute error); the trainer switches from L2 to L1 at the half of each
resolution level's iterations (see :func:`criterion_for_step`).

The local-descriptor loss (eq. 4) applies the same criterion to ``side x side`` crops
(side = resolution / 8) of output and ground truth around the local-descriptor centres of the
ground truth's keypoints (:mod:`hpn.local_descriptors`), summed over descriptors as in the
paper and averaged over the batch; missing centres contribute zero. :class:`PoseTransferLoss`
is the total L = L_global + local_weight * L_local the HPN trainer optimises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from core.perceptual import (
    Criterion,
    PerceptualLoss,
    VGG16Features,
    feature_distance,
    feature_distance_per_sample,
)
from hpn.local_descriptors import (
    crop_regions,
    descriptor_count_for_resolution,
    local_descriptor_centers,
    region_side,
)


def criterion_for_step(step_in_level: int, steps_per_level: int) -> Criterion:
    """The paper's schedule: L2 for the first half of a level's iterations, L1 for the second."""
    if steps_per_level <= 0:
        raise ValueError(f"steps_per_level must be positive, got {steps_per_level}")
    if not 0 <= step_in_level < steps_per_level:
        raise ValueError(f"step {step_in_level} is outside the level's {steps_per_level} steps")
    return "l2" if step_in_level < steps_per_level // 2 else "l1"


def minimum_input_side(backbone: VGG16Features) -> int:
    """Smallest image side the backbone can read: 2 ** (max-pools before its deepest layer)."""
    pools = sum(isinstance(layer, nn.MaxPool2d) for layer in backbone.features)
    return 2**pools


class LocalPerceptualLoss(nn.Module):
    """Local-descriptor perceptual loss (paper eq. 4), sharing the global loss's backbone.

    Shapes: ``output``, ``target`` (N, 3, R, R) in [-1, 1]; ``centers`` (N, D, 2) pixel
    (x, y) of the ground truth's local-descriptor centres, NaN for missing. Returns a scalar:
    the sum over descriptors (missing ones count zero) of the perceptual distance of the
    ``R/8`` crops, averaged over the batch.
    """

    def __init__(
        self, backbone: VGG16Features, layer_weights: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        self.perceptual = PerceptualLoss(backbone, layer_weights)

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        centers: torch.Tensor,
        criterion: Criterion = "l1",
    ) -> torch.Tensor:
        if output.shape != target.shape:
            raise ValueError(
                f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape"
            )
        side = region_side(output.shape[-1])
        needed = minimum_input_side(self.perceptual.backbone)
        if side < needed:
            raise ValueError(
                f"local regions of {side} px (resolution {output.shape[-1]} / 8) are smaller than "
                f"the {needed} px the backbone's deepest layer needs; train at resolution >= "
                f"{8 * needed} or read shallower layers"
            )
        output_crops, valid = crop_regions(output, centers, side)
        with torch.no_grad():
            target_crops, _ = crop_regions(target, centers, side)
            target_features = self.perceptual.backbone(target_crops.flatten(0, 1))
        per_crop = feature_distance_per_sample(
            self.perceptual.backbone(output_crops.flatten(0, 1)),
            target_features,
            criterion,
            self.perceptual.layer_weights,
        )
        weights = valid.flatten().to(per_crop.dtype)
        return (per_crop * weights).view(valid.shape).sum(dim=1).mean()


PIXEL_SCALE = 127.5  # pixel terms are measured in 0-255 units, like the Caffe backbone's input


@dataclass(frozen=True)
class LossTerms:
    """The terms of one evaluation of :class:`PoseTransferLoss` (disabled terms are 0)."""

    total: torch.Tensor
    global_: torch.Tensor
    local: torch.Tensor
    pixel: torch.Tensor


class PoseTransferLoss(nn.Module):
    """HPN's training loss: L = L_global + local_weight * L_local (paper eq. 2-4).

    The number of local descriptors follows the output resolution
    (:func:`hpn.local_descriptors.descriptor_count_for_resolution`: 18 up to 128^2, 31 up to
    512^2, 44 at 1024^2), centred on the ground truth's keypoints.

    Beyond the paper, ``pixel_weight > 0`` adds ``pixel_weight * C(X', X_hat)`` on the pixels
    themselves in 0-255 units (same criterion C and schedule), which puts it on the scale of
    the global perceptual term. Default 0 (the paper). It exists for short CPU runs: HED's
    VGG-16 was fine-tuned for edges and constrains colour weakly, so a few hundred steps of
    perceptual loss alone leave colour casts that a pixel term removes.

    Args:
        backbone: the frozen VGG-16 features (shared by both terms).
        use_local: the ablation switch "LD" of Table 1.
        local_weight: weight of L_local (1.0 in the paper).
        pixel_weight: weight of the pixel term (0 in the paper).
        layer_weights: optional per-layer weights of the perceptual distance.
    """

    def __init__(
        self,
        backbone: VGG16Features,
        use_local: bool = True,
        local_weight: float = 1.0,
        pixel_weight: float = 0.0,
        layer_weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        if local_weight < 0 or pixel_weight < 0:
            raise ValueError(
                f"loss weights must be >= 0, got local {local_weight}, pixel {pixel_weight}"
            )
        self.global_loss = PerceptualLoss(backbone, layer_weights)
        self.local_loss = LocalPerceptualLoss(backbone, layer_weights)
        self.use_local = use_local
        self.local_weight = local_weight
        self.pixel_weight = pixel_weight

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_keypoints: torch.Tensor,
        criterion: Criterion,
    ) -> LossTerms:
        """Shapes: images (N, 3, R, R); ``target_keypoints`` (N, 18, 2) pixels of R x R."""
        global_term = self.global_loss(output, target, criterion)
        zero = torch.zeros_like(global_term)
        local_term, pixel_term = zero, zero
        if self.use_local:
            count = descriptor_count_for_resolution(output.shape[-1])
            centers = local_descriptor_centers(target_keypoints.float(), count)
            local_term = self.local_loss(output, target, centers, criterion)
        if self.pixel_weight > 0:
            pixels = {"pixels": output.float() * PIXEL_SCALE}
            pixel_term = feature_distance(
                pixels, {"pixels": target.float() * PIXEL_SCALE}, criterion
            )
        total = global_term + self.local_weight * local_term + self.pixel_weight * pixel_term
        return LossTerms(total, global_term, local_term, pixel_term)


def ssim_map(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Differentiable protocol-B SSIM map (Gaussian window, sigma 1.5, 11 taps, population
    covariances: what :func:`core.metrics.ssim` computes), averaged over the colour channels.
    Borders are reflected the way torch pads (the protocol crops them from its mean).

    Why: the warp-and-refine's fill is judged by SSIM, and its perceptual and pixel losses
    alone learned a fill of the holes that scores below plain Telea inpainting (docs/hpn.md).

    Shapes: (N, C, H, W) images in [-1, 1]; returns (N, 1, H, W).
    """
    from core.metrics import PROTOCOL_B_WINDOW, SIGMA

    taps = torch.arange(PROTOCOL_B_WINDOW, dtype=first.dtype, device=first.device)
    taps = torch.exp(-(((taps - PROTOCOL_B_WINDOW // 2) / SIGMA) ** 2) / 2)
    taps = taps / taps.sum()
    channels = first.shape[1]
    rows = taps.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    cols = taps.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    pad = PROTOCOL_B_WINDOW // 2

    def blur(image: torch.Tensor) -> torch.Tensor:
        padded = torch.nn.functional.pad(image, (pad, pad, pad, pad), mode="reflect")
        down = torch.nn.functional.conv2d(padded, rows, groups=channels)
        return torch.nn.functional.conv2d(down, cols, groups=channels)

    first, second = (first + 1) / 2, (second + 1) / 2  # SSIM's luminance term needs 0-based
    mean_a, mean_b = blur(first), blur(second)
    var_a = blur(first * first) - mean_a**2
    var_b = blur(second * second) - mean_b**2
    covariance = blur(first * second) - mean_a * mean_b
    c1, c2 = 0.01**2, 0.03**2  # data range 1
    numerator = (2 * mean_a * mean_b + c1) * (2 * covariance + c2)
    denominator = (mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)
    return (numerator / denominator).mean(dim=1, keepdim=True)
