"""HPN's local-SSIM, on the base layer's protocol-B SSIM (:mod:`core.metrics`).

local-SSIM (paper §4.1) is the mean SSIM over the 44 local-descriptor regions centred on the
ground truth's keypoints (:mod:`hpn.local_descriptors`): squares of side ``max(H, W) // 8``,
shifted inside the image at borders like the training crops; regions whose centre is missing
are skipped (if all are missing the score is NaN). A region is small (16 px at 128^2, 32 px
at 256^2), smaller than protocol B's 11 x 11 Gaussian window (sigma 1.5 truncated at 3.5
sigma), so the window side is ``min(11, largest odd number <= side)``; the Gaussian weights
keep sigma 1.5. Regions under 3 pixels cannot be scored and raise.
"""

from __future__ import annotations

import numpy as np
import torch

from core.images import as_uint8_image
from core.metrics import PROTOCOL_B_WINDOW, ssim_batch
from hpn.local_descriptors import local_descriptor_centers, region_windows

LOCAL_SSIM_DESCRIPTORS = 44


def local_window_size(side: int) -> int:
    """SSIM window side for a ``side x side`` region: min(11, the largest odd <= side)."""
    odd = side if side % 2 else side - 1
    if odd < 3:
        raise ValueError(f"regions of {side} px are too small for SSIM; use images >= 24 px")
    return min(PROTOCOL_B_WINDOW, odd)


def local_ssim(
    output: np.ndarray | torch.Tensor,
    target: np.ndarray | torch.Tensor,
    target_keypoints: np.ndarray | torch.Tensor,
) -> float:
    """Mean protocol-B SSIM over the 44 local-descriptor regions of the ground truth.

    Args:
        output, target: images as accepted by :func:`ssim`, same size.
        target_keypoints: (18, 2) pixel (x, y) of ``target``, NaN for missing.

    Returns:
        The mean over regions with a known centre; NaN if no centre is known.
    """
    first, second = as_uint8_image(output), as_uint8_image(target)
    if first.shape != second.shape:
        raise ValueError(f"images differ in size: {first.shape} vs {second.shape}")
    height, width = first.shape[:2]
    side = min(max(height, width) // 8, height, width)
    window = local_window_size(side)
    keypoints = torch.as_tensor(np.asarray(target_keypoints, dtype=np.float32))
    centers = local_descriptor_centers(keypoints, LOCAL_SSIM_DESCRIPTORS)
    left, top, valid = region_windows(centers[None], side, height, width)
    corners = [
        (x, y)
        for x, y, ok in zip(left[0].tolist(), top[0].tolist(), valid[0].tolist(), strict=True)
        if ok
    ]
    if not corners:
        return float("nan")
    output_regions = np.stack([first[y : y + side, x : x + side] for x, y in corners])
    target_regions = np.stack([second[y : y + side, x : x + side] for x, y in corners])
    return float(ssim_batch(output_regions, target_regions, window).mean())
