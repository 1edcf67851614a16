"""Local descriptors (paper §3.2, Fig. 3): square regions around keypoints and along limbs.

Centres (our choice where the paper only shows a figure), always in this order:

- ``n = 18``: the 18 COCO-18 keypoints.
- ``n = 31``: those 18, then the midpoint (t = 1/2) of each of the 13 :data:`DESCRIPTOR_LIMBS`.
- ``n = 44``: those 18, then the points at t = 1/3 and t = 2/3 of each of the 13 limbs
  (limb by limb: 1/3 then 2/3), which spreads the regions evenly along arms, legs and torso.

:data:`DESCRIPTOR_LIMBS` are the body limbs of OpenPose's skeleton (face links left out,
because the 18 keypoints already crowd the face): both upper arms, forearms, thighs, shins,
the two neck-hip torso sides, the two neck-shoulder links and neck-nose. An interpolated point
is missing (NaN) when either end of its limb is missing.

Regions have side ``resolution // 8`` (paper: 1/8 of the image resolution). A window that
would leave the image is shifted to lie inside it (every crop has full size and its content
is still the neighbourhood of the centre); a missing centre yields a crop of the top-left
corner with ``valid = False``, which the losses and metrics weight by zero / skip. Crops are
plain integer indexing of the image, so gradients flow to the cropped pixels (the centres
are ground truth and need none), on CPU deterministically.
"""

from __future__ import annotations

import numpy as np
import torch

from core.keypoints import NUM_KEYPOINTS

DESCRIPTOR_LIMBS: tuple[tuple[int, int], ...] = (
    (2, 3), (3, 4), (5, 6), (6, 7),  # right upper arm, forearm; left upper arm, forearm
    (8, 9), (9, 10), (11, 12), (12, 13),  # right thigh, shin; left thigh, shin
    (1, 8), (1, 11),  # torso sides (neck to hips)
    (1, 2), (1, 5), (1, 0),  # neck to shoulders, neck to nose
)  # fmt: skip

DESCRIPTOR_COUNTS: tuple[int, ...] = (18, 31, 44)
_FRACTIONS: dict[int, tuple[float, ...]] = {18: (), 31: (0.5,), 44: (1.0 / 3.0, 2.0 / 3.0)}


def descriptor_count_for_resolution(resolution: int) -> int:
    """The paper's count by level: 18 up to 128^2, 31 up to 512^2, 44 above (1024^2)."""
    if resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    if resolution <= 128:
        return 18
    if resolution <= 512:
        return 31
    return 44


def region_side(resolution: int) -> int:
    """Side of a local region in pixels: 1/8 of the image resolution (at least 1)."""
    return max(1, resolution // 8)


def local_descriptor_centers(
    keypoints: np.ndarray | torch.Tensor, n: int
) -> np.ndarray | torch.Tensor:
    """Centres of the ``n`` local descriptors (see the module docstring for which points).

    Args:
        keypoints: (..., 18, 2) float (x, y) pixels, NaN for missing (numpy or torch).
        n: 18, 31 or 44.

    Returns:
        (..., n, 2) of the same type, dtype and device; NaN where a centre is missing.
    """
    if n not in _FRACTIONS:
        raise ValueError(f"n must be one of {DESCRIPTOR_COUNTS} (the paper's counts), got {n}")
    if keypoints.shape[-2:] != (NUM_KEYPOINTS, 2):
        raise ValueError(
            f"keypoints must have shape (..., 18, 2) in COCO-18 order; got {tuple(keypoints.shape)}"
        )
    if not torch.is_tensor(keypoints):
        array = np.asarray(keypoints, dtype=np.float32)
        return local_descriptor_centers(torch.from_numpy(array), n).numpy()
    points = [keypoints]
    starts = keypoints[..., [a for a, _ in DESCRIPTOR_LIMBS], :]
    ends = keypoints[..., [b for _, b in DESCRIPTOR_LIMBS], :]
    fractions = _FRACTIONS[n]
    if fractions:
        along = torch.stack([starts + t * (ends - starts) for t in fractions], dim=-2)
        points.append(along.flatten(-3, -2))  # limb by limb: (..., 13 * len(fractions), 2)
    return torch.cat(points, dim=-2)


def region_windows(
    centers: torch.Tensor, side: int, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-left corners of the ``side x side`` windows around ``centers``, kept in the image.

    The window of a centre at pixel (x, y) spans columns ``round(x) - side // 2`` onwards,
    then is shifted (clamped) so it lies fully inside the ``height x width`` image.

    Args:
        centers: (N, D, 2) float (x, y) pixels, NaN for missing.
        side: window side in pixels (<= min(height, width)).
        height, width: image size.

    Returns:
        ``(left, top, valid)``: (N, D) int64 columns and rows of the top-left corners, and a
        (N, D) bool mask that is False for missing centres (whose window is the corner).
    """
    if not 0 < side <= min(height, width):
        raise ValueError(f"region side {side} must be in [1, {min(height, width)}] for the image")
    valid = ~torch.isnan(centers).any(dim=-1)
    safe = torch.nan_to_num(centers.detach().float(), nan=0.0)
    corner = torch.floor(safe + 0.5).long() - side // 2
    left = corner[..., 0].clamp(0, width - side)
    top = corner[..., 1].clamp(0, height - side)
    left = torch.where(valid, left, torch.zeros_like(left))
    top = torch.where(valid, top, torch.zeros_like(top))
    return left, top, valid


def crop_regions(
    images: torch.Tensor, centers: torch.Tensor, side: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable batched crops of ``side x side`` regions around ``centers``.

    Args:
        images: (N, C, H, W).
        centers: (N, D, 2) float (x, y) pixels of those images, NaN for missing.
        side: region side in pixels (use :func:`region_side`).

    Returns:
        ``(crops, valid)``: (N, D, C, side, side) crops and the (N, D) bool validity mask.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    batch, _, height, width = images.shape
    if centers.ndim != 3 or centers.shape[0] != batch or centers.shape[-1] != 2:
        raise ValueError(
            f"centers must be (N, D, 2) with N = {batch} images; got {tuple(centers.shape)}"
        )
    left, top, valid = region_windows(centers.to(images.device), side, height, width)
    offsets = torch.arange(side, device=images.device)
    rows = (top[..., None] + offsets)[..., :, None]  # (N, D, side, 1)
    cols = (left[..., None] + offsets)[..., None, :]  # (N, D, 1, side)
    sample = torch.arange(batch, device=images.device).view(batch, 1, 1, 1)
    crops = images.permute(0, 2, 3, 1)[sample, rows, cols]  # (N, D, side, side, C)
    return crops.permute(0, 1, 4, 2, 3), valid
