"""The appearance-flow network (paper §4.4): garment + masks -> 2-D flow -> warped garment.

Architecture (our choice; the paper only says "an encoder-decoder predicts appearance flows"):

- Two convolutional pyramids, one for the *source* (garment RGB + its own mask, the
  paper's "reference pose mask") and one for the *target* (the target region mask, plus
  optional target pose maps). Both also read the normalised (x, y) coordinates of each
  pixel (the identity grid of :mod:`flow.warp`, two channels), so features know where they
  are in the image; the flow is an absolute displacement, and zero-padded convolutions
  alone only sense position near the borders. Level 0 is full resolution, each further
  level halves the size (stride-2 conv), so the coarsest stride is
  ``2 ** (len(channels) - 1)``.
- A coarse-to-fine cascade (PF-AFN / FS-VTON style, plain ops only): the coarsest level
  predicts a flow from the concatenated source and target features; every finer level
  upsamples the previous flow (bilinear, no rescaling since flows are in normalised
  units), warps its source features with it and predicts a residual correction. The
  finest level works at full resolution, so no upsampled low-resolution flow reaches the
  output (the "cracks" pitfall of DATA.md).
- Outputs the full-resolution flow, the warped garment and the warped mask through
  :func:`flow.warp.warp` (the flow convention is documented there).

No layer depends on the image size: any H, W that are multiples of the coarsest stride work.
No correlation layers, no per-sample dynamic weights: ONNX (opset >= 16) exports it with
dynamic batch and spatial axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from core.keypoints import NUM_KEYPOINTS
from core.modelio import PretrainedMixin
from core.perceptual import DEFAULT_LAYERS
from core.posemaps import pose_maps_batch
from flow.warp import identity_grid, warp

_NEGATIVE_SLOPE = 0.1
_RESIDUAL_INIT_STD = 1e-3
_COORDINATES = 2  # x and y channels of the identity grid


@dataclass(frozen=True)
class FlowLossConfig:
    """Weights of the training objective (see :mod:`flow.losses`).

    Attributes:
        l1_weight: L1 between warped and worn garment inside the target mask.
        perceptual_weight: VGG-16 perceptual loss (L1 criterion) on the masked garments; the
            HED backbone reads 0-255 inputs, so its feature distances are large and this
            weight is small.
        mask_weight: L1 between the warped garment mask and the target mask.
        smoothness_weight: second-order Charbonnier smoothness of each flow.
        perceptual_layers: VGG-16 layers the perceptual loss reads.
        scale_decay: weight of each coarser scale relative to the next finer one in the
            multi-scale L1 / mask / smoothness terms (the perceptual term is full-scale only).
    """

    l1_weight: float = 1.0
    perceptual_weight: float = 0.02
    mask_weight: float = 1.0
    smoothness_weight: float = 0.5
    perceptual_layers: tuple[str, ...] = DEFAULT_LAYERS
    scale_decay: float = 0.5


@dataclass(frozen=True)
class FlowConfig:
    """Everything that builds an :class:`AppearanceFlowNet` (saved as its ``config.json``).

    Attributes:
        channels: feature channels per pyramid level, level 0 at full resolution; one flow is
            predicted per level.
        pose_channels: channels of the optional target pose maps: 0 (not used) or 18 (one
            Gaussian map per COCO-18 keypoint of the person, see :func:`target_pose_maps`).
        pose_sigma_fraction: the maps' Gaussian sigma as a fraction of the image side (0.1 is
            the paper's 3.2 cells on its 32-cell grid).
        loss: weights of the training objective.
    """

    channels: tuple[int, ...] = (8, 16, 32, 64, 96)
    pose_channels: int = 0
    pose_sigma_fraction: float = 0.1
    loss: FlowLossConfig = field(default_factory=FlowLossConfig)

    def __post_init__(self) -> None:
        if len(self.channels) < 2 or any(channel <= 0 for channel in self.channels):
            raise ValueError(
                f"channels must list at least two positive widths, got {self.channels}"
            )
        if self.pose_channels not in (0, NUM_KEYPOINTS):
            raise ValueError(
                f"pose_channels must be 0 (off) or {NUM_KEYPOINTS} (COCO-18 maps), "
                f"got {self.pose_channels}"
            )
        if self.pose_sigma_fraction <= 0:
            raise ValueError(
                f"pose_sigma_fraction must be positive, got {self.pose_sigma_fraction}"
            )

    @property
    def coarsest_stride(self) -> int:
        """Input height and width must be multiples of this."""
        return 2 ** (len(self.channels) - 1)

    @classmethod
    def small(cls) -> FlowConfig:
        """Five levels (stride 16), 0.8 M parameters, for CPU training.

        Trains without the perceptual term: on a CPU the VGG-16 forward and backward cost
        ~5-20x the flow net itself (see docs/flow.md), and on flat synthetic garments the
        masked L1 carries the same signal.
        """
        return cls(channels=(8, 16, 32, 64, 96), loss=FlowLossConfig(perceptual_weight=0.0))

    @classmethod
    def full(cls) -> FlowConfig:
        """Six levels (stride 32), 11 M parameters, perceptual loss on: for GPU training."""
        return cls(channels=(32, 64, 128, 192, 256, 256))


def target_pose_maps(
    config: FlowConfig, keypoints: torch.Tensor, height: int, width: int
) -> torch.Tensor | None:
    """The pose-map input a model of ``config`` expects (None when it uses none).

    Args:
        config: the model's config.
        keypoints: (N, 18, 2) pixel (x, y) of the target person in the H x W input, NaN for
            missing (an all-zero map).
        height: input rows H.
        width: input columns W (square inputs only: ``hpn.pose_maps_batch`` draws square
            grids).

    Returns:
        (N, 18, H, W) Gaussian maps in [0, 1], or None when ``config.pose_channels == 0``.
    """
    if not config.pose_channels:
        return None
    if height != width:
        raise ValueError(f"pose maps need a square input, got {height}x{width}")
    sigma = config.pose_sigma_fraction * height
    return pose_maps_batch(keypoints, height, sigma=sigma, image_size=(height, width))


class FlowOutput(NamedTuple):
    """What the network returns (a tuple, so ONNX export sees three plain outputs).

    Shapes: flow (N, 2, H, W) in normalised offsets (see :mod:`flow.warp`); warped_garment
    (N, 3, H, W) in [-1, 1], zero outside the source; warped_mask (N, 1, H, W) in [0, 1].
    """

    flow: torch.Tensor
    warped_garment: torch.Tensor
    warped_mask: torch.Tensor


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
        nn.LeakyReLU(_NEGATIVE_SLOPE),
    )


class FeaturePyramid(nn.Module):
    """Two convs per level; level 0 keeps the input size, each further level halves it."""

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        widths = (in_channels, *channels)
        self.levels = nn.ModuleList(
            nn.Sequential(
                _conv(widths[index], widths[index + 1], stride=1 if index == 0 else 2),
                _conv(widths[index + 1], widths[index + 1]),
            )
            for index in range(len(channels))
        )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        features = []
        hidden = image
        for level in self.levels:
            hidden = level(hidden)
            features.append(hidden)
        return features


class FlowEstimator(nn.Module):
    """Predicts a flow correction from (warped) source features beside target features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(2 * channels, channels), _conv(channels, channels))
        self.head = nn.Conv2d(channels, 2, 3, padding=1)
        # Small but non-zero: the cascade starts near the identity warp while every layer
        # still receives a gradient from the first step.
        nn.init.normal_(self.head.weight, std=_RESIDUAL_INIT_STD)
        nn.init.zeros_(self.head.bias)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(torch.cat((source, target), dim=1)))


class AppearanceFlowNet(PretrainedMixin, nn.Module):
    """Predicts where each target pixel reads the garment, and applies it.

    Inputs: ``garment`` (N, 3, H, W) in [-1, 1], ``garment_mask`` (N, 1, H, W) and
    ``target_mask`` (N, 1, H, W) in {0, 1}, and ``pose_maps`` (N, P, H, W) when
    ``config.pose_channels = P > 0``. H and W must be multiples of ``config.coarsest_stride``.
    """

    model_type = "appearance_flow"
    config_class = FlowConfig

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        self.source_pyramid = FeaturePyramid(4 + _COORDINATES, config.channels)
        self.target_pyramid = FeaturePyramid(
            1 + _COORDINATES + config.pose_channels, config.channels
        )
        self.estimators = nn.ModuleList(FlowEstimator(width) for width in config.channels)

    def _check_inputs(
        self,
        garment: torch.Tensor,
        garment_mask: torch.Tensor,
        target_mask: torch.Tensor,
        pose_maps: torch.Tensor | None,
    ) -> None:
        if torch.jit.is_tracing():  # checked eagerly on the example inputs already
            return
        if garment.ndim != 4 or garment.shape[1] != 3:
            raise ValueError(f"garment must be (N, 3, H, W) RGB, got {tuple(garment.shape)}")
        height, width = garment.shape[-2:]
        stride = self.config.coarsest_stride
        if height % stride or width % stride:
            raise ValueError(
                f"height and width must be multiples of {stride} (the coarsest stride of "
                f"{len(self.config.channels)} levels), got {height}x{width}; resize or pad"
            )
        expected = {"garment_mask": 1, "target_mask": 1}
        tensors = {"garment_mask": garment_mask, "target_mask": target_mask}
        if self.config.pose_channels:
            if pose_maps is None:
                raise ValueError(
                    f"this model was built with pose_channels={self.config.pose_channels}: "
                    "pass the target pose maps"
                )
            expected["pose_maps"] = self.config.pose_channels
            tensors["pose_maps"] = pose_maps
        elif pose_maps is not None:
            raise ValueError("this model was built without pose maps (pose_channels=0)")
        for name, tensor in tensors.items():
            wanted = (garment.shape[0], expected[name], height, width)
            if tuple(tensor.shape) != wanted:
                raise ValueError(f"{name} must have shape {wanted}, got {tuple(tensor.shape)}")

    def forward_flows(
        self,
        garment: torch.Tensor,
        garment_mask: torch.Tensor,
        target_mask: torch.Tensor,
        pose_maps: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """The flow of every cascade level, coarsest first (multi-scale supervision reads them).

        Returns:
            One (N, 2, H / 2**k, W / 2**k) flow per level k, ordered k = L-1 ... 0.
        """
        self._check_inputs(garment, garment_mask, target_mask, pose_maps)
        height, width = garment.shape[-2:]
        grid = identity_grid(height, width, garment.dtype, garment.device)
        coordinates = grid.expand(garment.shape[0], -1, -1, -1)
        target_parts = [target_mask, coordinates] + ([] if pose_maps is None else [pose_maps])
        source_features = self.source_pyramid(torch.cat((garment, garment_mask, coordinates), 1))
        target_features = self.target_pyramid(torch.cat(target_parts, dim=1))
        coarsest = len(self.estimators) - 1
        flow = self.estimators[coarsest](source_features[coarsest], target_features[coarsest])
        flows = [flow]
        for level in range(coarsest - 1, -1, -1):
            flow = F.interpolate(flow, scale_factor=2.0, mode="bilinear", align_corners=False)
            warped_source = warp(source_features[level], flow)
            flow = flow + self.estimators[level](warped_source, target_features[level])
            flows.append(flow)
        return flows

    def forward(
        self,
        garment: torch.Tensor,
        garment_mask: torch.Tensor,
        target_mask: torch.Tensor,
        pose_maps: torch.Tensor | None = None,
    ) -> FlowOutput:
        """Warp the garment and its mask onto the target region.

        Args:
            garment: the flat product photo, [-1, 1] RGB.
            garment_mask: where the garment is in that photo.
            target_mask: where the garment must lie on the person.
            pose_maps: the target pose's Gaussian maps, only when the config uses them.

        Returns:
            :class:`FlowOutput` (flow, warped garment, warped mask), all at the input size.
        """
        flow = self.forward_flows(garment, garment_mask, target_mask, pose_maps)[-1]
        return FlowOutput(flow, warp(garment, flow), warp(garment_mask, flow))
