"""Conversions between the library's image tensors and uint8 pixels, used only at the edges.

Convention: inside the library an image is a float tensor in [-1, 1], NCHW (or CHW), RGB.
uint8 arrays are HxWx3 RGB.
"""

from __future__ import annotations

import numpy as np
import torch


def uint8_to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 (or HxW) uint8 RGB -> 3xHxW (or 1xHxW) float tensor in [-1, 1]."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"expected an HxWxC image, got shape {array.shape}")
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float()
    return tensor / 127.5 - 1.0


def tensor_to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """3xHxW (or 1x3xHxW) float tensor in [-1, 1] -> HxWx3 uint8 RGB (values are clipped)."""
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected a single image, got a batch of {tensor.shape[0]}")
        tensor = tensor[0]
    if tensor.ndim != 3:
        raise ValueError(f"expected a CxHxW tensor, got shape {tuple(tensor.shape)}")
    pixels = ((tensor.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round()
    return pixels.to(torch.uint8).permute(1, 2, 0).numpy()


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """HxW bool/uint8 mask -> 1xHxW float tensor in {0, 1} (nonzero counts as inside)."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"expected an HxW mask, got shape {array.shape}")
    return torch.from_numpy((array > 0).astype(np.float32))[None]
