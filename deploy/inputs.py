"""Example inputs for export, parity checks and benchmarks, drawn from a signature.

Two kinds, because they catch different export bugs:

- :func:`random_inputs`: uniform noise in each tensor's range. Exercises every weight and every
  sampling position (grid_sample reads all over the source), so a wrong op shows up anywhere.
- :func:`real_inputs`: natural-image statistics. scikit-image's astronaut photo (shipped inside
  the scikit-image wheel, nothing is downloaded) resized and cropped per batch item, smooth
  elliptic body-region masks, and Gaussian pose maps of the canonical frontal pose
  (:data:`core.keypoints.DEFAULT_CANONICAL_POSE`). Real inputs
  drive activations into the ranges a trained model sees, where saturation (tanh) and
  accumulated rounding behave differently from noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.keypoints import DEFAULT_CANONICAL_POSE, NUM_KEYPOINTS
from core.posemaps import pose_maps_batch
from deploy.registry import IOSignature, TensorSpec


def random_inputs(signature: IOSignature, batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Uniform noise in each input's range: images in [-1, 1], masks in {0, 1}, maps in [0, 1].

    Args:
        signature: the model's inputs.
        batch: N.
        seed: makes the draw reproducible without touching the global RNG.

    Returns:
        name -> float32 (N, C, H, W) CPU tensor, in the signature's input order.
    """
    generator = torch.Generator().manual_seed(seed)
    inputs = {}
    for spec in signature.inputs:
        values = torch.rand(spec.shape(batch), generator=generator)
        if spec.kind in ("image", "flow"):
            values = values * 2 - 1
        elif spec.kind == "mask":
            values = (values > 0.5).float()
        inputs[spec.name] = values
    return inputs


def real_inputs(signature: IOSignature, batch: int) -> dict[str, torch.Tensor]:
    """Natural inputs: astronaut photo crops, elliptic region masks, frontal-pose maps.

    Args:
        signature: the model's inputs.
        batch: N; each item gets a different crop and mask size, so batch items differ.

    Returns:
        name -> float32 (N, C, H, W) CPU tensor, in the signature's input order.
    """
    inputs = {}
    mask_count = 0
    for spec in signature.inputs:
        if spec.kind == "image":
            inputs[spec.name] = _astronaut_crops(spec, batch)
        elif spec.kind == "mask":
            # Successive masks (garment region, then target region) get different shapes so a
            # flow net has something to warp.
            inputs[spec.name] = _ellipse_masks(spec, batch, mask_count)
            mask_count += 1
        elif spec.kind == "pose_maps":
            inputs[spec.name] = _frontal_pose_maps(spec, batch)
        else:
            raise ValueError(f"no real example for a {spec.kind!r} input ({spec.name})")
    return inputs


def _astronaut_crops(spec: TensorSpec, batch: int) -> torch.Tensor:
    from skimage.data import astronaut

    photo = torch.from_numpy(astronaut()).permute(2, 0, 1).float() / 127.5 - 1.0
    side = photo.shape[-1]
    crops = []
    for item in range(batch):
        crop = side - 48 * (item % 4)
        offset = (side - crop) // 2
        window = photo[None, :, offset : offset + crop, offset : offset + crop]
        size = (spec.height, spec.width)
        crops.append(F.interpolate(window, size=size, mode="bilinear", antialias=True))
    return torch.cat(crops)[:, : spec.channels].clamp(-1, 1)


def _ellipse_masks(spec: TensorSpec, batch: int, variant: int) -> torch.Tensor:
    ys = torch.linspace(-1, 1, spec.height).view(-1, 1)
    xs = torch.linspace(-1, 1, spec.width).view(1, -1)
    masks = []
    for item in range(batch):
        half_width = 0.45 + 0.05 * ((item + variant) % 3) - 0.1 * variant
        half_height = 0.55 + 0.05 * (item % 2) + 0.1 * variant
        centre_y = 0.05 * variant
        inside = (xs / half_width) ** 2 + ((ys - centre_y) / half_height) ** 2 <= 1.0
        masks.append(inside.float().expand(spec.channels, -1, -1))
    return torch.stack(masks)


def _frontal_pose_maps(spec: TensorSpec, batch: int) -> torch.Tensor:
    """Maps of the frontal pose on a square grid, stretched to H x W (keypoints are fractions)."""
    if spec.channels != NUM_KEYPOINTS:
        raise ValueError(f"real pose maps are 18 COCO-18 maps; {spec.name} has {spec.channels}")
    size = max(spec.height, spec.width)
    keypoints = torch.from_numpy(DEFAULT_CANONICAL_POSE.in_frame(size))
    shifts = torch.tensor([[0.02 * (item % 3) * size, 0.0] for item in range(batch)])
    points = keypoints[None] + shifts[:, None, :]
    maps = pose_maps_batch(points, size, sigma=max(size / 10.0, 1.0))
    if (spec.height, spec.width) == (size, size):
        return maps
    return F.interpolate(maps, size=(spec.height, spec.width), mode="bilinear")
