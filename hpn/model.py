"""The High-Resolution Pose Transfer Network (paper §3.1, §3.3, Fig. 2 and 4).

A U-Net that grows by one resolution level at a time, without fade-in. Widths follow one
rule: ``channels(r) = bottleneck_channels * bottleneck_size / r`` (channels halve as the
resolution doubles). At a level of resolution ``R`` the network is, top to bottom::

    image (N, 3, R, R) -> from_rgb[R]: 1x1 conv 3 -> channels(2R)
    encoder[r] for r = R, R/2, ..., 2B: Block(channels(2r) -> channels(r)) -> skip[r] -> avgpool
    encoder[B]: Block(channels(2B) -> channels(B))            the bottleneck, (C_B, B, B)
    concat pose maps (N, 18, B, B)
    decoder[B]: Block(channels(B) + 18 -> channels(B))
    decoder[r] for r = 2B, ..., R: nearest x2, concat skip[r], Block(channels(r/2)+channels(r)
                                   -> channels(r))
    to_rgb[R]: 1x1 conv channels(R) -> 3, tanh                 output (N, 3, R, R) in [-1, 1]

``Block`` = 2 x (3x3 conv, BatchNorm, LeakyReLU 0.2). The from-RGB projection of a level
outputs the width of the level above (channels(2R)), so when the network grows, the new
encoder block's pooled output has exactly the width the old top block already takes: old
blocks keep their shapes and weights. ``grow()`` adds ``encoder[2R]``, ``decoder[2R]`` and
new ``from_rgb`` / ``to_rgb`` layers, and drops the old 1x1 layers (the paper replaces them);
every kept layer stays trainable.

Choices the paper leaves open, made here: the output goes through ``tanh`` (keeps [-1, 1]
with gradients everywhere, unlike a clamp); the 1x1 layers have no activation; convolutions
use He (Kaiming normal, fan-in, LeakyReLU 0.2 gain) initialisation with zero biases, the 1x1
to-RGB layer the linear gain; BatchNorm starts at weight 1, bias 0.

Beyond the paper, off in every preset: ``image_skip`` adds the input image to the output in
``tanh``'s pre-image (``tanh(atanh(image) + to_rgb(hidden))``) and zero-initialises every
to-RGB layer, so a fresh level returns the reference unchanged and training learns only what
the new pose moves. In pose transfer most pixels (the backdrop, much of the torso) keep their
place, and the paper's network must relearn to copy them through the 1x1 layers at every
growth; with the skip a CPU-sized budget starts from the "reference unchanged" baseline
instead of from noise (docs/hpn.md, "Image skip").
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import nn

from core.keypoints import NUM_KEYPOINTS
from core.modelio import PretrainedMixin

LEAKY_SLOPE = 0.2
# The image skip clamps its input this close to +-1 (see _add_in_tanh_space).
IMAGE_SKIP_LIMIT = 1.0 - 1e-3


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


@dataclasses.dataclass(frozen=True)
class HPNConfig:
    """Shape of an HPN; everything else (current level) is training progress.

    Attributes:
        bottleneck_size: side of the bottleneck grid B, where pose maps are concatenated.
        bottleneck_channels: width at the bottleneck; every resolution r has
            ``bottleneck_channels * bottleneck_size / r`` channels.
        start_resolution: resolution of a freshly built model (first progressive level).
        final_resolution: largest resolution ``grow()`` may reach.
        pose_sigma: Gaussian width of the pose maps in bottleneck cells (the paper's 3.2 at
            32 x 32; scale it with the bottleneck size to keep the same relative width).
        image_channels: channels of the input and output images.
        image_skip: predict the output as a correction of the input image (beyond the
            paper; see the module docstring). Off in every preset.
        output_channels: channels of the output (None: ``image_channels``, an image); the
            warp-and-refine variant (:mod:`hpn.warp_refine`) reads 4 and writes 6.
        output_activation: "tanh" (an image in [-1, 1], the paper) or "none" (raw maps,
            which the warp-and-refine variant turns into a flow, a mask and colours).
    """

    bottleneck_size: int = 32
    bottleneck_channels: int = 1024
    start_resolution: int = 64
    final_resolution: int = 1024
    pose_sigma: float = 3.2
    image_channels: int = 3
    image_skip: bool = False
    output_channels: int | None = None
    output_activation: str = "tanh"

    def __post_init__(self) -> None:
        for name in ("bottleneck_size", "start_resolution", "final_resolution"):
            if not _is_power_of_two(getattr(self, name)):
                raise ValueError(f"{name} must be a power of two, got {getattr(self, name)}")
        if not self.bottleneck_size < self.start_resolution <= self.final_resolution:
            raise ValueError(
                "need bottleneck_size < start_resolution <= final_resolution, got "
                f"{self.bottleneck_size}, {self.start_resolution}, {self.final_resolution}"
            )
        if self.bottleneck_channels * self.bottleneck_size % (2 * self.final_resolution):
            raise ValueError(
                "bottleneck_channels * bottleneck_size must be divisible by 2 * final_resolution "
                "so every level (and its from-RGB layer) gets a whole number of channels"
            )
        if self.pose_sigma <= 0:
            raise ValueError(f"pose_sigma must be positive, got {self.pose_sigma}")
        if self.output_activation not in ("tanh", "none"):
            raise ValueError(
                f"output_activation must be 'tanh' or 'none', got {self.output_activation!r}"
            )
        if self.image_skip and (
            self.out_channels != self.image_channels or self.output_activation != "tanh"
        ):
            raise ValueError(
                "image_skip needs an image output (output_channels = image_channels, tanh)"
            )

    @property
    def out_channels(self) -> int:
        """Channels the network writes (``output_channels`` or ``image_channels``)."""
        return self.output_channels or self.image_channels

    @classmethod
    def paper(cls) -> HPNConfig:
        """The paper: bottleneck 1024 x 32 x 32, 64^2 -> 1024^2 (512, 256, 128, 64, 32 ch)."""
        return cls()

    @classmethod
    def small(cls) -> HPNConfig:
        """Same rules, CPU-sized: bottleneck 256 x 16 x 16, 64^2 -> 256^2 (64, 32, 16 ch).

        The 16 x 16 bottleneck keeps the paper's ratio "start resolution = 2 x bottleneck" one
        level lower (64 -> 16 is two pooling steps, like 128 -> 32 in the paper), and
        pose_sigma 1.6 keeps the paper's Gaussian width relative to the grid (3.2 / 32).
        """
        return cls(
            bottleneck_size=16,
            bottleneck_channels=256,
            start_resolution=64,
            final_resolution=256,
            pose_sigma=1.6,
        )

    @classmethod
    def tiny(cls) -> HPNConfig:
        """Same rules, for tests and the Table 1 ablation on CPU: 128 x 8 x 8, 32^2 -> 128^2.

        Widths 64, 32, 16, 8 at 16, 32, 64, 128; pose_sigma 0.8 (3.2 / 32 of the 8-cell grid).
        """
        return cls(
            bottleneck_size=8,
            bottleneck_channels=128,
            start_resolution=32,
            final_resolution=128,
            pose_sigma=0.8,
        )

    def channels(self, resolution: int) -> int:
        """Feature width at ``resolution`` (channels halve as the resolution doubles)."""
        return self.bottleneck_channels * self.bottleneck_size // resolution

    def levels(self) -> tuple[int, ...]:
        """Every resolution the model can be trained at, from start to final."""
        count = int(math.log2(self.final_resolution // self.start_resolution)) + 1
        return tuple(self.start_resolution << index for index in range(count))


def _add_in_tanh_space(image: torch.Tensor, correction: torch.Tensor) -> torch.Tensor:
    """``tanh(atanh(image) + atanh(correction))`` by tanh's addition formula.

    Stays in (-1, 1) with gradients everywhere and needs no ``atanh``, which the ONNX
    exporter lacks. The image is clamped just inside +-1 so the denominator never reaches 0.
    """
    image = image.clamp(-IMAGE_SKIP_LIMIT, IMAGE_SKIP_LIMIT)
    return (image + correction) / (1 + image * correction)


class ConvBlock(nn.Sequential):
    """2 x (3x3 conv, BatchNorm, LeakyReLU 0.2): the paper's block."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.LeakyReLU(LEAKY_SLOPE),
        )


def he_init(module: nn.Module, gain_slope: float = LEAKY_SLOPE) -> None:
    """Kaiming-normal (fan-in) weights for the convs of ``module``, zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, a=gain_slope, nonlinearity="leaky_relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


class HPN(PretrainedMixin, nn.Module):
    """Progressive pose-transfer U-Net: ``forward(image, pose_maps) -> image``.

    Shapes:
        image: (N, 3, R, R) in [-1, 1] with R = ``model.resolution``.
        pose_maps: (N, 18, B, B) with B = ``config.bottleneck_size``
            (:func:`core.posemaps.pose_maps_batch` with ``config.pose_sigma``).
        output: (N, 3, R, R) in [-1, 1].
    """

    model_type = "hpn"
    config_class = HPNConfig

    def __init__(self, config: HPNConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = nn.ModuleDict()
        self.decoder = nn.ModuleDict()
        bottleneck = config.bottleneck_size
        self.bottleneck_encoder = ConvBlock(
            config.channels(2 * bottleneck), config.channels(bottleneck)
        )
        self.bottleneck_decoder = ConvBlock(
            config.channels(bottleneck) + NUM_KEYPOINTS, config.channels(bottleneck)
        )
        he_init(self)
        self.resolution = bottleneck
        self.from_rgb: nn.Conv2d
        self.to_rgb: nn.Conv2d
        while self.resolution < config.start_resolution:
            self._add_level()

    @property
    def pose_map_size(self) -> int:
        """Side of the pose maps ``forward`` expects (the bottleneck size)."""
        return self.config.bottleneck_size

    def _add_level(self) -> None:
        resolution = self.resolution * 2
        channels, coarser = self.config.channels(resolution), self.config.channels(resolution // 2)
        encoder = ConvBlock(self.config.channels(2 * resolution), channels)
        decoder = ConvBlock(coarser + channels, channels)
        from_rgb = nn.Conv2d(self.config.image_channels, self.config.channels(2 * resolution), 1)
        to_rgb = nn.Conv2d(channels, self.config.out_channels, 1)
        for module in (encoder, decoder, from_rgb):
            he_init(module)
        if self.config.image_skip:
            nn.init.zeros_(to_rgb.weight)
        else:
            nn.init.kaiming_normal_(to_rgb.weight, nonlinearity="linear")
        nn.init.zeros_(to_rgb.bias)
        reference = next(self.bottleneck_encoder.parameters())
        self.encoder[str(resolution)] = encoder.to(reference.device, reference.dtype)
        self.decoder[str(resolution)] = decoder.to(reference.device, reference.dtype)
        self.from_rgb = from_rgb.to(reference.device, reference.dtype)
        self.to_rgb = to_rgb.to(reference.device, reference.dtype)
        self.resolution = resolution

    def grow(self) -> None:
        """Add the next level: new encoder/decoder blocks and new 1x1 RGB layers, no fade-in.

        Older blocks keep their weights and stay trainable; the previous level's 1x1 layers
        are replaced. Build a new optimizer (or add the new parameters) after growing.
        """
        if self.resolution >= self.config.final_resolution:
            raise ValueError(
                f"the model is already at its final resolution {self.config.final_resolution}; "
                "raise final_resolution in HPNConfig to grow further"
            )
        self._add_level()

    def grow_to(self, resolution: int) -> None:
        """Grow level by level until ``resolution`` (a level of the config)."""
        if resolution not in self.config.levels():
            raise ValueError(f"resolution {resolution} is not a level of {self.config.levels()}")
        if resolution < self.resolution:
            raise ValueError(f"cannot shrink from {self.resolution} to {resolution}")
        while self.resolution < resolution:
            self.grow()

    def architecture_state(self) -> dict[str, Any]:
        return {"resolution": self.resolution}

    @classmethod
    def from_architecture_state(cls, config: HPNConfig, state: dict[str, Any]) -> Self:
        model = cls(config)
        model.grow_to(int(state.get("resolution", config.start_resolution)))
        return model

    def _check_inputs(self, image: torch.Tensor, pose_maps: torch.Tensor) -> None:
        size, channels = self.resolution, self.config.image_channels
        if image.ndim != 4 or image.shape[1] != channels or tuple(image.shape[2:]) != (size, size):
            raise ValueError(
                f"image must be (N, {channels}, {size}, {size}) at the model's current level; "
                f"got {tuple(image.shape)}: resize the input to {size}x{size} "
                f"(or grow/load a model of the input's resolution)"
            )
        bottleneck = self.config.bottleneck_size
        expected = (image.shape[0], NUM_KEYPOINTS, bottleneck, bottleneck)
        if tuple(pose_maps.shape) != expected:
            raise ValueError(
                f"pose_maps must be {expected} (18 Gaussian maps at the bottleneck size); got "
                f"{tuple(pose_maps.shape)}: build them with hpn.pose_maps_batch(keypoints, "
                f"{bottleneck}, sigma={self.config.pose_sigma}, image_size=({size}, {size}))"
            )

    def forward(self, image: torch.Tensor, pose_maps: torch.Tensor) -> torch.Tensor:
        self._check_inputs(image, pose_maps)
        hidden = self.from_rgb(image)
        skips: list[torch.Tensor] = []
        for resolution in self._resolutions_top_down():
            hidden = self.encoder[str(resolution)](hidden)
            skips.append(hidden)
            hidden = F.avg_pool2d(hidden, kernel_size=2)
        hidden = self.bottleneck_encoder(hidden)
        hidden = self.bottleneck_decoder(torch.cat([hidden, pose_maps.to(hidden.dtype)], dim=1))
        for resolution in reversed(self._resolutions_top_down()):
            hidden = F.interpolate(hidden, scale_factor=2.0, mode="nearest")
            hidden = self.decoder[str(resolution)](torch.cat([hidden, skips.pop()], dim=1))
        output = self.to_rgb(hidden)
        if self.config.output_activation == "tanh":
            output = torch.tanh(output)
        if self.config.image_skip:
            output = _add_in_tanh_space(image, output)
        return output

    def _resolutions_top_down(self) -> list[int]:
        """Resolutions of the encoder blocks, current level first (fixed per level)."""
        return sorted((int(key) for key in self.encoder), reverse=True)
