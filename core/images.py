"""The image convention, its conversions at the edges, and image grids.

Convention: inside the library an image is a float tensor in [-1, 1], NCHW (or CHW), RGB.
uint8 arrays are HxWx3 RGB. Conversion to and from uint8 / PIL / OpenCV BGR happens only at the
edges (I/O and UI), through the functions here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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


def as_uint8_image(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """An HxWx3 uint8 RGB array from uint8 HxWx3 or a (3, H, W) / (1, 3, H, W) [-1, 1] tensor."""
    if torch.is_tensor(image):
        return tensor_to_uint8(image)
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(
            f"expected a uint8 HxWx3 RGB array or a [-1, 1] (3, H, W) tensor; got "
            f"{array.dtype} {array.shape} (convert floats with core.images.tensor_to_uint8)"
        )
    return array


def save_image_grid(
    rows: Sequence[torch.Tensor | Sequence[torch.Tensor]], path: str | Path, padding: int = 2
) -> Path:
    """Write rows of images in [-1, 1] as one PNG (white gaps between cells), atomically.

    Args:
        rows: each row is an (N, 3, H, W) tensor or a sequence of (3, H, W) / (1, 3, H, W)
            tensors. Rows may differ in length (short rows are left blank at the end); every
            image must share one (H, W) (resize first if needed). Grayscale (1 channel) images
            are repeated to RGB.
        path: the PNG to write (parent directories are created).
        padding: gap in pixels between cells.

    Returns:
        ``path``.

    Shapes:
        output PNG: (rows * (H + padding) + padding) x (columns * (W + padding) + padding).
    """
    from PIL import Image

    from core.files import atomic_open

    cells = [[_as_chw(image) for image in row] for row in rows]
    if not cells or not any(cells):
        raise ValueError("save_image_grid needs at least one image")
    sizes = {tuple(image.shape[1:]) for row in cells for image in row}
    if len(sizes) != 1:
        raise ValueError(f"every image of a grid must share one (H, W); got {sorted(sizes)}")
    height, width = sizes.pop()
    columns = max(len(row) for row in cells)
    canvas = np.full(
        (len(cells) * (height + padding) + padding, columns * (width + padding) + padding, 3),
        255,
        dtype=np.uint8,
    )
    for r, row in enumerate(cells):
        for c, image in enumerate(row):
            top, left = padding + r * (height + padding), padding + c * (width + padding)
            pixels = ((image.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
            canvas[top : top + height, left : left + width] = pixels.permute(1, 2, 0).numpy()
    path = Path(path)
    with atomic_open(path) as stream:
        Image.fromarray(canvas).save(stream, format="PNG")
    return path


def _as_chw(image: torch.Tensor) -> torch.Tensor:
    image = image.detach().float().cpu()
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"grid images must be (3, H, W) or (1, H, W), got {tuple(image.shape)}")
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image
