"""Flow fields as colour images (the HSV colour wheel of optical-flow papers), for sample grids.

Hue is the direction the output pixel reads from (0° = to the right, counter-clockwise on
screen), saturation the displacement relative to the largest one shown, value is 1: a zero
flow is white.
"""

from __future__ import annotations

import math

import torch


def flow_to_rgb(flow: torch.Tensor, max_magnitude: float | None = None) -> torch.Tensor:
    """Colour-code a flow with the HSV wheel.

    Args:
        flow: flow in the convention of :mod:`flow.warp` (any units: only ratios matter).
        max_magnitude: the magnitude drawn fully saturated; default: the largest in each
            image (so every image uses the whole wheel).

    Returns:
        RGB images in [-1, 1], ready for ``core.images.save_image_grid``.

    Shapes:
        flow (N, 2, H, W); output (N, 3, H, W).
    """
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (N, 2, H, W), got shape {tuple(flow.shape)}")
    if max_magnitude is not None and max_magnitude <= 0:
        raise ValueError(f"max_magnitude must be positive, got {max_magnitude}")
    flow = flow.detach().float()
    dx, dy = flow[:, 0:1], flow[:, 1:2]
    magnitude = torch.sqrt(dx.square() + dy.square())
    scale = (
        torch.full_like(magnitude[:, :, :1, :1], max_magnitude)
        if max_magnitude is not None
        else magnitude.amax(dim=(2, 3), keepdim=True)
    )
    saturation = (magnitude / scale.clamp_min(1e-12)).clamp(0, 1)
    hue_sixths = (torch.atan2(-dy, dx) % (2 * math.pi)) / (2 * math.pi) * 6
    channels = []
    for offset in (5.0, 3.0, 1.0):  # R, G, B of the standard HSV -> RGB formula, V = 1
        k = (offset + hue_sixths) % 6
        ramp = torch.minimum(torch.minimum(k, 4 - k), torch.ones_like(k)).clamp_min(0)
        channels.append(1 - saturation * ramp)
    return torch.cat(channels, dim=1) * 2 - 1
