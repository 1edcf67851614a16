"""The warp: the one place in the project that calls ``grid_sample``.

Every consumer of an appearance flow (the network's feature cascade, its output, the
baselines, the pipeline's compositing) goes through :func:`warp`, so the flow convention
below holds everywhere and cannot drift between training, export and inference.

Convention:
    - ``flow`` has shape (N, 2, H, W); channel 0 is the x (column) offset, channel 1 the
      y (row) offset.
    - Offsets are in normalised units: the image spans [-1, 1] on each axis, so an offset of
      ``2 / W`` moves the sampling point one pixel to the right. The same flow therefore
      means the same geometry at any resolution, which is what lets the coarse-to-fine
      cascade (and a model trained at 128 and run at 512) upsample a flow without rescaling.
    - The output pixel (i, j) samples the input at ``identity(i, j) + flow[:, :, i, j]``
      (backward warping: for each output pixel, where to read in the source).
    - :data:`ALIGN_CORNERS` is ``False``: -1 and 1 are the outer edges of the border pixels
      and pixel centres sit at ``(2 k + 1) / size - 1``. The identity grid uses the same
      convention, so a zero flow reproduces the input (bit-exactly when H and W are powers
      of two, to float rounding otherwise).
    - Sampling is bilinear; outside the source the result is zero (:data:`PADDING_MODE`).
      For an image in [-1, 1] zero is mid-grey, so never composite the warped garment
      directly: warp the garment mask with the same flow and composite with it (the warped
      mask is zero wherever the garment is undefined).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ALIGN_CORNERS = False
PADDING_MODE = "zeros"
SAMPLING_MODE = "bilinear"


def identity_grid(
    height: int | torch.Tensor,
    width: int | torch.Tensor,
    dtype: torch.dtype = torch.float32,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The sampling grid that reproduces an image: pixel centres in normalised units.

    Built with ``arange`` from the sizes (not ``affine_grid``, whose ONNX op needs opset 20)
    so that a traced/exported graph computes it from the input's shape and keeps H, W
    dynamic.

    Args:
        height: rows H (a Python int, or a 0-d tensor while tracing).
        width: columns W.
        dtype: floating dtype of the grid.
        device: device of the grid.

    Returns:
        Tensor (1, 2, H, W): channel 0 holds x, channel 1 holds y, in [-1, 1].
    """
    xs = (torch.arange(width, dtype=dtype, device=device) * 2 + 1) / width - 1
    ys = (torch.arange(height, dtype=dtype, device=device) * 2 + 1) / height - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((grid_x, grid_y), dim=0).unsqueeze(0)


def _check_warp_inputs(image: torch.Tensor, flow: torch.Tensor) -> None:
    if torch.jit.is_tracing():  # the example inputs were checked eagerly; keep the graph clean
        return
    if image.ndim != 4:
        raise ValueError(f"image must be (N, C, H, W), got shape {tuple(image.shape)}")
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"flow must be (N, 2, H, W) with x then y offsets, got shape {tuple(flow.shape)}"
        )
    if image.shape[0] != flow.shape[0]:
        raise ValueError(
            f"image batch {image.shape[0]} and flow batch {flow.shape[0]} differ; "
            "pass one flow per image"
        )
    if not (image.is_floating_point() and flow.is_floating_point()):
        raise ValueError(
            f"image and flow must be floating point, got {image.dtype} and {flow.dtype}"
        )


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp ``image`` by the appearance ``flow`` (see the module's Convention).

    Args:
        image: the source (a garment photo, its mask, or feature maps), any channel count.
        flow: per-output-pixel offsets in normalised units, x then y.

    Returns:
        The warped image, zero where the sampling point falls outside the source.

    Shapes:
        image (N, C, H_in, W_in); flow (N, 2, H, W); output (N, C, H, W). The output takes
        the flow's size, so a full-resolution flow can read a source of another size.
    """
    _check_warp_inputs(image, flow)
    height, width = flow.shape[-2], flow.shape[-1]
    grid = identity_grid(height, width, dtype=flow.dtype, device=flow.device) + flow
    return F.grid_sample(
        image.to(flow.dtype),
        grid.permute(0, 2, 3, 1),
        mode=SAMPLING_MODE,
        padding_mode=PADDING_MODE,
        align_corners=ALIGN_CORNERS,
    )


def flow_from_pixel_coordinates(
    source_xy: torch.Tensor, source_height: int, source_width: int
) -> torch.Tensor:
    """The flow that samples given source pixel coordinates (how classical warps become flows).

    Args:
        source_xy: for each output pixel, the (x, y) position to read in the source, in
            pixels of the source with pixel centres at integers (OpenCV's ``remap`` maps).
        source_height: rows of the source image.
        source_width: columns of the source image.

    Returns:
        The flow for :func:`warp`, same shape as ``source_xy``.

    Shapes:
        source_xy (N, 2, H, W), x then y; output (N, 2, H, W).
    """
    if source_xy.ndim != 4 or source_xy.shape[1] != 2:
        raise ValueError(f"source_xy must be (N, 2, H, W), got shape {tuple(source_xy.shape)}")
    if source_height <= 0 or source_width <= 0:
        raise ValueError(f"source size must be positive, got {source_height}x{source_width}")
    scale = torch.tensor([source_width, source_height], dtype=source_xy.dtype)
    normalised = (source_xy * 2 + 1) / scale.view(1, 2, 1, 1).to(source_xy.device) - 1
    height, width = source_xy.shape[-2:]
    return normalised - identity_grid(height, width, source_xy.dtype, source_xy.device)
