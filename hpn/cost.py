"""Parameter counts, forward FLOPs per level and CPU forward time of an HPN config.

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` on the meta device
(no memory is allocated, so the paper preset at 1024^2 is cheap to measure). The counter
covers convolutions and matrix products (2 FLOPs per multiply-add); BatchNorm, activations,
pooling and upsampling are not counted (they are a few percent at most).
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from core.posemaps import pose_maps_batch
from hpn.model import HPN, HPNConfig


@dataclasses.dataclass(frozen=True)
class LevelCost:
    """Size and forward cost of the model at one level, for one image."""

    resolution: int
    parameters: int
    forward_flops: int


def level_costs(config: HPNConfig) -> list[LevelCost]:
    """Parameters and forward FLOPs (batch 1) at every level of ``config``, on the meta device."""
    costs = []
    with torch.device("meta"):
        model = HPN(config).eval()
        for resolution in config.levels():
            model.grow_to(resolution)
            image = torch.zeros(1, config.image_channels, resolution, resolution)
            maps = torch.zeros(1, 18, config.bottleneck_size, config.bottleneck_size)
            with FlopCounterMode(display=False) as counter:
                model(image, maps)
            parameters = sum(parameter.numel() for parameter in model.parameters())
            costs.append(LevelCost(resolution, parameters, counter.get_total_flops()))
    return costs


def time_forward(
    config: HPNConfig, resolution: int, batch_size: int = 1, repeats: int = 5
) -> dict[str, float]:
    """Median and min wall time (s) of an eval-mode CPU forward at ``resolution``.

    Returns:
        ``{"median_s", "min_s", "threads"}`` after one warm-up pass.
    """
    model = HPN(config)
    model.grow_to(resolution)
    model.eval()
    image = torch.rand(batch_size, config.image_channels, resolution, resolution) * 2 - 1
    keypoints = torch.rand(batch_size, 18, 2) * (resolution - 1)
    maps = pose_maps_batch(
        keypoints, config.bottleneck_size, config.pose_sigma, (resolution, resolution)
    )
    timings = []
    with torch.inference_mode():
        model(image, maps)
        for _ in range(repeats):
            start = time.perf_counter()
            model(image, maps)
            timings.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(timings),
        "min_s": min(timings),
        "threads": float(torch.get_num_threads()),
    }
