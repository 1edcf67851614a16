"""Pose representation (paper §3.1, eq. 1): one Gaussian map per COCO-18 keypoint.

``P(x; k) = exp(-||x - u(k)||^2 / (2 sigma^2))`` on a ``size x size`` grid whose cell
centres sit at integer coordinates 0 .. size-1, so ``map[k, y, x]`` is exactly 1 at a
keypoint that lies on a cell centre. ``sigma`` is measured in grid cells: the paper's 3.2
belongs to its 32 x 32 bottleneck (a tenth of the grid side). A missing (NaN) keypoint gives
an all-zero map, so "no evidence" never looks like "a joint at the origin".

Keypoints arrive either in grid cells already, or as pixel (x, y) of an image of
``image_size = (height, width)``; those are rescaled pixel-centre to pixel-centre, like
:func:`core.keypoints.scale_keypoints`: ``x_grid = (x + 0.5) * size / width - 0.5``.
"""

from __future__ import annotations

import numpy as np
import torch

from core.keypoints import NUM_KEYPOINTS

DEFAULT_SIGMA = 3.2


def pose_maps(
    keypoints: np.ndarray | torch.Tensor,
    size: int,
    sigma: float = DEFAULT_SIGMA,
    image_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Gaussian pose maps of one person.

    Args:
        keypoints: (18, 2) float (x, y), NaN for missing; in grid cells, or in pixels of an
            image of ``image_size``.
        size: side of the square grid (the model's bottleneck size, e.g. 32).
        sigma: Gaussian standard deviation in grid cells (3.2 in the paper, at 32 x 32).
        image_size: (height, width) of the image the pixel keypoints belong to; None when the
            keypoints are already grid coordinates.

    Returns:
        (18, size, size) float32 tensor in [0, 1].
    """
    points = torch.as_tensor(np.asarray(keypoints) if not torch.is_tensor(keypoints) else keypoints)
    if points.shape != (NUM_KEYPOINTS, 2):
        raise ValueError(
            f"keypoints must have shape (18, 2) (x, y per COCO-18 joint, NaN if missing); "
            f"got {tuple(points.shape)}; use pose_maps_batch for (N, 18, 2)"
        )
    return pose_maps_batch(points[None], size, sigma, image_size)[0]


def pose_maps_batch(
    keypoints: torch.Tensor,
    size: int,
    sigma: float = DEFAULT_SIGMA,
    image_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Gaussian pose maps of a batch (what the trainer and the pipeline feed the model).

    Args:
        keypoints: (N, 18, 2) float (x, y), NaN for missing, on any device.
        size: side of the square grid.
        sigma: Gaussian standard deviation in grid cells.
        image_size: (height, width) of the images, or None if keypoints are grid cells.

    Returns:
        (N, 18, size, size) float32 tensor on the keypoints' device.
    """
    if size <= 0:
        raise ValueError(f"size must be a positive grid side, got {size}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive (grid cells), got {sigma}")
    if keypoints.ndim != 3 or keypoints.shape[1:] != (NUM_KEYPOINTS, 2):
        raise ValueError(
            f"keypoints must have shape (N, 18, 2) with (x, y) per COCO-18 joint; "
            f"got {tuple(keypoints.shape)}"
        )
    points = keypoints.detach().float()
    if image_size is not None:
        height, width = image_size
        if height <= 0 or width <= 0:
            raise ValueError(f"image_size must be a positive (height, width), got {image_size}")
        scale = points.new_tensor([size / width, size / height])
        points = (points + 0.5) * scale - 0.5
    present = ~torch.isnan(points).any(dim=-1)  # (N, 18)
    points = torch.nan_to_num(points, nan=0.0)
    axis = torch.arange(size, dtype=torch.float32, device=points.device)
    dx2 = (axis.view(1, 1, 1, size) - points[..., 0, None, None]) ** 2  # (N, 18, 1, size)
    dy2 = (axis.view(1, 1, size, 1) - points[..., 1, None, None]) ** 2  # (N, 18, size, 1)
    maps = torch.exp(-(dx2 + dy2) / (2.0 * sigma**2))
    return maps * present[..., None, None].float()
